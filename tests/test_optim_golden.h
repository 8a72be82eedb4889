// Replaying the golden optimizer traces (tests/data/golden, made by
// tools/golden/make_traces.py from the real frameworks or from NumPy
// emulations) with Parity's presets: shared by tests/test_optim_golden.cpp and
// tests/test_optim_cuda.cpp.
#pragma once

#include <gtest/gtest.h>
#include <parity/parity.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parity/optim/update.h"

namespace parity::optim::golden {

// Traces per CPU kind (tests/data/golden/cpu/<set>/, manifest "cpu_sets"). The
// x86 rsqrt estimate (rsqrtps/rsqrtss) is each CPU's own table (AMD and Intel and
// their generations differ), and XLA:CPU compiles for the ISA it finds: the
// Adadelta traces of the presets that use TF's or XLA's rsqrt depend on the CPU
// that recorded them. A set is named <vendor>-<isa>-<first 32 bits of the
// fingerprint below> by tools/golden/common.py cpu_facts(), which computes the
// same FNV-1a hash of Eigen's AVX rsqrt over 16384 inputs.
inline std::uint64_t rsqrt_fingerprint() {
  std::uint64_t h = 1469598103934665603ull;
  for (int e = -2; e <= 1; ++e) {
    for (int k = 0; k < 4096; ++k) {
      const float x = std::ldexp(1.0f + static_cast<float>(k) / 4096.0f, e);
      const float r = kernel::ScalarArith::rsqrt(x, RsqrtMode::EigenAvx);
      std::uint32_t u;
      std::memcpy(&u, &r, 4);
      h = (h ^ u) * 1099511628211ull;
    }
  }
  return h;
}

// This CPU's trace-set name, as tools/golden/common.py cpu_facts() names it.
inline std::string cpu_set_here() {
  static const std::string name = [] {
    std::string vendor = "other", isa = "sse";
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_is("intel")) vendor = "intel";
    if (__builtin_cpu_is("amd")) vendor = "amd";
    if (__builtin_cpu_supports("avx512f"))
      isa = "avx512";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      isa = "avx2";
#endif
    std::ostringstream out;
    out << vendor << "-" << isa << "-" << std::hex << std::setw(8) << std::setfill('0')
        << (rsqrt_fingerprint() >> 32);
    return out.str();
  }();
  return name;
}

inline bool uses_rsqrt_estimate(const Preset& p, const std::string& optimizer) {
  if (optimizer != "adadelta") return false;
  const auto est = [](const AdadeltaElementwise& k) {
    return (k.delta == AdadeltaDelta::RsqrtMul || k.delta == AdadeltaDelta::MulRsqrt) &&
           (k.rsqrt == RsqrtMode::EigenAvx || k.rsqrt == RsqrtMode::EigenAvxFma ||
            k.rsqrt == RsqrtMode::XlaTwoStep || k.rsqrt == RsqrtMode::XlaCpu);
  };
  return est(p.adadelta.body) || (p.adadelta.vec_width > 0 && est(p.adadelta.tail));
}

inline std::string dir() { return std::string(PARITY_TEST_DATA_DIR) + "/golden/"; }

inline const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(dir() + "manifest.json");
    if (!in) return nlohmann::json::object();
    return nlohmann::json::parse(in);
  }();
  return m;
}

struct TensorSpec {
  std::string name;
  Shape shape;
  Tensor init;   // float32 [shape]
  Tensor grads;  // float32 [steps, shape]
};

inline const std::vector<TensorSpec>& inputs() {
  static const std::vector<TensorSpec> specs = [] {
    std::vector<TensorSpec> out;
    for (const auto& t : manifest().at("tensors")) {
      TensorSpec s;
      s.name = t.at("name").get<std::string>();
      s.shape = t.at("shape").get<Shape>();
      s.init = io::load_npy(dir() + t.at("init").get<std::string>());
      s.grads = io::load_npy(dir() + t.at("grads").get<std::string>());
      out.push_back(std::move(s));
    }
    return out;
  }();
  return specs;
}

// The trace's preset name -> Parity's preset. The Keras 3 eager diagnostics of
// both backends are one preset (they compute the same bits).
inline const Preset& preset_for(const std::string& trace_preset) {
  if (trace_preset == "keras3_tf_eager" || trace_preset == "keras3_jax_eager") return presets::keras3_eager;
  return presets::by_name(trace_preset);
}

struct Trace {
  std::string id, preset, optimizer, hpset, kind;
  std::string cpu_set;  // "" for a CPU-independent trace
  nlohmann::json entry;
  // The trace was recorded on another kind of CPU than this one: only the
  // quantities that do not depend on the CPU (estimate_free) can be compared.
  bool other_cpu() const { return !cpu_set.empty() && cpu_set != cpu_set_here(); }
};

// The quantities of a CPU-dependent Adadelta trace that no rsqrt estimate
// reaches: E[g^2] is computed before the estimate is used.
inline const std::vector<std::string>& estimate_free_quantities() {
  static const std::vector<std::string> q = {"accum_grad"};
  return q;
}

