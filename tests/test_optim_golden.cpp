// Every golden trace (tests/data/golden/manifest.json) replayed with Parity's
// preset of the same name on the CPU: the parameters and the optimizer state
// must be bit for bit the trace's at every recorded step (1, 2, 10, 100, 1000).
// A failure names the first differing element, both values and their distance
// in ulps. Each trace runs twice: through the AVX2 path of the CPU kernels and
// through the scalar path (optim::set_cpu_simd(false)), which must agree.
//
// The exceptions are listed in kNotBitExact with their reason: there the
// framework's own kernel computes something Parity cannot reproduce bit for bit,
// so the quantities that do not depend on it must still be bit-exact and the
// others must stay within a stated ulp bound (docs/NUMERICS.md, "Traces that are
// not bit-exact").
#include <functional>

#include "test_optim_golden.h"

using namespace parity;
using namespace parity::optim;

namespace {

struct NotBitExact {
  const char* preset;
  const char* optimizer;
  std::vector<std::string> exact;  // quantities that must still be bit-exact
  // Bound on each other quantity at each checkpoint (manifest "checkpoints":
  // steps 1, 2, 10, 100, 1000), over both hyper-parameter sets: twice the
  // distance measured on the committed traces (the test prints the measured values).
  std::map<std::string, std::vector<std::int64_t>> max_ulp_at;
  const char* reason;
};

constexpr const char* kMklSqrt =
    "torch.sqrt on the CPU in PyTorch's PyPI wheels is MKL VML's vsSqrt, which is not correctly rounded "
    "(1 ulp off for about 19% of float32 inputs; closed source, so not reproducible); Parity's sqrt is "
    "correctly rounded. Everything upstream of the first sqrt is bit-exact.";

const std::vector<NotBitExact>& not_bit_exact() {
  static const std::vector<NotBitExact> list = {
      {"pytorch", "adam", {"m", "v"}, {{"param", {2, 8, 48, 8, 64}}}, kMklSqrt},
      {"pytorch_foreach", "adam", {"m", "v"}, {{"param", {2, 8, 48, 8, 64}}}, kMklSqrt},
      {"keras3_torch", "adam", {"m", "v"}, {{"param", {2, 8, 12, 14, 264}}}, kMklSqrt},
      {"pytorch", "adadelta", {"accum_grad"}, {{"accum_update", {10, 10, 12, 16, 48}}, {"param", {4, 64, 16, 208, 130}}}, kMklSqrt},
      {"pytorch_foreach", "adadelta", {"accum_grad"}, {{"accum_update", {10, 10, 12, 16, 48}}, {"param", {4, 64, 16, 208, 130}}}, kMklSqrt},
      {"keras3_torch", "adadelta", {"accum_grad"}, {{"accum_update", {6, 8, 8, 12, 50}}, {"param", {4, 32, 24, 160, 768}}}, kMklSqrt},
  };
  return list;
}

const NotBitExact* exception_for(const golden::Trace& t) {
  for (const NotBitExact& e : not_bit_exact()) {
    if (t.preset == e.preset && t.optimizer == e.optimizer) return &e;
  }
  return nullptr;
}

std::string join(const std::vector<std::int64_t>& v) {
  std::ostringstream out;
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? " " : "") << v[i];
  return out.str();
}

struct Case {
  golden::Trace trace;
  bool simd;
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.trace.id << (c.simd ? " (AVX2 path)" : " (scalar path)");
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const golden::Trace& t : golden::traces()) {
    out.push_back({t, true});
    out.push_back({t, false});
  }
  return out;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const golden::Trace& t = info.param.trace;
  std::string n = t.id + (t.cpu_set.empty() ? "" : "_" + t.cpu_set) + (info.param.simd ? "_simd" : "_scalar");
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

class GoldenReplay : public testing::TestWithParam<Case> {
 protected:
  void TearDown() override { set_cpu_simd(true); }
};

