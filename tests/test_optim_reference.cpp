// The optimizers against independent references: each test steps a Parity
// optimizer and a plain float32 loop written here from the framework's own
// update (its source, in its evaluation order: the formulas of docs/NUMERICS.md),
// on fresh random inputs (Note [Test seeds], tests/reference.h), and compares
// the parameter and every state tensor bit for bit after every step, on the
// AVX2 and the scalar CPU paths (and in composed mode where the preset allows
// it). They cover what the golden traces do not exercise: AMSGrad, every
// weight-decay form, PyTorch's dampening, Nesterov momentum in each convention,
// Keras 2's `decay` (both rules), and the step counters' saturation.
//
// The references never call Parity's update functors or host-scalar helpers:
// each operator below is one float32 rounding (this file is compiled with
// -ffp-contract=off, tests/CMakeLists.txt), std::fma stands where the
// framework's kernel fuses, and the bias corrections are computed as the
// framework computes them (std::pow in double, glibc's powf, or a correctly
// rounded powf from long double). Each test first checks that its preset still
// has the knobs its reference reproduces, so a preset edited away from them
// fails with that message instead of a bit difference.
//
// Presets with flush-to-zero: the inputs keep every value the reference meets
// normal (Ref::n counts those that are not, and the count must stay 0), so FTZ
// has nothing to flush and the plain operators are the preset's arithmetic.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "reference.h"

using namespace parity;
using namespace parity::optim;
using parity::testing::TestRng;

namespace {

using Vec = std::vector<float>;
using Tensors = std::map<std::string, Vec>;

std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

std::string show(float x) {
  std::ostringstream out;
  out << std::setprecision(9) << x << " (0x" << std::hex << std::uppercase << std::setw(8)
      << std::setfill('0') << bits_of(x) << ")";
  return out.str();
}

std::int64_t count_differing(const Vec& a, const Vec& b) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += bits_of(a[i]) != bits_of(b[i]) ? 1 : 0;
  return n;
}

