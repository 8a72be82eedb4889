// optim/: the optimizers' contract apart from the golden traces
// (tests/test_optim_golden.cpp): errors, skipped parameters, zero_grad,
// parameter groups, schedules, state_dict round trips, fused vs composed mode,
// the SIMD and scalar CPU paths, and the seed issue's SGD observation.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "parity/autograd/node.h"
#include "parity/optim/launch.h"
#include "parity/tensor/cpu_features.h"
#include "parity/optim/scalars.h"

using namespace parity;
using namespace parity::optim;

namespace {

std::vector<std::uint32_t> bits(const Tensor& t) {
  const std::vector<float> v = t.contiguous().to_vector<float>();
  std::vector<std::uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

// Same bits, NaN equal to NaN (no NaN in these tests unless said).
::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  const auto x = bits(a), y = bits(b);
  if (x.size() != y.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] != y[i]) {
      float fa, fb;
      std::memcpy(&fa, &x[i], 4);
      std::memcpy(&fb, &y[i], 4);
      if (std::isnan(fa) && std::isnan(fb)) continue;
      return ::testing::AssertionFailure() << "element " << i << ": " << fa << " vs " << fb;
    }
  }
  return ::testing::AssertionSuccess();
}

// Deterministic gradients of varied scales, a few zeros, tiny and huge values.
Tensor grad_for(const Shape& shape, std::uint64_t seed, bool with_extremes = true) {
  Generator gen(seed);
  Tensor g = randn(shape, {}, 0.0, 1.0, &gen);
  Tensor scale = exp(rand(shape, {}, -9.0, 9.0, &gen));
  g = mul(g, scale);
  if (with_extremes) {
    std::vector<float> v = g.to_vector<float>();
    for (std::size_t i = 0; i < v.size(); i += 13) v[i] = 0.0f;
    for (std::size_t i = 5; i < v.size(); i += 29) v[i] = 1e-41f;  // subnormal
    for (std::size_t i = 7; i < v.size(); i += 31) v[i] = -3e18f;  // g*g near FLT_MAX
    g = from_vector(v, shape);
  }
  return g;
}

std::vector<Tensor> make_params(const std::vector<Shape>& shapes, std::uint64_t seed) {
  std::vector<Tensor> ps;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    Generator gen(seed + i);
    ps.push_back(randn(shapes[i], {}, 0.0, 1.0, &gen).requires_grad_());
  }
  return ps;
}

std::vector<Tensor> clones(const std::vector<Tensor>& ps) {
  std::vector<Tensor> out;
  for (const Tensor& p : ps) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

void set_grads(const std::vector<Tensor>& ps, int step, bool extremes = true) {
  for (std::size_t i = 0; i < ps.size(); ++i) {
    ps[i].set_grad(grad_for(ps[i].shape(), 1000 * static_cast<std::uint64_t>(step) + i, extremes));
  }
}

enum class Kind { Adam, Adadelta, Sgd, SgdMomentum, SgdNesterov };

std::unique_ptr<Optimizer> make(Kind kind, const std::vector<Tensor>& ps, const Preset& preset) {
  switch (kind) {
    case Kind::Adam:
      return std::make_unique<Adam>(ps, AdamOptions{.lr = 1e-2}, preset);
    case Kind::Adadelta:
      return std::make_unique<Adadelta>(ps, AdadeltaOptions{.lr = 0.5}, preset);
    case Kind::Sgd:
      return std::make_unique<SGD>(ps, SgdOptions{.lr = 0.03, .momentum = 0.0}, preset);
    case Kind::SgdMomentum:
      return std::make_unique<SGD>(ps, SgdOptions{.lr = 0.03, .momentum = 0.9}, preset);
    case Kind::SgdNesterov:
      return std::make_unique<SGD>(ps, SgdOptions{.lr = 0.03, .momentum = 0.9, .nesterov = true}, preset);
  }
  return nullptr;
}

bool has(const Preset& p, Kind kind) {
  return kind == Kind::Adam ? p.has_adam : kind == Kind::Adadelta ? p.has_adadelta : p.has_sgd;
}

const std::vector<Shape> kShapes = {{37}, {4, 3, 2}, {1}, {1000}};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

template <class Fn>
void expect_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected parity::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(OptimErrors, BadHyperParameters) {
  const std::vector<Tensor> ps = make_params({{3}}, 1);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { Adam(ps, {.lr = -1e-3}); }, "lr must be a finite number >= 0");
  expect_error([&] { Adam(ps, {.lr = nan}); }, "lr must be a finite number >= 0, got nan");
  expect_error([&] { Adam(ps, {.beta1 = 1.0}); }, "beta1 must be in [0, 1)");
  expect_error([&] { Adam(ps, {.beta2 = -0.1}); }, "beta2 must be in [0, 1)");
  expect_error([&] { Adam(ps, {.eps = -1e-8}); }, "eps must be a finite number >= 0");
  expect_error([&] { Adam(ps, {.weight_decay = nan}); }, "weight_decay");
  expect_error([&] { Adadelta(ps, {.rho = 1.5}); }, "rho must be in [0, 1]");
  expect_error([&] { Adadelta(ps, {.eps = nan}); }, "eps");
  expect_error([&] { SGD(ps, {.momentum = -0.9}); }, "momentum must be a finite number >= 0");
  expect_error([&] { SGD(ps, {.lr = 0.1, .momentum = 0.0, .nesterov = true}); }, "Nesterov momentum needs");
  Adam ok(ps);
  expect_error([&] { ok.set_lr(0, -1.0); }, "lr must be");
  expect_error([&] { ok.set_lr(3, 1.0); }, "no parameter group 3");
}

