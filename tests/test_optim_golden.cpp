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
#include "test_optim_golden.h"

using namespace parity;
using namespace parity::optim;

namespace {

struct NotBitExact {
  const char* preset;
  const char* optimizer;
  std::vector<std::string> exact;  // quantities that must still be bit-exact
  std::int64_t max_ulp;            // bound on every other quantity, over all checkpoints
  const char* reason;
};

constexpr const char* kMklSqrt =
    "torch.sqrt on the CPU in PyTorch's PyPI wheels is MKL VML's vsSqrt, which is not correctly rounded "
    "(1 ulp off for about 19% of float32 inputs; closed source, so not reproducible); Parity's sqrt is "
    "correctly rounded. Everything upstream of the first sqrt is bit-exact.";

const std::vector<NotBitExact>& not_bit_exact() {
  static const std::vector<NotBitExact> list = {
      {"pytorch", "adam", {"m", "v"}, 256, kMklSqrt},
      {"pytorch_foreach", "adam", {"m", "v"}, 256, kMklSqrt},
      {"keras3_torch", "adam", {"m", "v"}, 512, kMklSqrt},
      {"pytorch", "adadelta", {"accum_grad"}, 2048, kMklSqrt},
      {"pytorch_foreach", "adadelta", {"accum_grad"}, 2048, kMklSqrt},
      {"keras3_torch", "adadelta", {"accum_grad"}, 4096, kMklSqrt},
  };
  return list;
}

const NotBitExact* exception_for(const golden::Trace& t) {
  for (const NotBitExact& e : not_bit_exact()) {
    if (t.preset == e.preset && t.optimizer == e.optimizer) return &e;
  }
  return nullptr;
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
  std::string n = info.param.trace.id + (info.param.simd ? "_simd" : "_scalar");
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

class GoldenReplay : public testing::TestWithParam<Case> {
 protected:
  void TearDown() override { set_cpu_simd(true); }
};

TEST_P(GoldenReplay, BitExactAtEveryCheckpoint) {
  const Case& c = GetParam();
  set_cpu_simd(c.simd);
  const Preset& preset = golden::preset_for(c.trace.preset);
  if (golden::uses_rsqrt_estimate(preset, c.trace.optimizer) &&
      !golden::same_rsqrt_estimate_as_trace_machine()) {
    GTEST_SKIP() << c.trace.id
                 << ": this CPU's rsqrt estimate differs from that of the machine that recorded the "
                 << "trace (AMD Zen 3); preset " << preset.name << " computes this CPU's estimate, as the "
                 << "framework would here, so the trace cannot be matched bit for bit";
  }
  const golden::ReplayResult r = golden::replay(c.trace, preset);
  const NotBitExact* e = exception_for(c.trace);
  if (e == nullptr) {
    EXPECT_TRUE(r.ok) << c.trace.id << " (" << c.trace.kind << " trace) with preset " << preset.name << ": "
                      << r.first_failure << "; largest distance " << r.max_ulp << " ulp";
    return;
  }
  for (const auto& [quantity, q] : r.quantities) {
    const bool exact = std::find(e->exact.begin(), e->exact.end(), quantity) != e->exact.end();
    if (exact) {
      EXPECT_TRUE(q.first_failure.empty())
          << c.trace.id << ": '" << quantity << "' must be bit-exact: " << q.first_failure;
    } else {
      EXPECT_LE(q.max_ulp, e->max_ulp) << c.trace.id << ": '" << quantity << "' beyond the stated bound ("
                                       << e->reason << "); first difference: " << q.first_failure;
    }
  }
  std::cout << "[ bounded  ] " << c.trace.id << ": " << r.max_ulp << " ulp at most (bound " << e->max_ulp
            << "; " << e->exact.size() << " state(s) bit-exact)\n";
}

INSTANTIATE_TEST_SUITE_P(Traces, GoldenReplay, testing::ValuesIn(cases()), case_name);

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