// Bit for bit (+0 differs from -0; the inputs make no NaN).
::testing::AssertionResult same_bits(const Vec& got, const Vec& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " elements, the reference has " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (bits_of(got[i]) != bits_of(want[i])) {
      return ::testing::AssertionFailure()
             << count_differing(got, want) << " of " << got.size() << " elements differ; first [" << i
             << "]: Parity " << show(got[i]) << ", reference " << show(want[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- inputs ----

struct Inputs {
  Vec p;               // the initial parameter
  std::vector<Vec> g;  // one gradient per step
};

// n = 8k + r elements (1 <= r <= 7: the AVX2 path's scalar tail runs too), the
// parameter uniform in [-2, 2), and `steps` gradients with magnitudes
// log-uniform in [10^lo, 10^hi), random signs, about one element in 16 exactly 0.
Inputs draw_inputs(TestRng& rng, int steps, double lo = -3.0, double hi = 1.0) {
  const std::int64_t n = 8 * rng.integer(2, 40) + rng.integer(1, 7);
  Inputs in;
  for (std::int64_t i = 0; i < n; ++i) in.p.push_back(static_cast<float>(rng.uniform(-2.0, 2.0)));
  for (int s = 0; s < steps; ++s) {
    Vec g;
    for (std::int64_t i = 0; i < n; ++i) {
      const double magnitude = std::pow(10.0, rng.uniform(lo, hi));
      g.push_back(rng.integer(0, 15) == 0 ? 0.0f : static_cast<float>(rng.coin() ? magnitude : -magnitude));
    }
    in.g.push_back(std::move(g));
  }
  return in;
}

Vec uniform_vec(TestRng& rng, std::size_t n, double lo, double hi) {
  Vec v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<float>(rng.uniform(lo, hi)));
  return v;
}

// ---- the reference's state and the comparison ----

struct Ref {
  Vec p;
  Tensors state;                // named as Parity's state tensors; compared when present
  float fcount = 0;             // a float32 step counter (x + 1 rounds back to x at 2^24)
  std::int64_t count = 0;       // an integer step counter
  std::int64_t subnormals = 0;  // values met that flush-to-zero would change (FTZ presets: must stay 0)
  float n(float x) {
    if (x != 0.0f && std::fabs(x) < FLT_MIN) ++subnormals;
    return x;
  }
  Vec& tensor(const std::string& key) {
    Vec& v = state[key];
    v.resize(p.size(), 0.0f);
    return v;
  }
};

using RefStep = std::function<void(Ref&, const Vec& g)>;
using MakeOpt = std::function<std::unique_ptr<Optimizer>(const Tensor& param)>;
using Prepare = std::function<void(Optimizer&)>;

struct SimdRestore {
  ~SimdRestore() { set_cpu_simd(true); }
};

enum class Path { Simd, Scalar, Composed };

const char* path_name(Path p) {
  return p == Path::Simd ? "fused, AVX2 path" : p == Path::Scalar ? "fused, scalar path" : "composed";
}

// Steps Parity's optimizer (made by `make` over one parameter holding in.p, then
// `prepare`d) and the reference (from `start`, its p set to in.p) through the
// gradients, comparing the parameter and the reference's state tensors bit for
// bit after every step; on each path. Returns the reference's final state.
Ref expect_matches_reference(const Inputs& in, const MakeOpt& make, const Ref& start, const RefStep& step,
                             bool composed = false, const Prepare& prepare = {}) {
  SimdRestore restore;
  std::vector<Path> paths = {Path::Simd, Path::Scalar};
  if (composed) paths.push_back(Path::Composed);
  Ref ref;
  for (Path path : paths) {
    SCOPED_TRACE(path_name(path));
    set_cpu_simd(path != Path::Scalar);
    const Tensor param = from_vector(in.p).requires_grad_();
    std::unique_ptr<Optimizer> opt = make(param);
    if (prepare) prepare(*opt);
    if (path == Path::Composed) opt->set_execution(Execution::Composed);
    ref = start;
    ref.p = in.p;
    for (std::size_t k = 0; k < in.g.size(); ++k) {
      param.set_grad(from_vector(in.g[k]));
      opt->step();
      step(ref, in.g[k]);
      EXPECT_TRUE(same_bits(param.to_vector<float>(), ref.p)) << "the parameter after step " << k + 1;
      const StateDict d = opt->state_dict();
      const auto& tensors = d.groups.at(0).params.at(0).tensors;
      for (const auto& [key, want] : ref.state) {
        const auto found = tensors.find(key);
        if (found == tensors.end()) {
          ADD_FAILURE() << "Parity's optimizer has no state '" << key << "' after step " << k + 1;
          continue;
        }
        EXPECT_TRUE(same_bits(found->second.to_vector<float>(), want))
            << "state '" << key << "' after step " << k + 1;
      }
      if (::testing::Test::HasFailure()) return ref;  // the first differing step is the informative one
    }
    EXPECT_EQ(ref.subnormals, 0) << "the inputs are meant to keep every value normal, so that flush-to-zero "
                                    "(if the preset has it) changes nothing the reference computes";
  }
  return ref;
}

// Parity's parameter after the inputs' steps (fused, default path).
Vec parity_result(const Inputs& in, const MakeOpt& make, const Prepare& prepare = {}) {
  const Tensor param = from_vector(in.p).requires_grad_();
  std::unique_ptr<Optimizer> opt = make(param);
  if (prepare) prepare(*opt);
  for (const Vec& g : in.g) {
    param.set_grad(from_vector(g));
    opt->step();
  }
  return param.to_vector<float>();
}

Ref reference_result(const Inputs& in, Ref ref, const RefStep& step) {
  ref.p = in.p;
  for (const Vec& g : in.g) step(ref, g);
  return ref;
}

// Loads a state whose step counts (the optimizer's and each parameter's) are
// `count`, with the given state tensors: a run that has already taken `count` steps.
Prepare load_count(std::int64_t count, Tensors tensors) {
  return [count, tensors](Optimizer& opt) {
    StateDict d = opt.state_dict();
    d.steps = count;
    for (StateDict::Group& g : d.groups) {
      for (StateDict::Param& p : g.params) {
        p.initialized = true;
        p.step = count;
        for (const auto& [key, v] : tensors) p.tensors[key] = from_vector(v);
      }
    }
    opt.load_state_dict(d);
  };
}

// Knob preconditions: the reference of a test reproduces these.
#define KNOB(cond) \
  if (!(cond)) return ::testing::AssertionFailure() << "the reference reproduces a preset with " #cond
#define KNOBS_OK return ::testing::AssertionSuccess()

// ---- counters ----

enum class Counter { Float32, Int32Saturating, Int64 };

// Advances the reference's step counter as the framework's counter dtype does
// and returns the step number t of this step.
double next_t(Ref& r, Counter c) {
  switch (c) {
    case Counter::Float32:
      r.fcount = r.fcount + 1.0f;  // a float32 tensor: step_t += 1
      return r.fcount;
    case Counter::Int32Saturating:
      // optax's safe_increment: where(count < max, count + 1, max) in int32.
      r.count = r.count < std::numeric_limits<std::int32_t>::max() ? r.count + 1 : r.count;
      return static_cast<double>(r.count);
    case Counter::Int64:
      r.count += 1;
      return static_cast<double>(r.count);
  }
  return 0;
}

// What a float32 counter holds after n increments from 0, by doing them.
float float32_counter_after(std::int64_t n) {
  volatile std::int64_t limit = n;
  float c = 0.0f;
  for (std::int64_t i = 0; i < limit; ++i) c = c + 1.0f;
  return c;
}

// powf(b, t) correctly rounded (BetaPower::PowFloat: keras2_tensorflow, lasagne):
// long double pow (64-bit significand) rounded to float32, which is the correct
// rounding unless the exact power lies within about 2^-63 (relative) of a
// float32 rounding boundary.
float powf_correctly_rounded(float b, float t) {
  return static_cast<float>(std::pow(static_cast<long double>(b), static_cast<long double>(t)));
}

// glibc's powf, as TF's tf.pow, XLA:CPU and torch.pow call it (PowFloatLibm).
float powf_libm(float b, float t) {
  volatile float base = b;  // not folded by the compiler's own pow
  return std::pow(static_cast<float>(base), t);
}

// ---- Adam ----

struct AdamRef {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0.0;
  bool decoupled = false, amsgrad = false;
  Counter counter = Counter::Float32;
  double decay = 0.0;  // Keras 2
  DecayRule rule = DecayRule::Keras2Float;
  bool decay_counter_stops = true;  // false: a wrong reference whose decay counts past 2^24
};

AdamOptions adam_options(const AdamRef& h) {
  return {.lr = h.lr,
          .beta1 = h.beta1,
          .beta2 = h.beta2,
          .eps = h.eps,
          .weight_decay = h.wd,
          .decoupled_weight_decay = h.decoupled,
          .amsgrad = h.amsgrad,
          .decay = h.decay};
}

MakeOpt make_adam(const AdamRef& h, const Preset& preset) {
  return [h, preset](const Tensor& p) {
    return std::make_unique<Adam>(std::vector<Tensor>{p}, adam_options(h), preset);
  };
}

Ref adam_start(const AdamRef& h, std::size_t n) {
  Ref r;
  r.state["m"] = Vec(n, 0.0f);
  r.state["v"] = Vec(n, 0.0f);
  if (h.amsgrad) r.state["vmax"] = Vec(n, 0.0f);
  return r;
}

// PyTorch torch/optim/adam.py, _single_tensor_adam, CPU kernels with AVX2:
//   step_t += 1 (float32: the `pytorch` preset; Int32/Int64 for custom counters)
//   grad = grad.add(param, alpha=wd)                   L2: fmadd(param, wd, grad)
//   param.mul_(1 - lr * wd)                            AdamW (the factor a double)
//   exp_avg.lerp_(grad, 1 - beta1)                     w < 0.5 ? fma(w, g-m, m) : fma(w-1, g-m, g)
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)   fma(C2 g, g, v b2)
//   bias_correction = 1 - beta ** step; step_size = lr / bc1; bc2_sqrt = sqrt(bc2)  (doubles)
//   amsgrad: torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
//   denom = (sqrt(v) / bc2_sqrt).add_(eps); param.addcdiv_(exp_avg, denom, value=-step_size)
RefStep pytorch_adam(const AdamRef h) {
  return [h](Ref& r, const Vec& grad) {
    const double step = next_t(r, h.counter);
    const float b2 = static_cast<float>(h.beta2);
    const float c1 = static_cast<float>(1.0 - h.beta1), c2 = static_cast<float>(1.0 - h.beta2);
    const float wd = static_cast<float>(h.wd), eps = static_cast<float>(h.eps);
    const double bc1 = 1.0 - std::pow(h.beta1, step), bc2 = 1.0 - std::pow(h.beta2, step);
    const float neg_step_size = static_cast<float>(-(h.lr / bc1));
    const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
    const float decay_factor = static_cast<float>(1.0 - h.lr * h.wd);
    Vec &m = r.tensor("m"), &v = r.tensor("v");
    Vec* vmax = h.amsgrad ? &r.tensor("vmax") : nullptr;
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      float p = r.p[i], g = grad[i];
      if (h.wd != 0.0 && !h.decoupled) g = std::fma(p, wd, g);
      if (h.wd != 0.0 && h.decoupled) p = p * decay_factor;
      const float diff = g - m[i];
      m[i] = std::fabs(c1) < 0.5f ? std::fma(c1, diff, m[i]) : std::fma(c1 - 1.0f, diff, g);
      v[i] = std::fma(c2 * g, g, v[i] * b2);
      float vv = v[i];
      if (vmax != nullptr) {
        (*vmax)[i] = (*vmax)[i] < v[i] ? v[i] : (*vmax)[i];
        vv = (*vmax)[i];
      }
      const float denom = std::sqrt(vv) / bc2_sqrt + eps;
      r.p[i] = p + (neg_step_size * m[i]) / denom;
    }
  };
}

::testing::AssertionResult pytorch_adam_knobs(const Preset& p) {
  KNOB(p.adam.one_minus == OneMinus::Double);
  KNOB(p.adam.beta_power == BetaPower::PowDouble);
  KNOB(p.adam.t_offset == 0);
  KNOB(p.step_scope == StepScope::Parameter);
  KNOB(p.adam.vec_width == 0);
  KNOB(!p.adam.body.ftz);
  KNOB(p.adam.body.m == AdamM::Lerp);
  KNOB(p.adam.body.v == AdamV::FmaCgG);
  KNOB(p.adam.body.form == AdamForm::Torch);
  KNOB(p.adam.body.param == AdamParam::Addcdiv);
  KNOB(p.adam.body.denom == AdamDenom::Div);
  KNOB(p.adam.body.l2 == L2Form::Fma);
  KNOB(p.adam.body.decoupled == DecoupledForm::TorchMul);
  KNOBS_OK;
}

// Keras 3 keras/src/optimizers/adam.py update_step, TF backend in a tf.function
// (`keras3_tf`; FTZ on, every op its own float32 kernel):
//   local_step = cast(iterations + 1, float32); beta_power = ops.power(cast(beta), local_step)  glibc powf
//   alpha = lr * sqrt(1 - beta_2_power) / (1 - beta_1_power)
//   m += (g - m) * (1 - beta_1);  v += (square(g) - v) * (1 - beta_2)       (1 - beta: Python floats)
//   amsgrad: v_hat = maximum(v_hat, v); v = v_hat
//   variable -= (m * alpha) / (sqrt(v) + epsilon)
// and BaseOptimizer._apply_weight_decay before it: variable - variable * wd * lr.
RefStep keras3_adam(const AdamRef h) {
  return [h](Ref& r, const Vec& grad) {
    const float local_step = static_cast<float>(next_t(r, Counter::Int64));
    const float lr = static_cast<float>(h.lr), wd = static_cast<float>(h.wd), eps = static_cast<float>(h.eps);
    const float c1 = static_cast<float>(1.0 - h.beta1), c2 = static_cast<float>(1.0 - h.beta2);
    const float p1 = r.n(powf_libm(static_cast<float>(h.beta1), local_step));
    const float p2 = r.n(powf_libm(static_cast<float>(h.beta2), local_step));
    const float alpha = r.n(r.n(lr * r.n(std::sqrt(r.n(1.0f - p2)))) / r.n(1.0f - p1));
    Vec &m = r.tensor("m"), &v = r.tensor("v");
    Vec* vhat = h.amsgrad ? &r.tensor("vmax") : nullptr;
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      float p = r.p[i];
      const float g = grad[i];
      if (h.wd != 0.0) p = r.n(p - r.n(r.n(p * wd) * lr));
      m[i] = r.n(m[i] + r.n(r.n(g - m[i]) * c1));
      v[i] = r.n(v[i] + r.n(r.n(r.n(g * g) - v[i]) * c2));
      float vv = v[i];
      if (vhat != nullptr) {
        (*vhat)[i] = (*vhat)[i] < v[i] ? v[i] : (*vhat)[i];
        vv = (*vhat)[i];
      }
      r.p[i] = r.n(p - r.n(r.n(m[i] * alpha) / r.n(r.n(std::sqrt(vv)) + eps)));
    }
  };
}