TEST(OptimErrors, BadParameters) {
  expect_error([&] { Adam(std::vector<Tensor>{}); }, "at least one parameter");
  expect_error([&] { Adam({Tensor()}); }, "undefined tensor");
  expect_error([&] { Adam({zeros({2}, {.dtype = kFloat64}).requires_grad_()}); }, "must be float32");
  const Tensor p = zeros({2}).requires_grad_();
  expect_error([&] { Adam({p, p}); }, "appears more than once");
  expect_error([&] { Adadelta({p}, {}, presets::pytorch_fused); }, "has no Adadelta");
  expect_error([&] { SGD({p}, {}, presets::paper); }, "has no SGD");
  expect_error([&] { presets::by_name("keras4"); }, "no preset named 'keras4'");
}

TEST(OptimErrors, StepWithoutAnyGradient) {
  const std::vector<Tensor> ps = make_params({{3}, {2}}, 2);
  Adam opt(ps);
  expect_error([&] { opt.step(); }, "no parameter has a gradient");
  EXPECT_EQ(opt.steps(), 0);
}

// set_grad refuses a gradient of another shape, dtype or device; the optimizer
// checks again (gradients can be attached by code that bypasses set_grad), and
// throws before touching any parameter.
TEST(OptimErrors, GradientOfAnotherShapeOrDtype) {
  const std::vector<Tensor> ps = make_params({{3}, {2}}, 3);
  expect_error([&] { ps[0].set_grad(zeros({4})); }, "set_grad");
  Adam opt(ps);
  const std::vector<float> before = ps[1].to_vector<float>();
  ps[1].set_grad(ones({2}));
  autograd::detail::meta(ps[0]).grad = zeros({4});
  expect_error([&] { opt.step(); }, "has shape [3] but its gradient has shape [4]");
  autograd::detail::meta(ps[0]).grad = zeros({3}, {.dtype = kFloat64});
  expect_error([&] { opt.step(); }, "is float32 but its gradient is float64");
  EXPECT_EQ(ps[1].to_vector<float>(), before) << "a failed step must not touch any parameter";
  EXPECT_EQ(opt.steps(), 0);
}

TEST(OptimErrors, ScheduleReturningANegativeLr) {
  const std::vector<Tensor> ps = make_params({{3}}, 4);
  SGD opt(ps, {.lr = 0.1});
  opt.set_lr_schedule([](std::int64_t step, double base) { return step == 2 ? -base : base; });
  set_grads(ps, 1);
  opt.step();
  set_grads(ps, 2);
  expect_error([&] { opt.step(); }, "schedule of group 0 returned -0.1 for step 2");
}

TEST(OptimErrors, ComposedModeRefusesFmaPresets) {
  const std::vector<Tensor> ps = make_params({{3}}, 5);
  Adam opt(ps, {}, presets::pytorch);
  expect_error([&] { opt.set_execution(Execution::Composed); }, "fused multiply-add sites");
  Adadelta tf(ps, {}, presets::tf_raw);
  expect_error([&] { tf.set_execution(Execution::Composed); }, "hardware rsqrt");
}