// Replays trace t with its preset and judges it: bit-exact, or for a listed
// exception its exact quantities bit-exact and the others within their bounds
// per checkpoint; a trace quantity not compared (no such state in Parity's
// optimizer) always fails. `log` gets the measured distances of bounded traces.
::testing::AssertionResult judge_replay(const golden::Trace& t, std::ostream& log) {
  const Preset& preset = golden::preset_for(t.preset);
  // A trace of another CPU kind: compare what no rsqrt estimate reaches.
  const std::vector<std::string> only = t.other_cpu() ? golden::estimate_free_quantities() : std::vector<std::string>{};
  const golden::ReplayResult r = golden::replay(t, preset, Device::cpu(), Execution::Fused, -1, only);
  const std::vector<std::string> wanted = golden::trace_quantities(t, only);
  if (wanted.empty()) return ::testing::AssertionFailure() << t.id << ": nothing to compare";
  std::ostringstream fail;
  for (const std::string& q : wanted) {
    if (r.quantities.count(q) == 0) {
      fail << t.id << ": the trace's '" << q << "' was not compared"
           << (r.missing.count(q) ? " (Parity's optimizer has no such state)" : "") << "\n";
    }
  }
  if (t.other_cpu()) {
    if (!r.ok) fail << t.id << " @" << t.cpu_set << ": " << r.first_failure << "\n";
    log << "[ other CPU] " << t.id << ": set " << t.cpu_set << ", this CPU is " << golden::cpu_set_here()
        << ": the estimate-free quantities bit-exact; the others need a CPU of that kind\n";
  } else if (const NotBitExact* e = exception_for(t); e == nullptr) {
    if (!r.ok) {
      fail << t.id << " (" << t.kind << " trace" << (t.cpu_set.empty() ? "" : ", set " + t.cpu_set) << ") with preset "
           << preset.name << ": " << r.first_failure << "; largest distance " << r.max_ulp << " ulp\n";
    }
  } else {
    for (const auto& [quantity, q] : r.quantities) {
      const bool exact = std::find(e->exact.begin(), e->exact.end(), quantity) != e->exact.end();
      if (exact) {
        if (!q.first_failure.empty()) fail << t.id << ": '" << quantity << "' must be bit-exact: " << q.first_failure << "\n";
        continue;
      }
      const auto bound = e->max_ulp_at.find(quantity);
      if (bound == e->max_ulp_at.end() || q.max_ulp_at.size() != bound->second.size()) {
        fail << t.id << ": no bound per checkpoint stated for '" << quantity << "'\n";
        continue;
      }
      for (std::size_t i = 0; i < q.max_ulp_at.size(); ++i) {
        if (q.max_ulp_at[i] > bound->second[i]) {
          fail << t.id << ": '" << quantity << "' at checkpoint " << i << ": " << q.max_ulp_at[i] << " ulp, beyond the bound "
               << bound->second[i] << " (" << e->reason << "); first difference: " << q.first_failure << "\n";
        }
      }
      log << "[ bounded  ] " << t.id << " '" << quantity << "': measured " << join(q.max_ulp_at)
          << " ulp at steps 1 2 10 100 1000 (bounds " << join(bound->second) << ")\n";
    }
  }
  if (fail.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << fail.str();
}

TEST_P(GoldenReplay, BitExactAtEveryCheckpoint) {
  const Case& c = GetParam();
  set_cpu_simd(c.simd);
  EXPECT_TRUE(judge_replay(c.trace, std::cout));
}

// The judge itself: a trace quantity Parity's optimizer does not have fails,
// in a bounded trace too (the old replay returned early and the bounded branch
// never looked at the overall result, so such a trace passed).
TEST(GoldenJudge, AQuantityNotComparedFails) {
  for (const char* id : {"pytorch/adam/default", "tf_raw/adam/default"}) {
    const auto all = golden::traces();
    const auto found = std::find_if(all.begin(), all.end(), [&](const golden::Trace& t) { return t.id == id; });
    ASSERT_NE(found, all.end()) << id;
    golden::Trace t = *found;
    ASSERT_TRUE(judge_replay(t, std::cout)) << id;
    t.entry["files"]["bogus_state"] = t.entry["files"]["m"];  // a state no optimizer has
    const ::testing::AssertionResult r = judge_replay(t, std::cout);
    EXPECT_FALSE(r) << id;
    EXPECT_NE(std::string(r.message()).find("no such state"), std::string::npos) << r.message();
  }
}

INSTANTIATE_TEST_SUITE_P(Traces, GoldenReplay, testing::ValuesIn(cases()), case_name);

// The manifest records versions and build facts, never a path of the recording machine.
TEST(GoldenManifest, NamesNoLocalPath) {
  std::function<void(const nlohmann::json&, const std::string&)> walk = [&](const nlohmann::json& j,
                                                                           const std::string& where) {
    if (j.is_string()) {
      const std::string v = j.get<std::string>();
      EXPECT_FALSE(!v.empty() && v[0] == '/') << where << " = " << v;
    } else if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) walk(it.value(), where + "." + it.key());
    } else if (j.is_array()) {
      for (std::size_t i = 0; i < j.size(); ++i) walk(j[i], where + "[" + std::to_string(i) + "]");
    }
  };
  walk(golden::manifest(), "manifest");
}