::testing::AssertionResult keras3_adam_knobs(const Preset& p) {
  KNOB(p.adam.one_minus == OneMinus::Double);
  KNOB(p.adam.beta_power == BetaPower::PowFloatLibm);
  KNOB(p.adam.counter == StepCounter::Int64);
  KNOB(p.adam.t_offset == 0);
  KNOB(p.adam.alpha == AdamAlpha::LrSqrtDiv);
  KNOB(p.adam.vec_width == 0);
  KNOB(p.adam.body.m == AdamM::Delta);
  KNOB(p.adam.body.v == AdamV::Delta);
  KNOB(p.adam.body.form == AdamForm::EpsHat);
  KNOB(p.adam.body.param == AdamParam::Sub);
  KNOB(p.adam.body.decoupled == DecoupledForm::KerasSub);
  KNOBS_OK;
}

// flashlight fl/optim/AdamOptimizer.cpp step() (`flashlight`; float members, int count_):
//   count_++;
//   float correctedBias1 = 1 - std::pow(beta1_, count_);        (std::pow(float, int) is a double pow)
//   float correctedLr = lr_ * std::sqrt(correctedBias2) / correctedBias1;
//   data = data - wd_ * lr_ * data;                             (decoupled weight decay)
//   biasedFirst = beta1_ * biasedFirst + (1 - beta1_) * grad;
//   biasedSecond = beta2_ * biasedSecond + (1 - beta2_) * grad * grad;
//   data = data - (correctedLr * biasedFirst) / (fl::sqrt(biasedSecond) + eps_);
// Coupled L2 (not flashlight's, the preset's L2Form::Add): grad + wd * param.
RefStep flashlight_adam(const AdamRef h) {
  return [h](Ref& r, const Vec& grad) {
    const auto count = static_cast<int>(next_t(r, Counter::Int32Saturating));
    const float beta1 = static_cast<float>(h.beta1), beta2 = static_cast<float>(h.beta2);
    const float lr = static_cast<float>(h.lr), wd = static_cast<float>(h.wd), eps = static_cast<float>(h.eps);
    const float bias1 = 1 - std::pow(beta1, count);
    const float bias2 = 1 - std::pow(beta2, count);
    const float corrected_lr = lr * std::sqrt(bias2) / bias1;
    const float wd_lr = wd * lr;
    Vec &m = r.tensor("m"), &v = r.tensor("v");
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      float p = r.p[i], g = grad[i];
      if (h.wd != 0.0 && !h.decoupled) g = g + wd * p;
      if (h.wd != 0.0 && h.decoupled) p = p - wd_lr * p;
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      r.p[i] = p - (corrected_lr * m[i]) / (std::sqrt(v[i]) + eps);
    }
  };
}

::testing::AssertionResult flashlight_adam_knobs(const Preset& p) {
  KNOB(p.adam.one_minus == OneMinus::Float);
  KNOB(p.adam.beta_power == BetaPower::PowDoubleOfFloat);
  KNOB(p.adam.counter == StepCounter::Int32Saturating);
  KNOB(p.adam.t_offset == 0);
  KNOB(p.adam.alpha == AdamAlpha::HostDoubleBc);
  KNOB(p.adam.vec_width == 0);
  KNOB(!p.adam.body.ftz);
  KNOB(p.adam.body.m == AdamM::Ema);
  KNOB(p.adam.body.v == AdamV::EmaCgG);
  KNOB(p.adam.body.form == AdamForm::EpsHat);
  KNOB(p.adam.body.param == AdamParam::Sub);
  KNOB(p.adam.body.l2 == L2Form::Add);
  KNOB(p.adam.body.decoupled == DecoupledForm::FlashlightSub);
  KNOBS_OK;
}