TEST(OptimErrors, LoadStateDictMismatches) {
  const std::vector<Tensor> ps = make_params({{3}, {2}}, 6);
  Adam adam(ps);
  StateDict d = adam.state_dict();
  SGD sgd(ps);
  expect_error([&] { sgd.load_state_dict(d); }, "the state is of a Adam optimizer");
  d.version = 99;
  expect_error([&] { adam.load_state_dict(d); }, "format version 99");
  d = adam.state_dict();
  d.groups.push_back(d.groups[0]);
  expect_error([&] { adam.load_state_dict(d); }, "has 2 parameter groups, the optimizer 1");
  d = adam.state_dict();
  d.groups[0].params[0].tensors["m"] = zeros({5});
  expect_error([&] { adam.load_state_dict(d); }, "must be a float32 tensor of shape [3]");
  d = adam.state_dict();
  d.groups[0].hparams["beta1"] = 2.0;
  expect_error([&] { adam.load_state_dict(d); }, "beta1 must be in [0, 1)");
  EXPECT_EQ(adam.hyper(0).beta1, 0.9) << "a refused load must leave the hyper-parameters as they were";
}

// Each optimizer's named hyper-parameters (parity/optim/hyper_fields.h): a state
// dict carries every one of them, a changed value loads into the optimizer, and
// a name the optimizer does not know is an error that lists the known ones.
TEST(OptimErrors, HyperParametersRoundTripByNameAndUnknownNamesAreRefused) {
  const std::vector<Tensor> ps = make_params({{3}}, 3);
  Adam adam(ps, {.lr = 0.01, .beta1 = 0.8, .amsgrad = true});
  Adadelta adadelta(ps, {.rho = 0.9});
  SGD sgd(ps, {.lr = 0.1, .momentum = 0.5, .nesterov = true});
  struct Case {
    Optimizer* opt;
    std::map<std::string, double> expected;  // a subset of what the state dict must report
    std::string changed;
    double value;
    const char* name;
  };
  const std::vector<Case> cases = {
      {&adam, {{"lr", 0.01}, {"beta1", 0.8}, {"amsgrad", 1.0}, {"decoupled_weight_decay", 0.0}}, "beta2", 0.95, "Adam"},
      {&adadelta, {{"rho", 0.9}}, "eps", 1e-4, "Adadelta"},
      {&sgd, {{"lr", 0.1}, {"momentum", 0.5}, {"nesterov", 1.0}}, "momentum", 0.7, "SGD"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StateDict d = c.opt->state_dict();
    for (const auto& [key, value] : c.expected) {
      ASSERT_TRUE(d.groups[0].hparams.count(key)) << key;
      EXPECT_EQ(d.groups[0].hparams.at(key), value) << key;
    }
    d.groups[0].hparams[c.changed] = c.value;
    c.opt->load_state_dict(d);
    EXPECT_EQ(c.opt->state_dict().groups[0].hparams.at(c.changed), c.value);
    d.groups[0].hparams["bogus"] = 1.0;
    expect_error([&] { c.opt->load_state_dict(d); },
                 std::string(c.name) + ": unknown hyper-parameter 'bogus' (known: decay, lr, ");
  }
}

// ---------------------------------------------------------------------------
// Behaviour
// ---------------------------------------------------------------------------

TEST(Optim, SkipsParametersWithoutGradient) {
  const std::vector<Tensor> ps = make_params({{3}, {2}}, 7);
  Adam opt(ps);
  const std::vector<float> frozen = ps[1].to_vector<float>();
  ps[0].set_grad(ones({3}));
  opt.step();
  opt.step();
  EXPECT_EQ(ps[1].to_vector<float>(), frozen);
  const StateDict d = opt.state_dict();
  EXPECT_EQ(d.groups[0].params[0].step, 2);
  EXPECT_FALSE(d.groups[0].params[1].initialized);
  EXPECT_EQ(d.groups[0].params[1].step, 0);
  EXPECT_EQ(opt.steps(), 2);
}

TEST(Optim, ZeroGradReleasesOrZeroes) {
  const std::vector<Tensor> ps = make_params({{3}}, 8);
  SGD opt(ps, {.lr = 0.1});
  ps[0].set_grad(ones({3}));
  opt.zero_grad(false);
  ASSERT_TRUE(ps[0].grad().defined());
  EXPECT_EQ(ps[0].grad().to_vector<float>(), (std::vector<float>{0, 0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(ps[0].grad().defined());
}

TEST(Optim, WorksWithBackward) {
  Tensor w = from_vector<float>({1.0f, -2.0f}).requires_grad_();
  SGD opt({w}, {.lr = 0.5}, presets::keras2_theano);
  Tensor loss = sum(mul(w, w));  // d/dw = 2w
  loss.backward();
  opt.step();
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));  // w - 0.5 * 2w
  EXPECT_GT(w.version(), 0u) << "the step bumps the parameter's version";
}

TEST(Optim, GroupsWithDifferentLrsStepLikeSeparateOptimizers) {
  for (const Preset* preset : {&presets::pytorch, &presets::keras2_tensorflow, &presets::optax}) {
    const std::vector<Tensor> a = make_params({{17}, {9}}, 9), b = make_params({{40}}, 10);
    const std::vector<Tensor> a2 = clones(a), b2 = clones(b);
    Adam grouped({AdamGroup{a, {.lr = 1e-3}}, AdamGroup{b, {.lr = 3e-2, .beta1 = 0.8}}}, *preset);
    Adam only_a(a2, {.lr = 1e-3}, *preset), only_b(b2, {.lr = 3e-2, .beta1 = 0.8}, *preset);
    EXPECT_EQ(grouped.lr(1), 3e-2);
    for (int step = 1; step <= 20; ++step) {
      set_grads(a, step);
      set_grads(b, step + 100);
      set_grads(a2, step);
      set_grads(b2, step + 100);
      grouped.step();
      only_a.step();
      only_b.step();
    }
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i], a2[i])) << preset->name;
    EXPECT_TRUE(same_bits(b[0], b2[0])) << preset->name;
  }
}