TEST(GoldenManifest, IsPresentAndCoversEveryPresetFamily) {
  ASSERT_TRUE(golden::manifest().contains("traces")) << "no manifest at " << golden::dir();
  std::set<std::string> trace_presets;
  for (const golden::Trace& t : golden::traces()) trace_presets.insert(t.preset);
  for (const char* name :
       {"paper", "keras2_theano", "keras2_tensorflow", "tf_raw", "keras3_tf", "keras3_jax", "pytorch",
        "pytorch_1_13", "pytorch_foreach", "pytorch_fused", "optax", "lasagne", "flashlight"}) {
    EXPECT_TRUE(trace_presets.count(name)) << "no golden trace for preset " << name;
  }
  for (const std::string& p : trace_presets) EXPECT_NO_THROW(golden::preset_for(p)) << p;
}

}  // namespace

namespace {

// The CPU-dependent traces come in one set per CPU kind: the output names this
// CPU's kind and the sets there are; a CPU without a set of its own still has
// its estimate-free quantities compared (GoldenReplay), and this says so.
TEST(GoldenCpuSets, NameThisCpuAndTheSetsCovered) {
  std::map<std::string, std::set<std::string>> ids_per_set;
  for (const golden::Trace& t : golden::traces()) {
    if (!t.cpu_set.empty()) ids_per_set[t.cpu_set].insert(t.id);
  }
  ASSERT_FALSE(ids_per_set.empty()) << "no CPU-dependent traces in the manifest";
  const std::string here = golden::cpu_set_here();
  std::ostringstream sets;
  for (const auto& [set, ids] : ids_per_set) {
    EXPECT_TRUE(golden::manifest().at("cpu_sets").contains(set)) << "no CPU facts recorded for set " << set;
    sets << " " << set << " (" << ids.size() << " traces)";
  }
  std::cout << "[ CPU sets ] this CPU: " << here << "; trace sets:" << sets.str() << "\n";
  if (ids_per_set.count(here) == 0) {
    std::cout << "[ CPU sets ] NO trace set for this CPU kind (" << here
              << "): only the estimate-free quantities of the CPU-dependent traces are compared; record "
                 "this CPU's set with tools/golden/make_traces.py --groups tf,keras3_tf,keras3_jax,optax,keras2_tf\n";
  }
  // Every set holds the same CPU-dependent traces (one recording each).
  const std::set<std::string>& first = ids_per_set.begin()->second;
  for (const auto& [set, ids] : ids_per_set) {
    for (const std::string& id : first) {
      if (ids.count(id) == 0 && id.rfind("keras2_", 0) != 0) ADD_FAILURE() << "set " << set << " lacks " << id;
    }
  }
}

double hp(const golden::Trace& t, const char* key) {
  const std::optional<double> v = golden::hparam(t, key);
  EXPECT_TRUE(v.has_value()) << t.id << ": no hyper-parameter " << key;
  return v.value_or(0.0);
}

// Each preset's defaults are the framework's, as the trace of its default set
// recorded them, and its verification label says what the traces show.
TEST(GoldenManifest, PresetDefaultsAndVerificationMatchTheTraces) {
  int checked = 0;
  for (const golden::Trace& t : golden::traces()) {
    if (t.entry.value("diagnostic", false)) continue;
    const Preset& p = golden::preset_for(t.preset);
    const bool sgd = t.optimizer.rfind("sgd", 0) == 0;
    const Verification label =
        t.optimizer == "adam" ? p.adam_verified : (t.optimizer == "adadelta" ? p.adadelta_verified : p.sgd_verified);
    const Verification want = t.kind == "emulated" ? Verification::Emulated
                              : exception_for(t) != nullptr ? Verification::RealTraceBounded
                                                            : Verification::RealTrace;
    EXPECT_EQ(static_cast<int>(label), static_cast<int>(want))
        << p.name << " " << t.optimizer << ": the label does not say what trace " << t.id << " shows";
    if (t.hpset != "default") continue;
    ++checked;
    if (t.optimizer == "adam") {
      EXPECT_EQ(hp(t, "lr"), p.adam_defaults.lr) << t.id;
      EXPECT_EQ(hp(t, "beta1"), p.adam_defaults.beta1) << t.id;
      EXPECT_EQ(hp(t, "beta2"), p.adam_defaults.beta2) << t.id;
      EXPECT_EQ(hp(t, "eps"), p.adam_defaults.eps) << t.id;
    } else if (t.optimizer == "adadelta") {
      EXPECT_EQ(golden::hparam(t, "lr"), p.adadelta_defaults.lr) << t.id;
      EXPECT_EQ(hp(t, "rho"), p.adadelta_defaults.rho) << t.id;
      EXPECT_EQ(hp(t, "eps"), p.adadelta_defaults.eps) << t.id;
    } else if (sgd && t.optimizer == "sgd") {
      EXPECT_EQ(hp(t, "lr"), p.sgd_defaults.lr) << t.id;
      EXPECT_EQ(hp(t, "momentum"), p.sgd_defaults.momentum) << t.id;
    }
  }
  EXPECT_GE(checked, 40) << "the default sets of the presets";
}

}  // namespace