// Keras 2.0.4 keras/optimizers.py Adam.get_updates on TensorFlow (`keras2_tensorflow`;
// lr, beta_1, beta_2, decay and iterations float32 variables, FTZ on):
//   if initial_decay > 0: lr *= (1. / (1. + decay * iterations))     (Keras2Float)
//   t = iterations + 1
//   lr_t = lr * (sqrt(1. - pow(beta_2, t)) / (1. - pow(beta_1, t)))  (pow correctly rounded: PowFloat)
//   m_t = (beta_1 * m) + (1. - beta_1) * g;  v_t = (beta_2 * v) + (1. - beta_2) * square(g)
//   p_t = p - lr_t * m_t / (sqrt(v_t) + epsilon);  iterations += 1
// InverseTimeDouble: lr_t = fl(lr / (1 + decay * iterations)) in double (iterations an integer).
RefStep keras2_adam(const AdamRef h) {
  return [h](Ref& r, const Vec& grad) {
    const float it = r.fcount;  // iterations before this step's increment
    float lr = static_cast<float>(h.lr);
    if (h.decay > 0.0) {
      if (h.rule == DecayRule::Keras2Float) {
        const float decay_it = h.decay_counter_stops ? it : static_cast<float>(r.count);
        lr = r.n(lr * r.n(1.0f / r.n(1.0f + r.n(static_cast<float>(h.decay) * decay_it))));
      } else {
        lr = static_cast<float>(h.lr / (1.0 + h.decay * static_cast<double>(r.count)));
      }
    }
    const float t = it + 1.0f;
    const float beta1 = static_cast<float>(h.beta1), beta2 = static_cast<float>(h.beta2);
    const float eps = static_cast<float>(h.eps);
    const float p1 = r.n(powf_correctly_rounded(beta1, t)), p2 = r.n(powf_correctly_rounded(beta2, t));
    const float lr_t = r.n(lr * r.n(r.n(std::sqrt(r.n(1.0f - p2))) / r.n(1.0f - p1)));
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
    Vec &m = r.tensor("m"), &v = r.tensor("v");
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      const float g = grad[i];
      m[i] = r.n(r.n(beta1 * m[i]) + r.n(c1 * g));
      v[i] = r.n(r.n(beta2 * v[i]) + r.n(c2 * r.n(g * g)));
      r.p[i] = r.n(r.p[i] - r.n(r.n(lr_t * m[i]) / r.n(r.n(std::sqrt(v[i])) + eps)));
    }
    r.fcount = r.fcount + 1.0f;
    r.count += 1;
  };
}

::testing::AssertionResult keras2_adam_knobs(const Preset& p) {
  KNOB(p.step_scope == StepScope::Optimizer);
  KNOB(p.adam.one_minus == OneMinus::Float);
  KNOB(p.adam.beta_power == BetaPower::PowFloat);
  KNOB(p.adam.counter == StepCounter::Float32);
  KNOB(p.adam.t_offset == 0);
  KNOB(p.adam.alpha == AdamAlpha::LrMulRatio);
  KNOB(p.adam.vec_width == 0);
  KNOB(p.adam.body.m == AdamM::Ema);
  KNOB(p.adam.body.v == AdamV::Ema);
  KNOB(p.adam.body.form == AdamForm::EpsHat);
  KNOB(p.adam.body.param == AdamParam::Sub);
  KNOBS_OK;
}

// ---- SGD ----

struct SgdRef {
  double lr = 0.01, momentum = 0.0, dampening = 0.0, wd = 0.0;
  bool nesterov = false;
  double decay = 0.0;  // Keras 2
  DecayRule rule = DecayRule::Keras2Float;
};

MakeOpt make_sgd(const SgdRef& h, const Preset& preset) {
  return [h, preset](const Tensor& p) {
    const SgdOptions o{.lr = h.lr,
                       .momentum = h.momentum,
                       .nesterov = h.nesterov,
                       .dampening = h.dampening,
                       .weight_decay = h.wd,
                       .decay = h.decay};
    return std::make_unique<SGD>(std::vector<Tensor>{p}, o, preset);
  };
}

// PyTorch torch/optim/sgd.py, _single_tensor_sgd:
//   grad = grad.add(param, alpha=weight_decay)
//   buf = clone(grad) at the first step, else buf.mul_(momentum).add_(grad, alpha=1 - dampening)
//   grad = grad.add(buf, alpha=momentum) (Nesterov) or buf
//   param.add_(grad, alpha=-lr)
// a.add(b, alpha=c) is a + c * b; ATen's AVX2 kernel computes it as fmadd(b, c, a)
// (`fused_add`: the `pytorch` preset), the plain scalar loop as two roundings.
RefStep pytorch_sgd(const SgdRef h, bool fused_add) {
  return [h, fused_add](Ref& r, const Vec& grad) {
    const auto add = [fused_add](float a, float b, float alpha) {
      return fused_add ? std::fma(b, alpha, a) : a + alpha * b;
    };
    const float wd = static_cast<float>(h.wd), mu = static_cast<float>(h.momentum);
    const float one_minus_dampening = static_cast<float>(1.0 - h.dampening);
    const float neg_lr = static_cast<float>(-h.lr);
    const bool first = r.state.count("momentum") == 0;
    Vec* buf = h.momentum != 0.0 ? &r.tensor("momentum") : nullptr;
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      float g = grad[i];
      if (h.wd != 0.0) g = add(g, r.p[i], wd);
      if (buf != nullptr) {
        float& b = (*buf)[i];
        b = first ? g : add(b * mu, g, one_minus_dampening);
        g = h.nesterov ? add(g, b, mu) : b;
      }
      r.p[i] = add(r.p[i], g, neg_lr);
    }
  };
}

// Keras 3 keras/src/optimizers/sgd.py update_step (momentum m starts at 0):
//   m = m * momentum - gradient * lr;  variable += m * momentum - gradient * lr (Nesterov) or m
//   no momentum: variable -= gradient * lr
// `keras3_tf` runs each op as its own kernel; `keras3_jax` (XLA) fuses every
// site: m = fma(m, mu, -(g lr)), Nesterov p + fma(m, mu, -(g lr)), else fma(g, -lr, p).
RefStep keras3_sgd(const SgdRef h, bool xla) {
  return [h, xla](Ref& r, const Vec& grad) {
    const float lr = static_cast<float>(h.lr), mu = static_cast<float>(h.momentum);
    const float neg_lr = static_cast<float>(-h.lr);
    Vec* m = h.momentum != 0.0 ? &r.tensor("momentum") : nullptr;
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      const float g = grad[i];
      float& p = r.p[i];
      if (m == nullptr) {
        p = xla ? r.n(std::fma(g, neg_lr, p)) : r.n(p - r.n(g * lr));
        continue;
      }
      const float gl = r.n(g * lr);
      float& mi = (*m)[i];
      mi = xla ? r.n(std::fma(mi, mu, -gl)) : r.n(r.n(mi * mu) - gl);
      if (h.nesterov) {
        p = r.n(p + (xla ? r.n(std::fma(mi, mu, -gl)) : r.n(r.n(mi * mu) - gl)));
      } else {
        p = r.n(p + mi);
      }
    }
  };
}

// Keras 2.0.4 keras/optimizers.py SGD.get_updates (`keras2_tensorflow`; float32 variables):
//   if initial_decay > 0: lr *= (1. / (1. + decay * iterations)); iterations += 1
//   v = momentum * m - lr * g;  m = v
//   new_p = p + momentum * v - lr * g (Nesterov) or p + v
// With momentum 0 the velocity is -(lr g) exactly, so new_p = p - g * lr.
RefStep keras2_sgd(const SgdRef h) {
  return [h](Ref& r, const Vec& grad) {
    float lr = static_cast<float>(h.lr);
    if (h.decay > 0.0) {
      if (h.rule == DecayRule::Keras2Float) {
        lr = r.n(lr * r.n(1.0f / r.n(1.0f + r.n(static_cast<float>(h.decay) * r.fcount))));
      } else {
        lr = static_cast<float>(h.lr / (1.0 + h.decay * static_cast<double>(r.count)));
      }
    }
    const float mu = static_cast<float>(h.momentum);
    Vec* m = h.momentum != 0.0 ? &r.tensor("momentum") : nullptr;
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      const float g = grad[i];
      float& p = r.p[i];
      if (m == nullptr) {
        p = r.n(p - r.n(g * lr));
        continue;
      }
      float& mi = (*m)[i];
      mi = r.n(r.n(mu * mi) - r.n(lr * g));
      p = h.nesterov ? r.n(r.n(p + r.n(mu * mi)) - r.n(lr * g)) : r.n(p + mi);
    }
    r.fcount = r.fcount + 1.0f;
    r.count += 1;
  };
}