TEST(Optim, ScheduleIsAPlainCallable) {
  const std::vector<Tensor> ps = make_params({{64}}, 11), ref = clones(ps);
  Adam scheduled(ps, {.lr = 1.0});
  std::vector<std::int64_t> seen;
  scheduled.set_lr_schedule([&](std::int64_t step, double base) {
    seen.push_back(step);
    return base * 1e-3 * (step <= 3 ? 1.0 : 0.5);
  });
  Adam manual(ref, {.lr = 1e-3});
  for (int step = 1; step <= 6; ++step) {
    if (step == 4) manual.set_lr(0, 0.5e-3);
    set_grads(ps, step);
    set_grads(ref, step);
    scheduled.step();
    manual.step();
  }
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(same_bits(ps[0], ref[0]));
}

TEST(Optim, Keras2DecayRule) {
  // lr ⊗ (1 ⊘ (1 ⊕ decay ⊗ iterations)) with float32 variables.
  const float expect = 0.01f * (1.0f / (1.0f + 0.1f * 3.0f));
  EXPECT_EQ(decayed_lr(DecayRule::Keras2Float, 0.01, 0.1, 3), static_cast<double>(expect));
  EXPECT_EQ(decayed_lr(DecayRule::Keras2Float, 0.01, 0.0, 3), 0.01);
  // An optimizer with decay uses iterations = completed steps: step 1 has the base lr.
  const std::vector<Tensor> ps = make_params({{8}}, 12), ref = clones(ps);
  SGD decayed(ps, {.lr = 0.01, .decay = 0.1}, presets::keras2_theano);
  SGD manual(ref, {.lr = 0.01}, presets::keras2_theano);
  for (int step = 1; step <= 4; ++step) {
    manual.set_lr(0, decayed_lr(DecayRule::Keras2Float, 0.01, 0.1, step - 1));
    set_grads(ps, step);
    set_grads(ref, step);
    decayed.step();
    manual.step();
  }
  EXPECT_TRUE(same_bits(ps[0], ref[0]));
}

