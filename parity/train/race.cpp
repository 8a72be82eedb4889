// Note [The TF race]
// Keras 2.0.4's K.function runs a step as one session.run of the updates,
// grouped under the loss: TensorFlow orders only data dependencies. A weight's
// update depends on its gradient, not on the backward ops that read the weight
// to pass the gradient down (dL/dx = δ·Wᵀ; a conv's backward-input), so with
// reference variables that read may see the updated weights. Adam's `iterations`
// is read for t = iterations + 1 while `iterations += 1` runs unordered with it.
// Measured on the real Keras 2.0.4 + TF 2.21 (tools/golden/keras2/seed_raced.py,
// default thread pools, 2 cores): 10 identical runs of the seed at 24x24 give 10
// different SGD and 8 different Adam loss sequences, each batch loss one of a
// few discrete values; with one inter- and one intra-op thread the runs agree
// and equal Theano's. RacedTrainer computes each discrete outcome exactly: the
// backward pass runs layer by layer, and a "late" layer is updated before its
// backward-input is computed, with its new weights.
// The mechanism, measured: TF 1.x's reference variables are assigned in place,
// and the forward pass's read of a weight is an alias of the variable's buffer
// that the backward ops read later. With Keras' variables made resource
// variables (copy-on-write assigns; TF_RESOURCE_VARIABLES=1 in seed_raced.py),
// ten runs of the same default session gave one outcome, for SGD and Adam: no
// late weights at all, and for Adam `iterations` read after its increment at
// every step (the t_ahead preset). So the weights' race is the in-place write
// under a live alias; a read during the write, which TF's assign shards across
// threads, can see part of the update, the likely cause of the raced runs that
// no whole-tensor schedule reproduces (a hypothesis: not modelled).
#include "parity/train/race.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "parity/autograd/grad_mode.h"
#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::train {

std::string to_string(const RacedReads& reads) {
  std::ostringstream out;
  out << "{late weights:";
  if (reads.late_weights.empty()) out << " none";
  for (std::size_t l : reads.late_weights) out << " " << l;
  out << "; iterations " << (reads.late_iterations ? "late" : "in order") << "}";
  return out.str();
}

namespace {

// One optimizer step whose step counter is read one ahead when `late`:
// the counter is advanced before the step and taken back after it.
void step_optimizer(optim::Optimizer& opt, bool late) {
  if (!late) {
    opt.step();
    return;
  }
  auto shift = [&](std::int64_t by) {
    optim::StateDict d = opt.state_dict();
    d.steps += by;
    for (auto& g : d.groups) {
      for (auto& p : g.params) {
        if (p.initialized) p.step += by;
      }
    }
    opt.load_state_dict(d);
  };
  shift(1);
  opt.step();
  shift(-1);
}

}  // namespace

RacedTrainer::RacedTrainer(nn::Sequential& model, const OptimizerMaker& make_optimizer) : model_(model) {
  PARITY_CHECK(model.built(), "RacedTrainer: build the model first");
  for (const auto& [name, child] : model.children()) {
    std::vector<Tensor> params = child->parameters();
    optimizers_.push_back(params.empty() ? nullptr : make_optimizer(std::move(params)));
  }
}

std::vector<std::size_t> RacedTrainer::raceable_layers() const {
  std::vector<std::size_t> out;
  const auto& children = model_.children();
  for (std::size_t i = 1; i < children.size(); ++i) {
    if (children[i].second->state_dict().count("kernel")) out.push_back(i);
  }
  return out;
}