// ---- Adadelta ----

struct AdadeltaRef {
  double lr = 1.0, rho = 0.9, eps = 1e-6, wd = 0.0;
  bool decoupled = false;
};

MakeOpt make_adadelta(const AdadeltaRef& h, const Preset& preset) {
  return [h, preset](const Tensor& p) {
    const AdadeltaOptions o{
        .lr = h.lr, .rho = h.rho, .eps = h.eps, .weight_decay = h.wd, .decoupled_weight_decay = h.decoupled};
    return std::make_unique<Adadelta>(std::vector<Tensor>{p}, o, preset);
  };
}

// PyTorch torch/optim/adadelta.py, _single_tensor_adadelta, AVX2 kernels (`pytorch`):
//   grad = grad.add(param, alpha=weight_decay)                       fmadd(param, wd, grad)
//   square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)          fma(C g, g, a rho)
//   std = square_avg.add(eps).sqrt_(); delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
//   acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho);  param.add_(delta, alpha=-lr)
RefStep pytorch_adadelta(const AdadeltaRef h) {
  return [h](Ref& r, const Vec& grad) {
    const float rho = static_cast<float>(h.rho), c = static_cast<float>(1.0 - h.rho);
    const float eps = static_cast<float>(h.eps), wd = static_cast<float>(h.wd);
    const float neg_lr = static_cast<float>(-h.lr);
    Vec &a = r.tensor("accum_grad"), &d = r.tensor("accum_update");
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      float g = grad[i];
      if (h.wd != 0.0) g = std::fma(r.p[i], wd, g);
      a[i] = std::fma(c * g, g, a[i] * rho);
      const float std_ = std::sqrt(a[i] + eps);
      const float delta = std::sqrt(d[i] + eps) / std_ * g;
      d[i] = std::fma(c * delta, delta, d[i] * rho);
      r.p[i] = std::fma(delta, neg_lr, r.p[i]);
    }
  };
}

// flashlight fl/optim/AdadeltaOptimizer.cpp step() (`flashlight`; float members):
//   data = data - wd_ * data;                                   (decoupled, no lr)
//   accGrad = rho_ * accGrad + (1 - rho_) * grad * grad;
//   delta = fl::sqrt(accDelta + eps_) / fl::sqrt(accGrad + eps_) * grad;
//   data = data - lr_ * delta;  accDelta = rho_ * accDelta + (1 - rho_) * delta * delta;
// Coupled L2 (the preset's L2Form::Add): grad + wd * param.
RefStep flashlight_adadelta(const AdadeltaRef h) {
  return [h](Ref& r, const Vec& grad) {
    const float rho = static_cast<float>(h.rho), eps = static_cast<float>(h.eps);
    const float lr = static_cast<float>(h.lr), wd = static_cast<float>(h.wd);
    Vec &a = r.tensor("accum_grad"), &d = r.tensor("accum_update");
    for (std::size_t i = 0; i < r.p.size(); ++i) {
      float p = r.p[i], g = grad[i];
      if (h.wd != 0.0 && !h.decoupled) g = g + wd * p;
      if (h.wd != 0.0 && h.decoupled) p = p - wd * p;
      a[i] = rho * a[i] + (1 - rho) * g * g;
      const float delta = std::sqrt(d[i] + eps) / std::sqrt(a[i] + eps) * g;
      r.p[i] = p - lr * delta;
      d[i] = rho * d[i] + (1 - rho) * delta * delta;
    }
  };
}

// ---------------------------------------------------------------------------
// AMSGrad
// ---------------------------------------------------------------------------

// Gradients shrinking and growing at random (magnitudes over five decades), so
// the running maximum of v often exceeds v itself.
TEST(OptimReference, AmsgradTorchForm) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  ASSERT_TRUE(pytorch_adam_knobs(preset));
  ASSERT_EQ(preset.adam.counter, StepCounter::Float32);
  const AdamRef h{.lr = rng.uniform(1e-3, 3e-2),
                  .beta1 = rng.uniform(0.8, 0.95),
                  .beta2 = rng.uniform(0.99, 0.9995),
                  .amsgrad = true};
  const Inputs in = draw_inputs(rng, 12, -4.0, 1.0);
  const Ref end =
      expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), pytorch_adam(h));
  // The maximum mattered: it is above v somewhere, and Adam without it moves elsewhere.
  EXPECT_GT(count_differing(end.state.at("vmax"), end.state.at("v")), 0);
  AdamRef plain = h;
  plain.amsgrad = false;
  EXPECT_GT(count_differing(parity_result(in, make_adam(h, preset)),
                            reference_result(in, adam_start(plain, in.p.size()), pytorch_adam(plain)).p),
            0);
}

TEST(OptimReference, AmsgradKeras3) {
  TestRng rng;
  const Preset& preset = presets::keras3_tf;
  ASSERT_TRUE(keras3_adam_knobs(preset));
  const AdamRef h{.lr = rng.uniform(1e-3, 3e-2),
                  .beta1 = rng.uniform(0.8, 0.95),
                  .beta2 = rng.uniform(0.99, 0.9995),
                  .eps = 1e-7,
                  .amsgrad = true};
  const Inputs in = draw_inputs(rng, 12, -3.0, 1.0);
  const Ref end =
      expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), keras3_adam(h),
                               /*composed=*/true);
  EXPECT_GT(count_differing(end.state.at("vmax"), end.state.at("v")), 0);
  AdamRef plain = h;
  plain.amsgrad = false;
  EXPECT_GT(count_differing(parity_result(in, make_adam(h, preset)),
                            reference_result(in, adam_start(plain, in.p.size()), keras3_adam(plain)).p),
            0);
}

// ---------------------------------------------------------------------------
// Weight decay: coupled (L2Form Add, Fma) and decoupled (TorchMul, KerasSub, FlashlightSub)
// ---------------------------------------------------------------------------
//
// The decoupled tests take lr * wd in [0.01, 0.5]: the decay's product is then a
// sizeable part of p, so the three forms' different roundings of it show in p
// (with lr * wd ~ 1e-4 they are absorbed by the subtraction from p).

TEST(OptimReference, AdamL2FmaTorch) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  ASSERT_TRUE(pytorch_adam_knobs(preset));
  const AdamRef h{.lr = rng.uniform(1e-3, 3e-2), .wd = rng.uniform(1e-3, 0.3)};
  const Inputs in = draw_inputs(rng, 8);
  expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), pytorch_adam(h));
}

TEST(OptimReference, AdamWTorchMul) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  ASSERT_TRUE(pytorch_adam_knobs(preset));
  const AdamRef h{.lr = rng.uniform(1e-2, 5e-2), .wd = rng.uniform(1.0, 10.0), .decoupled = true};
  const Inputs in = draw_inputs(rng, 8);
  expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), pytorch_adam(h));
}