TEST(Optim, PowfExactIsCorrectlyRounded) {
  // fl(0.999)^t against a long double reference (64-bit mantissa: ample for t <= 2000).
  for (float base : {0.9f, 0.999f, 0.85f, 0.995f, 0.5f}) {
    for (std::int64_t t = 0; t <= 2000; t += 7) {
      const long double ref = std::pow(static_cast<long double>(base), static_cast<long double>(t));
      const float got = powf_exact(base, t);
      const float lo = std::nextafter(got, 0.0f), hi = std::nextafter(got, 2.0f);
      EXPECT_LE(std::fabs(static_cast<long double>(got) - ref), std::fabs(static_cast<long double>(lo) - ref))
          << base << "^" << t;
      EXPECT_LE(std::fabs(static_cast<long double>(got) - ref), std::fabs(static_cast<long double>(hi) - ref))
          << base << "^" << t;
    }
  }
  EXPECT_EQ(powf_exact(0.999f, 1), 0.999f);
  EXPECT_EQ(saturate(StepCounter::Float32, (std::int64_t{1} << 24) + 5), std::int64_t{1} << 24);
  EXPECT_EQ(saturate(StepCounter::Int32Saturating, std::int64_t{1} << 40), 2147483647);
}

TEST(Optim, OneMinusConstants) {
  // Reference section 0.3.
  const auto hex = [](float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
  };
  EXPECT_EQ(hex(one_minus(OneMinus::Double, 0.9)), 0x3DCCCCCDu);
  EXPECT_EQ(hex(one_minus(OneMinus::Float, 0.9)), 0x3DCCCCD0u);
  EXPECT_EQ(hex(one_minus(OneMinus::Double, 0.999)), 0x3A83126Fu);
  EXPECT_EQ(hex(one_minus(OneMinus::Float, 0.999)), 0x3A831200u);
  EXPECT_EQ(hex(one_minus(OneMinus::Float, 0.95)), 0x3D4CCCD0u);
}

// state_dict at step 10, load into a fresh optimizer over copies of the
// parameters, 20 more steps: the same bits as 30 uninterrupted steps.
TEST(Optim, StateDictRoundTripResumesBitExactly) {
  for (const Preset* preset : presets::all()) {
    for (Kind kind : {Kind::Adam, Kind::Adadelta, Kind::SgdMomentum, Kind::SgdNesterov}) {
      if (!has(*preset, kind)) continue;
      const std::vector<Tensor> ps = make_params(kShapes, 13);
      std::unique_ptr<Optimizer> run = make(kind, ps, *preset);
      std::vector<Tensor> resumed_ps;
      std::unique_ptr<Optimizer> resumed;
      for (int step = 1; step <= 30; ++step) {
        set_grads(ps, step);
        run->step();
        if (resumed) {
          set_grads(resumed_ps, step);
          resumed->step();
        }
        if (step == 10) {
          resumed_ps = clones(ps);
          resumed = make(kind, resumed_ps, *preset);
          resumed->load_state_dict(run->state_dict());
          EXPECT_EQ(resumed->steps(), 10);
        }
      }
      for (std::size_t i = 0; i < ps.size(); ++i) {
        EXPECT_TRUE(same_bits(ps[i], resumed_ps[i])) << preset->name << " kind " << static_cast<int>(kind);
      }
      // The state itself too (the running beta powers of tf_raw included).
      const StateDict a = run->state_dict(), b = resumed->state_dict();
      for (std::size_t i = 0; i < ps.size(); ++i) {
        for (const auto& [key, t] : a.groups[0].params[i].tensors) {
          EXPECT_TRUE(same_bits(t, b.groups[0].params[i].tensors.at(key))) << preset->name << " " << key;
        }
        EXPECT_EQ(a.groups[0].params[i].scalars, b.groups[0].params[i].scalars) << preset->name;
      }
    }
  }
}

TEST(Optim, StateDictIsACopy) {
  const std::vector<Tensor> ps = make_params({{5}}, 14);
  Adam opt(ps);
  set_grads(ps, 1);
  opt.step();
  const StateDict d = opt.state_dict();
  const std::vector<std::uint32_t> m1 = bits(d.groups[0].params[0].tensors.at("m"));
  set_grads(ps, 2);
  opt.step();
  EXPECT_EQ(bits(d.groups[0].params[0].tensors.at("m")), m1);
  EXPECT_EQ(d.version, StateDict::kFormatVersion);
  EXPECT_EQ(d.optimizer, "Adam");
  EXPECT_EQ(d.preset, "pytorch");
}