// GoogleTest prints a parameter with this (found by argument-dependent lookup).
inline void PrintTo(const Trace& t, std::ostream* out) {
  *out << t.id;
  if (!t.cpu_set.empty()) *out << " @" << t.cpu_set;
}

inline std::vector<Trace> traces() {
  std::vector<Trace> out;
  if (!manifest().contains("traces")) return out;
  for (const auto& e : manifest().at("traces")) {
    if (e.at("status") != "ok") continue;
    if (!e.value("replay", true)) continue;  // a raced run: no preset stands for it
    Trace t;
    t.id = e.at("id").get<std::string>();
    t.preset = e.at("preset").get<std::string>();
    t.optimizer = e.at("optimizer").get<std::string>();
    t.hpset = e.at("hpset").get<std::string>();
    t.kind = e.at("kind").get<std::string>();
    t.cpu_set = e.value("cpu_set", std::string());
    t.entry = e;
    out.push_back(std::move(t));
  }
  return out;
}

inline std::optional<double> hparam(const Trace& t, const char* key) {
  const auto& h = t.entry.at("hparams");
  if (!h.contains(key) || h.at(key).at("as_passed").is_null()) return std::nullopt;
  const auto& v = h.at(key);
  if (v.at("as_passed").is_boolean()) return v.at("as_passed").get<bool>() ? 1.0 : 0.0;
  return v.at("float64").get<double>();
}

// The parameters of a replay: copies of the initial values.
inline std::vector<Tensor> fresh_params(Device device = Device::cpu()) {
  std::vector<Tensor> ps;
  for (const TensorSpec& s : inputs()) ps.push_back(s.init.clone().to(device).requires_grad_());
  return ps;
}

inline std::unique_ptr<Optimizer> make_optimizer(const Trace& t, const Preset& preset,
                                                 const std::vector<Tensor>& params) {
  if (t.optimizer == "adam") {
    AdamOptions o;
    o.lr = hparam(t, "lr");
    o.beta1 = hparam(t, "beta1");
    o.beta2 = hparam(t, "beta2");
    o.eps = hparam(t, "eps");
    o.decay = hparam(t, "decay").value_or(0.0);
    return std::make_unique<Adam>(params, o, preset);
  }
  if (t.optimizer == "adadelta") {
    AdadeltaOptions o;
    o.lr = hparam(t, "lr");  // none: the preset's default (optax: no learning rate)
    o.rho = hparam(t, "rho");
    o.eps = hparam(t, "eps");
    o.decay = hparam(t, "decay").value_or(0.0);
    return std::make_unique<Adadelta>(params, o, preset);
  }
  SgdOptions o;
  o.lr = hparam(t, "lr");
  o.momentum = hparam(t, "momentum");
  o.nesterov = hparam(t, "nesterov").value_or(0.0) != 0.0;
  o.decay = hparam(t, "decay").value_or(0.0);
  return std::make_unique<SGD>(params, o, preset);
}

// Parity's name of a trace quantity's state.
inline std::string state_key(const std::string& quantity) { return quantity; }

inline std::int64_t ordered(float x) {
  std::int32_t i;
  std::memcpy(&i, &x, 4);
  return i < 0 ? -static_cast<std::int64_t>(i & 0x7FFFFFFF) : static_cast<std::int64_t>(i);
}

inline std::string hex(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  std::ostringstream out;
  out << std::setprecision(9) << x << " (0x" << std::hex << std::setw(8) << std::setfill('0')
      << std::uppercase << u << ")";
  return out.str();
}

// Bitwise comparison (NaN equals NaN whatever its payload; +0 differs from -0).
struct Mismatch {
  std::int64_t count = 0, first = -1, max_ulp = 0;
  float got = 0, want = 0;
};

inline Mismatch compare_bits(const std::vector<float>& got, const std::vector<float>& want) {
  Mismatch m;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const float a = got[i], b = want[i];
    std::uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    if (ua == ub || (std::isnan(a) && std::isnan(b))) continue;
    const std::int64_t ulp =
        (std::isnan(a) || std::isnan(b)) ? INT64_MAX : std::llabs(ordered(a) - ordered(b));
    if (m.count == 0) {
      m.first = static_cast<std::int64_t>(i);
      m.got = a;
      m.want = b;
    }
    ++m.count;
    m.max_ulp = std::max(m.max_ulp, ulp);
  }
  return m;
}

// Where a replay departs from its trace, overall and per quantity ("param",
// "m", "v", "accum_grad", ...; the beta-power counters count as "param").
struct ReplayResult {
  bool ok = true;
  std::int64_t max_ulp = 0;
  std::string first_failure;  // "" when bit-exact
  struct Quantity {
    std::int64_t max_ulp = 0;
    std::vector<std::int64_t> max_ulp_at;  // per checkpoint (manifest "checkpoints")
    std::string first_failure;
  };
  std::map<std::string, Quantity> quantities;  // every quantity compared
  std::set<std::string> missing;               // in the trace, absent from Parity's state
};