TEST(OptimReference, AdamWKerasSub) {
  TestRng rng;
  const Preset& preset = presets::keras3_tf;
  ASSERT_TRUE(keras3_adam_knobs(preset));
  const AdamRef h{
      .lr = rng.uniform(1e-2, 5e-2), .eps = 1e-7, .wd = rng.uniform(1.0, 10.0), .decoupled = true};
  const Inputs in = draw_inputs(rng, 8);
  expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), keras3_adam(h),
                           /*composed=*/true);
}

TEST(OptimReference, AdamWFlashlightSub) {
  TestRng rng;
  const Preset& preset = presets::flashlight;
  ASSERT_TRUE(flashlight_adam_knobs(preset));
  const AdamRef h{.lr = rng.uniform(1e-2, 5e-2), .wd = rng.uniform(1.0, 10.0), .decoupled = true};
  const Inputs in = draw_inputs(rng, 8);
  expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), flashlight_adam(h),
                           /*composed=*/true);
}

TEST(OptimReference, AdamL2Add) {
  TestRng rng;
  const Preset& preset = presets::flashlight;
  ASSERT_TRUE(flashlight_adam_knobs(preset));
  const AdamRef h{.lr = rng.uniform(1e-3, 3e-2), .wd = rng.uniform(1e-3, 0.3)};
  const Inputs in = draw_inputs(rng, 8);
  expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), flashlight_adam(h),
                           /*composed=*/true);
}

// The decoupled and coupled forms are not the same computation: each reference,
// run with the other option, gives other bits than Parity.
TEST(OptimReference, CoupledAndDecoupledWeightDecayDiffer) {
  TestRng rng;
  AdamRef h{.lr = rng.uniform(1e-3, 3e-2), .wd = rng.uniform(1e-2, 0.3)};
  const Inputs in = draw_inputs(rng, 4);
  AdamRef w = h;
  w.decoupled = true;
  EXPECT_GT(count_differing(parity_result(in, make_adam(h, presets::pytorch)),
                            reference_result(in, adam_start(w, in.p.size()), pytorch_adam(w)).p),
            0);
  EXPECT_GT(count_differing(parity_result(in, make_adam(w, presets::flashlight)),
                            reference_result(in, adam_start(h, in.p.size()), flashlight_adam(h)).p),
            0);
}

TEST(OptimReference, SgdL2FmaTorch) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  ASSERT_EQ(preset.sgd.body.form, SgdForm::Torch);
  ASSERT_TRUE(preset.sgd.body.fma_nest && preset.sgd.body.fma_param && preset.sgd.body.l2 == L2Form::Fma);
  for (const double momentum : {0.0, rng.uniform(0.5, 0.95)}) {
    SCOPED_TRACE("momentum " + std::to_string(momentum));
    const SgdRef h{.lr = rng.uniform(1e-3, 0.1), .momentum = momentum, .wd = rng.uniform(1e-3, 0.3)};
    const Inputs in = draw_inputs(rng, 8);
    expect_matches_reference(in, make_sgd(h, preset), {}, pytorch_sgd(h, /*fused_add=*/true));
  }
}

TEST(OptimReference, AdadeltaL2FmaTorch) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  const AdadeltaElementwise& k = preset.adadelta.body;
  ASSERT_EQ(preset.adadelta.one_minus, OneMinus::Double);
  ASSERT_EQ(preset.adadelta.vec_width, 0);
  ASSERT_TRUE(k.acc == AdadeltaAcc::FmaCxX && k.acc_update == AdadeltaAcc::FmaCxX &&
              k.delta == AdadeltaDelta::DivMul && k.param == AdadeltaParam::Fma && k.l2 == L2Form::Fma &&
              !k.ftz && !k.old_accumulator && !k.param_uses_new_update_acc);
  const AdadeltaRef h{
      .lr = rng.uniform(0.1, 1.0), .rho = rng.uniform(0.85, 0.97), .wd = rng.uniform(1e-3, 0.3)};
  const Inputs in = draw_inputs(rng, 8);
  expect_matches_reference(in, make_adadelta(h, preset), {}, pytorch_adadelta(h));
}

TEST(OptimReference, AdadeltaL2AddAndDecoupledFlashlight) {
  TestRng rng;
  const Preset& preset = presets::flashlight;
  const AdadeltaElementwise& k = preset.adadelta.body;
  ASSERT_EQ(preset.adadelta.one_minus, OneMinus::Float);
  ASSERT_EQ(preset.adadelta.vec_width, 0);
  ASSERT_TRUE(k.acc == AdadeltaAcc::EmaCxX && k.acc_update == AdadeltaAcc::EmaCxX &&
              k.delta == AdadeltaDelta::DivMul && k.param == AdadeltaParam::Sub && k.l2 == L2Form::Add &&
              !k.ftz && !k.old_accumulator && !k.param_uses_new_update_acc);
  for (const bool decoupled : {false, true}) {
    SCOPED_TRACE(decoupled ? "decoupled" : "coupled");
    const AdadeltaRef h{.lr = rng.uniform(0.1, 1.0),
                        .rho = rng.uniform(0.85, 0.97),
                        .eps = 1e-8,
                        .wd = rng.uniform(1e-3, 0.1),
                        .decoupled = decoupled};
    const Inputs in = draw_inputs(rng, 8);
    expect_matches_reference(in, make_adadelta(h, preset), {}, flashlight_adadelta(h), /*composed=*/true);
  }
}

// ---------------------------------------------------------------------------
// SGD: PyTorch's dampening, Nesterov momentum in each convention
// ---------------------------------------------------------------------------

// PyTorch's SGD with every add-with-alpha rounded twice (a + alpha * b: its
// scalar loop without contraction): a Torch-form preset without FMA sites,
// L2Form::Add. Dampening scales every gradient but the first (the buffer starts
// as a copy of it); L2 enters before.
TEST(OptimReference, SgdDampeningTorchForm) {
  TestRng rng;
  Preset preset = presets::pytorch;
  preset.name = "pytorch_no_fma";
  preset.sgd.body.fma_buf = preset.sgd.body.fma_nest = preset.sgd.body.fma_param = false;
  preset.sgd.body.l2 = L2Form::Add;
  ASSERT_EQ(preset.sgd.body.form, SgdForm::Torch);
  ASSERT_FALSE(preset.sgd.body.ftz);
  ASSERT_EQ(preset.sgd.vec_width, 0);
  for (const double wd : {0.0, rng.uniform(1e-3, 0.3)}) {
    SCOPED_TRACE("weight decay " + std::to_string(wd));
    const SgdRef h{.lr = rng.uniform(1e-3, 0.1),
                   .momentum = rng.uniform(0.5, 0.95),
                   .dampening = rng.uniform(0.1, 0.9),
                   .wd = wd};
    const Inputs in = draw_inputs(rng, 10);
    expect_matches_reference(in, make_sgd(h, preset), {}, pytorch_sgd(h, /*fused_add=*/false),
                             /*composed=*/true);
    // Without the dampening the buffer (and so the parameter) is another one.
    SgdRef undamped = h;
    undamped.dampening = 0.0;
    EXPECT_GT(count_differing(parity_result(in, make_sgd(h, preset)),
                              reference_result(in, {}, pytorch_sgd(undamped, false)).p),
              0);
  }
}