// Note [Fused and composed]: for every preset without an FMA site or a hardware
// estimate, composed mode (separate tensor ops) gives the fused kernel's bits,
// FTZ presets included.
TEST(Optim, FusedAndComposedAgreeBitForBitWithoutFmaSites) {
  int compared = 0;
  for (const Preset* preset : presets::all()) {
    for (Kind kind : {Kind::Adam, Kind::Adadelta, Kind::Sgd, Kind::SgdMomentum, Kind::SgdNesterov}) {
      if (!has(*preset, kind)) continue;
      const std::vector<Tensor> fused_ps = make_params(kShapes, 15), composed_ps = clones(fused_ps);
      std::unique_ptr<Optimizer> fused = make(kind, fused_ps, *preset);
      std::unique_ptr<Optimizer> composed = make(kind, composed_ps, *preset);
      try {
        composed->set_execution(Execution::Composed);
      } catch (const Error&) {
        continue;  // an FMA site or a hardware estimate: fused only
      }
      ++compared;
      for (int step = 1; step <= 25; ++step) {
        set_grads(fused_ps, step);
        set_grads(composed_ps, step);
        fused->step();
        composed->step();
        for (std::size_t i = 0; i < fused_ps.size(); ++i) {
          ASSERT_TRUE(same_bits(fused_ps[i], composed_ps[i]))
              << preset->name << " kind " << static_cast<int>(kind) << " step " << step << " tensor " << i;
        }
      }
    }
  }
  EXPECT_GE(compared, 25) << "composed mode covers the presets that round every op to float32";
}

// The AVX2 and the scalar CPU paths give the same bits for every preset, on a
// tensor that spans several parallel chunks and ends in a partial pack.
TEST(Optim, SimdAndScalarPathsAgree) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "this CPU has no AVX2/FMA: only the scalar path exists";
  for (const Preset* preset : presets::all()) {
    for (Kind kind : {Kind::Adam, Kind::Adadelta, Kind::SgdNesterov}) {
      if (!has(*preset, kind)) continue;
      const std::vector<Tensor> simd_ps = make_params({{70003}}, 16), scalar_ps = clones(simd_ps);
      std::unique_ptr<Optimizer> a = make(kind, simd_ps, *preset), b = make(kind, scalar_ps, *preset);
      for (int step = 1; step <= 2; ++step) {
        set_grads(simd_ps, step);
        set_grads(scalar_ps, step);
        set_cpu_simd(true);
        a->step();
        set_cpu_simd(false);
        b->step();
        set_cpu_simd(true);
        ASSERT_TRUE(same_bits(simd_ps[0], scalar_ps[0]))
            << preset->name << " kind " << static_cast<int>(kind);
      }
    }
  }
}

TEST(Optim, NonContiguousParameter) {
  const Tensor base = randn({6, 5}).requires_grad_();
  const Tensor view_param = base.detach().t().requires_grad_();  // 5x6, strided
  ASSERT_FALSE(view_param.is_contiguous());
  const Tensor dense = view_param.contiguous().clone().requires_grad_();
  Adam a({view_param}, {}, presets::keras3_tf), b({dense}, {}, presets::keras3_tf);
  for (int step = 1; step <= 5; ++step) {
    const Tensor g = grad_for({5, 6}, static_cast<std::uint64_t>(step));
    view_param.set_grad(g);
    dense.set_grad(g.clone());
    a.step();
    b.step();
  }
  EXPECT_TRUE(same_bits(view_param, dense));
}

TEST(Optim, AmsgradKeepsTheMaximum) {
  const Tensor p = zeros({1}).requires_grad_();
  Adam opt({p}, {.lr = 1e-3, .amsgrad = true}, presets::keras3_tf);
  for (float g : {3.0f, 0.01f, 0.01f}) {
    p.set_grad(full({1}, g));
    opt.step();
  }
  const StateDict d = opt.state_dict();
  const float v = d.groups[0].params[0].tensors.at("v").item<float>();
  const float vmax = d.groups[0].params[0].tensors.at("vmax").item<float>();
  EXPECT_GT(vmax, v);
  EXPECT_GT(vmax, 0.0f);
}

TEST(Optim, DecoupledWeightDecayIsAppliedBeforeTheUpdate) {
  // PyTorch AdamW: p ⊗ fl(1 - lr·wd) first; with g = 0 (m = v = 0) the update adds -0.
  const Tensor p = full({4}, 2.0f).requires_grad_();
  Adam opt({p}, {.lr = 0.1, .weight_decay = 0.5, .decoupled_weight_decay = true}, presets::pytorch);
  p.set_grad(zeros({4}));
  opt.step();
  EXPECT_EQ(p.to_vector<float>()[0], 2.0f * static_cast<float>(1.0 - 0.1 * 0.5));
}