double RacedTrainer::step(const Tensor& xb, const Tensor& yb, const nn::Loss& loss_fn, const RacedReads& reads) {
  const auto& children = model_.children();
  const std::size_t n = children.size();
  for (std::size_t l : reads.late_weights) {
    PARITY_CHECK(l < n && optimizers_[l] != nullptr, "RacedTrainer: layer ", l, " has no weights to read late");
  }
  for (auto& opt : optimizers_) {
    if (opt) opt->zero_grad();
  }
  // Forward: each layer on its own graph, from a leaf copy of its input.
  std::vector<Tensor> xs(n), ys(n);
  Tensor h = xb;
  for (std::size_t i = 0; i < n; ++i) {
    xs[i] = h.detach();
    if (i > 0) xs[i].requires_grad_();
    ys[i] = (*children[i].second)(xs[i]);
    h = ys[i];
  }
  ys[n - 1].retain_grad();
  const Tensor loss = loss_fn(ys[n - 1], yb);
  const double value = loss.item<double>();
  loss.backward();

  // Backward, top down; delta = dL/d(output of layer i).
  Tensor delta = ys[n - 1].grad();
  std::vector<bool> updated(n, false);
  for (std::size_t i = n; i-- > 0;) {
    nn::Module& layer = *children[i].second;
    if (i != n - 1) ys[i].backward(delta);  // layer i's weight gradients and dL/dx_i
    if (reads.late_weights.count(i)) {
      // The weights' update ran before their read by the backward-input.
      step_optimizer(*optimizers_[i], reads.late_iterations);
      updated[i] = true;
      if (i > 0) {
        const Tensor x = xs[i].detach().requires_grad_();
        const Tensor y = layer(x);
        y.backward(delta);
        for (const Tensor& p : layer.parameters()) p.set_grad(Tensor());  // used already
        delta = x.grad();
        continue;
      }
    }
    if (i > 0) delta = xs[i].grad();
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (optimizers_[i] && !updated[i]) step_optimizer(*optimizers_[i], reads.late_iterations);
  }
  return value;
}

struct RacedTrainer::State {
  nn::StateDict weights;
  std::vector<optim::StateDict> optimizers;
};

std::shared_ptr<RacedTrainer::State> RacedTrainer::save() const {
  auto s = std::make_shared<State>();
  for (const auto& [name, t] : model_.state_dict()) s->weights[name] = t.clone();
  for (const auto& opt : optimizers_) {
    optim::StateDict d;
    if (opt) {
      d = opt->state_dict();
      for (auto& g : d.groups) {
        for (auto& p : g.params) {
          for (auto& [k, t] : p.tensors) t = t.clone();
        }
      }
    }
    s->optimizers.push_back(std::move(d));
  }
  return s;
}

void RacedTrainer::restore(const State& s) {
  model_.load_state_dict(s.weights);
  for (std::size_t i = 0; i < optimizers_.size(); ++i) {
    if (optimizers_[i]) optimizers_[i]->load_state_dict(s.optimizers[i]);
  }
}

std::string RaceSearch::summary() const {
  std::ostringstream out;
  if (schedules.empty()) {
    out << "no schedule of late reads reproduces the run: after step " << failed_step << " the real loss is "
        << real_loss << ", the closest reproduced " << closest_loss;
    if (!failed_tensor.empty()) {
      out << "; the weights that part most: " << failed_tensor << " (sum of squares " << failed_tensor_relative
          << " relative)";
    }
    out << "\n";
    return out.str();
  }
  out << schedules.size() << " schedule(s) reproduce every loss:\n";
  for (const RaceSchedule& s : schedules) {
    out << " ";
    for (std::size_t k = 0; k < s.size(); ++k) out << " step " << k + 1 << " " << to_string(s[k]);
    out << "\n";
  }
  return out.str();
}

namespace {

// The parameter whose sum of squares parts most from the real run's.
void locate_tensor(const nn::Sequential& model, const std::vector<std::array<double, 2>>& real, RaceSearch& res) {
  const nn::NamedTensors params = model.named_parameters();
  PARITY_CHECK(real.size() == params.size(), "search_races: weight sums of ", real.size(), " tensors for a model of ",
               params.size());
  res.failed_tensor.clear();
  res.failed_tensor_relative = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor w = params[i].second.detach().to(kFloat64);
    const double sumsq = sum(mul(w, w)).item<double>();
    const double rel = std::abs(sumsq - real[i][1]) / std::max(std::abs(real[i][1]), 1e-300);
    if (res.failed_tensor.empty() || rel > res.failed_tensor_relative) {
      res.failed_tensor = params[i].first;
      res.failed_tensor_relative = rel;
    }
  }
}

}  // namespace