// The quantities a trace records (the keys of its "files"), restricted to `only`.
inline std::vector<std::string> trace_quantities(const Trace& t, const std::vector<std::string>& only = {}) {
  std::vector<std::string> out;
  for (auto it = t.entry.at("files").begin(); it != t.entry.at("files").end(); ++it) {
    if (only.empty() || std::find(only.begin(), only.end(), it.key()) != only.end()) out.push_back(it.key());
  }
  return out;
}

// Replays trace `t` with `preset`: every step of the trace's 1000, comparing the
// parameters and the state with the trace at each checkpoint.
inline ReplayResult replay(const Trace& t, const Preset& preset, Device device = Device::cpu(),
                           Execution execution = Execution::Fused, int max_steps = -1,
                           const std::vector<std::string>& only = {}) {
  ReplayResult r;
  const std::vector<Tensor> params = fresh_params(device);
  std::unique_ptr<Optimizer> opt = make_optimizer(t, preset, params);
  opt->set_execution(execution);
  const std::vector<std::int64_t> checkpoints = manifest().at("checkpoints").get<std::vector<std::int64_t>>();
  const std::int64_t steps = max_steps > 0 ? max_steps : manifest().at("steps").get<std::int64_t>();
  const auto& files = t.entry.at("files");
  std::vector<Tensor> grads;
  for (const TensorSpec& s : inputs()) grads.push_back(s.grads.to(device));
  for (std::int64_t step = 1; step <= steps; ++step) {
    for (std::size_t i = 0; i < params.size(); ++i) params[i].set_grad(grads[i].select(0, step - 1));
    opt->step();
    const auto cp = std::find(checkpoints.begin(), checkpoints.end(), step);
    if (cp == checkpoints.end()) continue;
    const auto row = static_cast<std::int64_t>(cp - checkpoints.begin());
    const StateDict sd = opt->state_dict();
    for (auto it = files.begin(); it != files.end(); ++it) {
      const std::string quantity = it.key();
      if (!only.empty() && std::find(only.begin(), only.end(), quantity) == only.end()) continue;
      for (std::size_t i = 0; i < params.size(); ++i) {
        const std::string& name = inputs()[i].name;
        const Tensor want = io::load_npy(dir() + it.value().at(name).get<std::string>()).select(0, row);
        Tensor got;
        if (quantity == "param") {
          got = params[i];
        } else {
          const auto& tensors = sd.groups[0].params[i].tensors;
          const auto found = tensors.find(state_key(quantity));
          if (found == tensors.end()) {
            // Not compared is a failure, never a pass (the test checks every
            // quantity of the manifest appears in r.quantities).
            const std::string why = "no state '" + quantity + "' in Parity's optimizer";
            r.missing.insert(quantity);
            if (r.ok) r.first_failure = why;
            r.ok = false;
            continue;
          }
          got = found->second;
        }
        const Mismatch m = compare_bits(got.to(Device::cpu()).to_vector<float>(), want.to_vector<float>());
        r.max_ulp = std::max(r.max_ulp, m.max_ulp);
        ReplayResult::Quantity& q = r.quantities[quantity];
        q.max_ulp = std::max(q.max_ulp, m.max_ulp);
        q.max_ulp_at.resize(checkpoints.size(), 0);
        q.max_ulp_at[static_cast<std::size_t>(row)] = std::max(q.max_ulp_at[static_cast<std::size_t>(row)], m.max_ulp);
        if (m.count > 0 && q.first_failure.empty()) {
          std::ostringstream out;
          out << quantity << "_" << name << "[" << m.first << "] after step " << step << ": Parity "
              << hex(m.got) << ", trace " << hex(m.want) << ", "
              << (m.max_ulp == INT64_MAX
                      ? std::string("NaN vs number")
                      : std::to_string(std::llabs(ordered(m.got) - ordered(m.want))) + " ulp")
              << " (" << m.count << " elements of this tensor differ)";
          q.first_failure = out.str();
        }
        if (m.count > 0 && r.ok) {
          r.ok = false;
          r.first_failure = q.first_failure;
        }
      }
    }
    // Counters: the beta powers the next step reads (TF1).
    if (t.entry.contains("counters")) {
      for (auto it = t.entry.at("counters").begin(); it != t.entry.at("counters").end(); ++it) {
        const std::string c = it.key();
        if (c != "beta1_power" && c != "beta2_power") continue;
        if (!only.empty() && std::find(only.begin(), only.end(), "param") == only.end()) continue;
        const Tensor want = io::load_npy(dir() + it.value().at("file").get<std::string>());
        const float w = want.to_vector<float>()[static_cast<std::size_t>(row)];
        const float g = static_cast<float>(sd.groups[0].params[0].scalars.at(c));
        if (compare_bits({g}, {w}).count > 0 && r.ok) {
          r.ok = false;
          r.first_failure =
              c + " after step " + std::to_string(step) + ": Parity " + hex(g) + ", trace " + hex(w);
        }
      }
    }
  }
  return r;
}

}  // namespace parity::optim::golden