TEST(Optim, OptaxAdadeltaWithoutLearningRateAscends) {
  // optax.adadelta(learning_rate=None): the update is added unscaled (reference sec. 6).
  const Tensor p = zeros({1}).requires_grad_();
  Adadelta opt({p}, {}, presets::optax_nojit);
  EXPECT_FALSE(opt.hyper(0).has_lr);
  p.set_grad(ones({1}));
  opt.step();
  EXPECT_GT(p.item<float>(), 0.0f);
}

// ---------------------------------------------------------------------------
// The seed issue (docs/NUMERICS.md, "The Keras issue")
// ---------------------------------------------------------------------------

// SGD with momentum 0 is p ⊖ (g ⊗ lr) on Keras 2 with either backend (and on
// raw TF and Keras 3): one product, one difference, both correctly rounded, no
// state. With normal-range gradients every keras2 preset gives the same bits;
// FTZ (TensorFlow) can only change results whose operands or result are subnormal.
TEST(SeedIssue, SgdWithoutMomentumIsBitIdenticalAcrossKeras2Presets) {
  const std::vector<Tensor> theano = make_params(kShapes, 17), tf = clones(theano), raw = clones(theano),
                            k3 = clones(theano);
  SGD a(theano, {.lr = 0.01}, presets::keras2_theano), b(tf, {.lr = 0.01}, presets::keras2_tensorflow),
      c(raw, {.lr = 0.01}, presets::tf_raw), d(k3, {.lr = 0.01}, presets::keras3_tf);
  for (int step = 1; step <= 100; ++step) {
    for (const auto* ps : {&theano, &tf, &raw, &k3}) set_grads(*ps, step, /*extremes=*/false);
    a.step();
    b.step();
    c.step();
    d.step();
  }
  for (std::size_t i = 0; i < theano.size(); ++i) {
    EXPECT_TRUE(same_bits(theano[i], tf[i]));
    EXPECT_TRUE(same_bits(theano[i], raw[i]));
    EXPECT_TRUE(same_bits(theano[i], k3[i]));
  }
}

// What the seed issue saw: a last-bit difference in a gradient (as two
// backends' convolutions produce) moves SGD's step by about one ulp of the
// step, but Adam's first step by up to lr: Adam normalises the gradient, so tiny
// components get full-size, sign-sensitive steps.
TEST(SeedIssue, AdamAmplifiesLastBitGradientDifferencesAndSgdDoesNot) {
  const std::vector<float> g = {1e-9f, -3e-8f, 2e-7f, 0.5f};
  std::vector<float> g2 = g;
  for (float& x : g2) x = std::nextafter(x, 1.0f);  // one ulp apart
  const auto first_step = [](const Preset& preset, const std::vector<float>& grad, bool adam) {
    const Tensor p = zeros({4}).requires_grad_();
    std::unique_ptr<Optimizer> opt;
    if (adam)
      opt = std::make_unique<Adam>(std::vector<Tensor>{p}, AdamOptions{}, preset);
    else
      opt = std::make_unique<SGD>(std::vector<Tensor>{p}, SgdOptions{}, preset);
    p.set_grad(from_vector(grad));
    opt->step();
    return p.to_vector<float>();
  };
  const std::vector<float> s1 = first_step(presets::keras2_theano, g, false);
  const std::vector<float> s2 = first_step(presets::keras2_theano, g2, false);
  const std::vector<float> a1 = first_step(presets::keras2_theano, g, true);
  const std::vector<float> a2 = first_step(presets::keras2_theano, g2, true);
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_LE(std::fabs(s1[i] - s2[i]), 2 * std::fabs(std::nextafter(s1[i], 1.0f) - s1[i])) << i;
  }
  // Keras 2 Adam's first step is lr_t·g/(|g| + eps): for |g| ~ eps it is a sizeable
  // fraction of lr; the t-ahead race alone changes it by 26%.
  const std::vector<float> race = first_step(presets::keras2_tensorflow_t_ahead, g, true);
  EXPECT_NEAR(a1[3] / race[3], 0.31622776 / 0.23531580, 1e-3);  // sqrt(1-b2)/(1-b1) at t=1 vs t=2
  EXPECT_NE(a1[0], a2[0]);
}

}  // namespace