std::vector<RaceSearch> search_races(const std::function<nn::Sequential()>& make_model,
                                     const OptimizerMaker& make_optimizer,
                                     const std::function<void(nn::Sequential&)>& load_weights, const Tensor& x,
                                     const Tensor& y, std::int64_t batch_size,
                                     const std::vector<std::vector<double>>& runs, const nn::Loss& loss,
                                     const RaceSearchOptions& o, const std::vector<WeightSums>* sums) {
  PARITY_CHECK(sums == nullptr || sums->size() == runs.size(), "search_races: ", sums ? sums->size() : 0,
               " weight-sum records for ", runs.size(), " runs");
  PARITY_CHECK(!runs.empty(), "search_races: no runs");
  const std::size_t steps = runs[0].size();
  for (const auto& r : runs) {
    PARITY_CHECK(r.size() == steps && steps >= 2, "search_races: every run needs the same number (>= 2) of losses");
  }
  PARITY_CHECK(x.size(0) >= static_cast<std::int64_t>(steps) * batch_size, "search_races: x has ", x.size(0),
               " samples, fewer than ", steps, " batches of ", batch_size);
  nn::Sequential model = make_model();
  load_weights(model);
  RacedTrainer trainer(model, make_optimizer);
  // Every combination of late weights, with the counter in order (or late).
  std::vector<RacedReads> options;
  const std::vector<std::size_t> layers = trainer.raceable_layers();
  for (std::size_t mask = 0; mask < (std::size_t{1} << layers.size()); ++mask) {
    for (bool late_t : {false, true}) {
      if (late_t && !o.late_iterations) continue;
      RacedReads r;
      for (std::size_t b = 0; b < layers.size(); ++b) {
        if (mask & (std::size_t{1} << b)) r.late_weights.insert(layers[b]);
      }
      r.late_iterations = late_t;
      options.push_back(r);
    }
  }
  auto batch = [&](const Tensor& t, std::size_t k) {
    return t.slice(0, static_cast<std::int64_t>(k) * batch_size, static_cast<std::int64_t>(k + 1) * batch_size);
  };
  auto close = [&](double got, double want) { return std::abs(got - want) <= o.rel_tol * std::abs(want); };

  std::vector<RaceSearch> results(runs.size());
  std::vector<double> best_gap(runs.size(), INFINITY);
  RaceSchedule current;
  // Depth first over the schedules, with the runs still consistent with the
  // prefix; step k's reads are judged by loss k + 1 (loss 0 precedes any update).
  std::function<void(std::size_t, const std::vector<std::size_t>&)> visit = [&](std::size_t k,
                                                                                const std::vector<std::size_t>& alive) {
    if (k + 1 == steps) {
      for (std::size_t r : alive) {
        if (results[r].schedules.size() < o.max_results) results[r].schedules.push_back(current);
      }
      return;
    }
    const auto start = trainer.save();
    for (const RacedReads& reads : options) {
      std::vector<std::size_t> next_alive;
      for (std::size_t r : alive) {
        if (results[r].schedules.size() < o.max_results) next_alive.push_back(r);
      }
      if (next_alive.empty()) return;
      trainer.restore(*start);
      const double here = trainer.step(batch(x, k), batch(y, k), loss, reads);
      double next;
      {
        autograd::NoGradGuard no_grad;
        next = loss(model(batch(x, k + 1)), batch(y, k + 1)).item<double>();
      }
      std::vector<std::size_t> matched;
      for (std::size_t r : next_alive) {
        if (k == 0 && !close(here, runs[r][0])) {  // the runs differ before any step
          results[r].failed_step = 0;
          results[r].real_loss = runs[r][0];
          results[r].closest_loss = here;
          continue;
        }
        if (close(next, runs[r][k + 1])) {
          matched.push_back(r);
          continue;
        }
        const double gap = std::abs(next - runs[r][k + 1]);
        RaceSearch& res = results[r];
        if (static_cast<int>(k + 1) > res.failed_step || (static_cast<int>(k + 1) == res.failed_step && gap < best_gap[r])) {
          res.failed_step = static_cast<int>(k + 1);
          res.real_loss = runs[r][k + 1];
          res.closest_loss = next;
          best_gap[r] = gap;
          if (sums != nullptr && k < (*sums)[r].size()) locate_tensor(model, (*sums)[r][k], res);
        }
      }
      if (matched.empty()) continue;
      current.push_back(reads);
      visit(k + 1, matched);
      current.pop_back();
    }
  };
  std::vector<std::size_t> all(runs.size());
  for (std::size_t r = 0; r < runs.size(); ++r) all[r] = r;
  visit(0, all);
  return results;
}

}  // namespace parity::train