TEST(OptimReference, SgdNesterovTorchForm) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  ASSERT_EQ(preset.sgd.body.form, SgdForm::Torch);
  ASSERT_TRUE(preset.sgd.body.fma_nest && preset.sgd.body.fma_param && preset.sgd.body.l2 == L2Form::Fma);
  ASSERT_FALSE(preset.sgd.body.ftz);
  ASSERT_EQ(preset.sgd.vec_width, 0);
  for (const bool nesterov : {true, false}) {
    SCOPED_TRACE(nesterov ? "Nesterov" : "heavy ball");
    const SgdRef h{.lr = rng.uniform(1e-3, 0.1), .momentum = rng.uniform(0.5, 0.95), .nesterov = nesterov};
    const Inputs in = draw_inputs(rng, 10);
    expect_matches_reference(in, make_sgd(h, preset), {}, pytorch_sgd(h, /*fused_add=*/true));
  }
}

TEST(OptimReference, SgdNesterovKerasForm) {
  TestRng rng;
  for (const Preset* preset : {&presets::keras3_tf, &presets::keras3_jax}) {
    const bool xla = preset == &presets::keras3_jax;
    const SgdElementwise& k = preset->sgd.body;
    ASSERT_EQ(k.form, SgdForm::Keras) << preset->name;
    ASSERT_TRUE(xla ? (k.fma_buf && k.fma_nest && k.fma_param) : !(k.fma_buf || k.fma_nest || k.fma_param))
        << preset->name;
    ASSERT_EQ(preset->sgd.vec_width, 0);
    for (const bool nesterov : {true, false}) {
      for (const double momentum : {rng.uniform(0.5, 0.95), 0.0}) {
        if (nesterov && momentum == 0.0) continue;
        SCOPED_TRACE(preset->name + (nesterov ? " Nesterov" : " heavy ball") + " momentum " +
                     std::to_string(momentum));
        const SgdRef h{.lr = rng.uniform(1e-3, 0.1), .momentum = momentum, .nesterov = nesterov};
        const Inputs in = draw_inputs(rng, 10);
        expect_matches_reference(in, make_sgd(h, *preset), {}, keras3_sgd(h, xla), /*composed=*/!xla);
      }
    }
  }
}

TEST(OptimReference, SgdNesterovKeras2Form) {
  TestRng rng;
  const Preset& preset = presets::keras2_tensorflow;
  ASSERT_EQ(preset.sgd.body.form, SgdForm::Keras2);
  ASSERT_FALSE(preset.sgd.body.fma_buf || preset.sgd.body.fma_nest || preset.sgd.body.fma_param);
  ASSERT_EQ(preset.sgd.vec_width, 0);
  for (const bool nesterov : {true, false}) {
    SCOPED_TRACE(nesterov ? "Nesterov" : "heavy ball");
    const SgdRef h{.lr = rng.uniform(1e-3, 0.1), .momentum = rng.uniform(0.5, 0.95), .nesterov = nesterov};
    const Inputs in = draw_inputs(rng, 10);
    expect_matches_reference(in, make_sgd(h, preset), {}, keras2_sgd(h), /*composed=*/true);
  }
}

// ---------------------------------------------------------------------------
// Keras 2's decay: lr / (1 + decay * iterations), both rules
// ---------------------------------------------------------------------------

Preset with_rule(DecayRule rule) {
  Preset p = presets::keras2_tensorflow;
  if (rule == DecayRule::InverseTimeDouble) p.name = "keras2_tensorflow_inverse_time_double";
  p.decay_rule = rule;
  return p;
}

TEST(OptimReference, Keras2DecaySgd) {
  TestRng rng;
  for (const DecayRule rule : {DecayRule::Keras2Float, DecayRule::InverseTimeDouble}) {
    const Preset preset = with_rule(rule);
    ASSERT_EQ(preset.sgd.body.form, SgdForm::Keras2);
    for (const double momentum : {0.0, rng.uniform(0.5, 0.95)}) {
      for (const bool nesterov : {false, true}) {
        if (nesterov && momentum == 0.0) continue;
        SCOPED_TRACE(preset.name + " momentum " + std::to_string(momentum) + (nesterov ? " Nesterov" : ""));
        const SgdRef h{.lr = rng.uniform(1e-3, 0.1),
                       .momentum = momentum,
                       .nesterov = nesterov,
                       .decay = rng.uniform(0.01, 0.5),
                       .rule = rule};
        const Inputs in = draw_inputs(rng, 12);
        expect_matches_reference(in, make_sgd(h, preset), {}, keras2_sgd(h), /*composed=*/true);
        // The decay moved the steps: the undecayed reference ends elsewhere.
        SgdRef flat = h;
        flat.decay = 0.0;
        EXPECT_GT(count_differing(parity_result(in, make_sgd(h, preset)),
                                  reference_result(in, {}, keras2_sgd(flat)).p),
                  0);
      }
    }
  }
  // The two rules are not the same computation (float32 throughout vs one rounding
  // of a double): over 40 steps, Parity's InverseTimeDouble run leaves the
  // Keras2Float reference (from p = 0, so that p's bits are those of the steps).
  const SgdRef h{
      .lr = rng.uniform(1e-3, 0.1), .decay = rng.uniform(0.01, 0.5), .rule = DecayRule::Keras2Float};
  SgdRef other = h;
  other.rule = DecayRule::InverseTimeDouble;
  Inputs in = draw_inputs(rng, 40);
  in.p.assign(in.p.size(), 0.0f);
  EXPECT_GT(count_differing(parity_result(in, make_sgd(other, with_rule(DecayRule::InverseTimeDouble))),
                            reference_result(in, {}, keras2_sgd(h)).p),
            0);
}

TEST(OptimReference, Keras2DecayAdam) {
  TestRng rng;
  for (const DecayRule rule : {DecayRule::Keras2Float, DecayRule::InverseTimeDouble}) {
    const Preset preset = with_rule(rule);
    ASSERT_TRUE(keras2_adam_knobs(preset));
    SCOPED_TRACE(preset.name);
    const AdamRef h{.lr = rng.uniform(1e-3, 3e-2), .decay = rng.uniform(0.01, 0.5), .rule = rule};
    const Inputs in = draw_inputs(rng, 12);
    expect_matches_reference(in, make_adam(h, preset), adam_start(h, in.p.size()), keras2_adam(h),
                             /*composed=*/true);
    AdamRef flat = h;
    flat.decay = 0.0;
    EXPECT_GT(count_differing(parity_result(in, make_adam(h, preset)),
                              reference_result(in, adam_start(flat, in.p.size()), keras2_adam(flat)).p),
              0);
  }
}

// ---------------------------------------------------------------------------
// The step counter's saturation
// ---------------------------------------------------------------------------
//
// With beta = 1 - 2^-24 (exact in float32 and double) beta^t ~ e^(-t / 2^24) is
// about 0.37 at t = 2^24 and 0.22 at 1.5 * 2^24, so the bias corrections show
// which t a step used. Each test loads a state (load_state_dict) whose count sits
// just below the limit and steps across it, then one whose count is far past it
// (as an int64 count holds it): the reference's counter is the framework's
// (a float32 that stops at 2^24 by itself, an int32 that optax stops at
// 2^31 - 1), and a reference whose count does not stop must come out different.

constexpr std::int64_t k2To24 = std::int64_t{1} << 24;
constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();

Tensors random_adam_state(TestRng& rng, std::size_t n) {
  Tensors t;
  t["m"] = uniform_vec(rng, n, -1e-2, 1e-2);
  t["v"] = uniform_vec(rng, n, 1e-6, 1e-2);
  return t;
}

