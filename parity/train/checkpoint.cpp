#include "parity/train/checkpoint.h"

#include <nlohmann/json.hpp>

#include <map>

#include "parity/io/safetensors.h"
#include "parity/tensor/error.h"

namespace parity::train {

namespace {

using json = nlohmann::json;
constexpr int kCheckpointVersion = 1;
const std::string kModel = "model/";
const std::string kOptimizer = "optimizer/";

std::string state_key(std::size_t group, std::size_t param, const std::string& key) {
  return kOptimizer + std::to_string(group) + "/" + std::to_string(param) + "/" + key;
}

const std::string& metadata(const io::SafeTensors& file, const std::string& key, const std::string& path) {
  const auto it = file.metadata.find(key);
  PARITY_CHECK(it != file.metadata.end(), "load_checkpoint: ", path, " has no '", key,
               "' metadata: not a checkpoint written by save_checkpoint");
  return it->second;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     std::int64_t step, const std::vector<const Generator*>& generators) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : model.state_dict()) tensors[kModel + name] = t;
  const optim::StateDict state = optimizer.state_dict();
  json opt = {{"version", state.version}, {"optimizer", state.optimizer}, {"preset", state.preset},
              {"steps", state.steps}, {"groups", json::array()}};
  for (std::size_t g = 0; g < state.groups.size(); ++g) {
    json group = {{"hparams", state.groups[g].hparams}, {"params", json::array()}};
    for (std::size_t p = 0; p < state.groups[g].params.size(); ++p) {
      const optim::StateDict::Param& sp = state.groups[g].params[p];
      json keys = json::array();
      for (const auto& [key, t] : sp.tensors) {
        tensors[state_key(g, p, key)] = t;
        keys.push_back(key);
      }
      group["params"].push_back(
          {{"initialized", sp.initialized}, {"step", sp.step}, {"scalars", sp.scalars}, {"tensors", keys}});
    }
    opt["groups"].push_back(std::move(group));
  }
  json gens = json::array();
  for (std::size_t i = 0; i < generators.size(); ++i) {
    PARITY_CHECK(generators[i] != nullptr, "save_checkpoint: generator ", i, " is null");
    gens.push_back({{"seed", generators[i]->seed()}, {"offset", generators[i]->offset()}});
  }
  io::save_safetensors(path, tensors,
                       {{"parity.checkpoint", std::to_string(kCheckpointVersion)},
                        {"parity.step", std::to_string(step)},
                        {"parity.optimizer", opt.dump()},
                        {"parity.generators", gens.dump()}});
}

std::int64_t load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                             const std::vector<Generator*>& generators) {
  const io::SafeTensors file = io::load_safetensors(path);
  const std::string& version = metadata(file, "parity.checkpoint", path);
  PARITY_CHECK(version == std::to_string(kCheckpointVersion), "load_checkpoint: ", path, " is checkpoint format ",
               version, ", this build reads ", kCheckpointVersion);
  std::int64_t step = 0;
  json opt, gens;
  try {
    step = std::stoll(metadata(file, "parity.step", path));
    opt = json::parse(metadata(file, "parity.optimizer", path));
    gens = json::parse(metadata(file, "parity.generators", path));
  } catch (const std::exception& e) {
    PARITY_FAIL("load_checkpoint: ", path, ": unreadable checkpoint metadata (", e.what(), ")");
  }
  PARITY_CHECK(gens.is_array() && gens.size() == generators.size(), "load_checkpoint: ", path, " holds ",
               gens.is_array() ? gens.size() : 0, " generator states, the caller passed ", generators.size());

  // The optimizer's state, rebuilt and checked by load_state_dict (which changes nothing when it throws).
  optim::StateDict state;
  try {
    state.version = opt.at("version").get<int>();
    state.optimizer = opt.at("optimizer").get<std::string>();
    state.preset = opt.at("preset").get<std::string>();
    state.steps = opt.at("steps").get<std::int64_t>();
    for (std::size_t g = 0; g < opt.at("groups").size(); ++g) {
      const json& group = opt.at("groups")[g];
      optim::StateDict::Group out;
      out.hparams = group.at("hparams").get<std::map<std::string, double>>();
      for (std::size_t p = 0; p < group.at("params").size(); ++p) {
        const json& param = group.at("params")[p];
        optim::StateDict::Param sp;
        sp.initialized = param.at("initialized").get<bool>();
        sp.step = param.at("step").get<std::int64_t>();
        sp.scalars = param.at("scalars").get<std::map<std::string, double>>();
        const Device device = g < optimizer.num_groups() && p < optimizer.params(g).size()
                                  ? optimizer.params(g)[p].device()
                                  : Device::cpu();
        for (const json& key : param.at("tensors")) {
          const std::string name = state_key(g, p, key.get<std::string>());
          const auto it = file.tensors.find(name);
          PARITY_CHECK(it != file.tensors.end(), "load_checkpoint: ", path, " lacks the optimizer tensor ", name);
          sp.tensors[key.get<std::string>()] = it->second.to(device);
        }
        out.params.push_back(std::move(sp));
      }
      state.groups.push_back(std::move(out));
    }
  } catch (const json::exception& e) {
    PARITY_FAIL("load_checkpoint: ", path, ": unreadable optimizer state (", e.what(), ")");
  }

  nn::StateDict weights;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind(kModel, 0) == 0) weights[name.substr(kModel.size())] = t;
  }
  // The model's tensors checked here, so that nothing is changed when one does not fit.
  const nn::StateDict current = model.state_dict();
  for (const auto& [name, t] : current) {
    const auto it = weights.find(name);
    PARITY_CHECK(it != weights.end(), "load_checkpoint: ", path, " lacks the model tensor ", name);
    PARITY_CHECK(it->second.shape() == t.shape() && it->second.dtype() == t.dtype(), "load_checkpoint: ", path,
                 ": the model tensor ", name, " is ", it->second.dtype(), " ", to_string(it->second.shape()),
                 " in the file but ", t.dtype(), " ", to_string(t.shape()), " in the model");
  }
  PARITY_CHECK(weights.size() == current.size(), "load_checkpoint: ", path, " holds ", weights.size(),
               " model tensors, the model has ", current.size());
  optimizer.load_state_dict(state);  // checks everything, then commits
  model.load_state_dict(weights);
  for (std::size_t i = 0; i < generators.size(); ++i) {
    PARITY_CHECK(generators[i] != nullptr, "load_checkpoint: generator ", i, " is null");
    generators[i]->manual_seed(gens[i].at("seed").get<std::uint64_t>());
    generators[i]->set_offset(gens[i].at("offset").get<std::uint64_t>());
  }
  return step;
}

}  // namespace parity::train