// PyTorch's state['step'] is a float32 tensor (`pytorch`: StepCounter::Float32).
TEST(OptimReference, Float32StepCounterStopsAt2To24TorchForm) {
  TestRng rng;
  const Preset& preset = presets::pytorch;
  ASSERT_TRUE(pytorch_adam_knobs(preset));
  ASSERT_EQ(preset.adam.counter, StepCounter::Float32);
  const double beta = 1.0 - 0x1p-24;
  const AdamRef h{.lr = rng.uniform(1e-3, 3e-2), .beta1 = beta, .beta2 = beta, .counter = Counter::Float32};
  const Inputs in = draw_inputs(rng, 6);
  Ref start;
  start.state = random_adam_state(rng, in.p.size());
  {
    SCOPED_TRACE("from step 2^24 - 3 across the limit");
    Ref r = start;
    r.fcount = static_cast<float>(k2To24 - 3);
    const Ref end = expect_matches_reference(in, make_adam(h, preset), r, pytorch_adam(h), false,
                                             load_count(k2To24 - 3, r.state));
    EXPECT_EQ(end.fcount, 0x1p24f);
  }
  {
    SCOPED_TRACE("from 1.5 * 2^24 steps taken");
    const std::int64_t taken = k2To24 + k2To24 / 2;
    Ref r = start;
    r.fcount = float32_counter_after(taken);
    ASSERT_EQ(r.fcount, 0x1p24f) << "a float32 counter stops at 2^24";
    const Prepare load = load_count(taken, r.state);
    expect_matches_reference(in, make_adam(h, preset), r, pytorch_adam(h), false, load);
    AdamRef unbounded = h;
    unbounded.counter = Counter::Int64;
    Ref u = start;
    u.count = taken;
    EXPECT_GT(count_differing(parity_result(in, make_adam(h, preset), load),
                              reference_result(in, u, pytorch_adam(unbounded)).p),
              0)
        << "t = 2^24 and t = 1.5 * 2^24 should give other steps";
  }
}

// Keras 2's iterations is a float32 variable: t = iterations + 1 stops at 2^24,
// and so does the decay's iterations (`keras2_tensorflow`, Keras2Float).
TEST(OptimReference, Float32StepCounterStopsAt2To24Keras2) {
  TestRng rng;
  const Preset& preset = presets::keras2_tensorflow;
  ASSERT_TRUE(keras2_adam_knobs(preset));
  ASSERT_EQ(preset.decay_rule, DecayRule::Keras2Float);
  const float beta = 1.0f - 0x1p-24f;
  for (const double decay : {0.0, rng.uniform(1e-5, 1e-3)}) {
    SCOPED_TRACE("decay " + std::to_string(decay));
    const AdamRef h{.lr = rng.uniform(1e-3, 3e-2), .beta1 = beta, .beta2 = beta, .decay = decay};
    // The parameter starts at 0, so that its bits are those of the steps (whose
    // size the decayed lr sets) rather than of a much larger initial value.
    Inputs in = draw_inputs(rng, 8);
    in.p.assign(in.p.size(), 0.0f);
    Ref r;
    r.state = random_adam_state(rng, in.p.size());
    r.fcount = static_cast<float>(k2To24 - 3);
    r.count = k2To24 - 3;
    const Prepare load = load_count(k2To24 - 3, r.state);
    const Ref end = expect_matches_reference(in, make_adam(h, preset), r, keras2_adam(h), false, load);
    EXPECT_EQ(end.fcount, 0x1p24f);
    if (decay > 0.0) {
      AdamRef unbounded = h;
      unbounded.decay_counter_stops = false;
      EXPECT_GT(count_differing(parity_result(in, make_adam(h, preset), load),
                                reference_result(in, r, keras2_adam(unbounded)).p),
                0)
          << "the decay at iterations 2^24 and 2^24 + 4 should give other steps";
    }
  }
}

// Keras 2's `iterations` is a float32 variable for every optimizer, so SGD's
// decay stops at 2^24 too (preset.decay_counter), as Adam's does.
TEST(OptimReference, Keras2SgdDecayCounterStopsAt2To24) {
  TestRng rng;
  const Preset& preset = presets::keras2_tensorflow;
  ASSERT_EQ(preset.sgd.body.form, SgdForm::Keras2);
  ASSERT_EQ(preset.decay_rule, DecayRule::Keras2Float);
  const SgdRef h{.lr = rng.uniform(1e-3, 3e-2), .decay = rng.uniform(1e-5, 1e-3)};
  Inputs in = draw_inputs(rng, 8);
  in.p.assign(in.p.size(), 0.0f);  // p's bits are then those of the (decayed) steps
  Ref r;
  r.fcount = static_cast<float>(k2To24 - 3);
  r.count = k2To24 - 3;
  const Ref end = expect_matches_reference(in, make_sgd(h, preset), r, keras2_sgd(h), false, load_count(k2To24 - 3, {}));
  EXPECT_EQ(end.fcount, 0x1p24f);
}

// optax's count (and Keras 3 on JAX's iterations) is an int32 that stops at
// 2^31 - 1. The named Int32Saturating presets take float32 powers of fl(beta),
// which cannot be closer to 1 than 1 - 2^-24: at t ~ 2^31 their bias
// corrections are 1 either way. So this is PyTorch's Adam (bias corrections in
// double, beta = 1 - 2^-31) with an int32 saturating counter: a custom preset.
TEST(OptimReference, Int32StepCounterStopsAt2To31Minus1) {
  TestRng rng;
  Preset preset = presets::pytorch;
  preset.name = "pytorch_int32_counter";
  preset.adam.counter = StepCounter::Int32Saturating;
  ASSERT_TRUE(pytorch_adam_knobs(preset));
  const double beta = 1.0 - 0x1p-31;
  const AdamRef h{
      .lr = rng.uniform(1e-3, 3e-2), .beta1 = beta, .beta2 = beta, .counter = Counter::Int32Saturating};
  const Inputs in = draw_inputs(rng, 6);
  Ref start;
  start.state = random_adam_state(rng, in.p.size());
  {
    SCOPED_TRACE("from step 2^31 - 4 across the limit");
    Ref r = start;
    r.count = kInt32Max - 3;
    const Ref end = expect_matches_reference(in, make_adam(h, preset), r, pytorch_adam(h), false,
                                             load_count(kInt32Max - 3, r.state));
    EXPECT_EQ(end.count, kInt32Max);
  }
  {
    SCOPED_TRACE("from 2^31 - 1 + 2^30 steps taken");
    const std::int64_t taken = kInt32Max + (std::int64_t{1} << 30);
    Ref r = start;
    r.count = kInt32Max;  // what the int32 counter holds after `taken` saturating increments
    const Prepare load = load_count(taken, r.state);
    expect_matches_reference(in, make_adam(h, preset), r, pytorch_adam(h), false, load);
    AdamRef unbounded = h;
    unbounded.counter = Counter::Int64;
    Ref u = start;
    u.count = taken;
    EXPECT_GT(count_differing(parity_result(in, make_adam(h, preset), load),
                              reference_result(in, u, pytorch_adam(unbounded)).p),
              0)
        << "t = 2^31 - 1 and t = 1.5 * 2^31 should give other steps";
  }
}

}  // namespace
