// Host-side scalars of an optimizer step (parity/optim/scalars.h). Compiled with
// -ffp-contract=off like the rest of the library: every float expression below
// is the rounding sequence its comment names.
#include "parity/optim/scalars.h"

#include <cmath>
#include <limits>

#include "parity/tensor/error.h"

namespace parity::optim {

float one_minus(OneMinus form, double beta) {
  if (form == OneMinus::Double) return static_cast<float>(1.0 - beta);
  return 1.0f - static_cast<float>(beta);
}

namespace {

// Double-double arithmetic (hi + lo, |lo| <= ulp(hi)/2): products exact to ~2^-104.
struct DD {
  double hi, lo;
};

DD dd_mul(DD a, DD b) {
  const double p = a.hi * b.hi;
  double e = std::fma(a.hi, b.hi, -p);
  e += a.hi * b.lo + a.lo * b.hi;
  const double hi = p + e;
  return {hi, e - (hi - p)};
}

}  // namespace

float powf_exact(float base, std::int64_t t) {
  PARITY_CHECK(t >= 0, "powf_exact: negative exponent ", t);
  DD result{1.0, 0.0};
  DD x{static_cast<double>(base), 0.0};
  for (std::int64_t e = t; e > 0; e >>= 1) {
    if (e & 1) result = dd_mul(result, x);
    if (e > 1) x = dd_mul(x, x);
  }
  // The float nearest to hi + lo: float(hi) or a neighbour (hi - c is exact for
  // the candidates, which lie within one float ulp of hi).
  const float f = static_cast<float>(result.hi);
  float best = f;
  double best_dist = std::fabs((result.hi - static_cast<double>(f)) + result.lo);
  for (float c : {std::nextafter(f, -std::numeric_limits<float>::infinity()),
                  std::nextafter(f, std::numeric_limits<float>::infinity())}) {
    const double dist = std::fabs((result.hi - static_cast<double>(c)) + result.lo);
    if (dist < best_dist) {
      best = c;
      best_dist = dist;
    }
  }
  return best;
}

std::int64_t saturate(StepCounter counter, std::int64_t count) {
  switch (counter) {
    case StepCounter::Int64:
      return count;
    case StepCounter::Int32Saturating:
      return std::min<std::int64_t>(count, std::numeric_limits<std::int32_t>::max());
    case StepCounter::Float32:
      return std::min<std::int64_t>(count, std::int64_t{1} << 24);
  }
  return count;
}

double beta_power(BetaPower method, double beta, std::int64_t t, float running) {
  switch (method) {
    case BetaPower::PowFloat:
      return powf_exact(static_cast<float>(beta), t);
    case BetaPower::PowDouble:
      return std::pow(beta, static_cast<double>(t));
    case BetaPower::PowDoubleOfFloat:
      return std::pow(static_cast<double>(static_cast<float>(beta)), static_cast<double>(t));
    case BetaPower::RunningFloat:
      return running;
    case BetaPower::PowFloatLibm: {
      // Through a volatile so the compiler cannot fold it with its own (correctly rounded) pow.
      volatile float base = static_cast<float>(beta);
      return std::pow(static_cast<float>(base), static_cast<float>(t));
    }
    case BetaPower::SquaringFloat: {
      // jax.lax._integer_pow: acc = x at the first set bit, then acc ⊗ x; x ⊗ x between bits.
      float x = static_cast<float>(beta), acc = 1.0f;
      bool have = false;
      for (std::int64_t y = t; y > 0;) {
        if (y & 1) {
          acc = have ? acc * x : x;
          have = true;
        }
        y >>= 1;
        if (y > 0) x = x * x;
      }
      return acc;
    }
  }
  return 0.0;
}

double decayed_lr(DecayRule rule, double lr, double decay, std::int64_t iterations) {
  if (decay == 0.0 || rule == DecayRule::Keras2Theano) return lr;
  if (rule == DecayRule::Keras2Float) {
    // lr ⊗ (1 ⊘ (1 ⊕ decay ⊗ iterations)), every value a float32 variable.
    const float it = static_cast<float>(iterations);
    const float denom = 1.0f + static_cast<float>(decay) * it;
    return static_cast<float>(lr) * (1.0f / denom);
  }
  return static_cast<float>(lr / (1.0 + decay * static_cast<double>(iterations)));
}

float theano_decay_divisor(double decay, std::int64_t iterations) {
  return std::fma(static_cast<float>(decay), static_cast<float>(iterations), 1.0f);
}

kernel::AdamScalars adam_scalars(const AdamNumerics& n, const AdamHyper& h, std::int64_t t, float running1,
                                 float running2) {
  kernel::AdamScalars s;
  s.b1 = static_cast<float>(h.beta1);
  s.b2 = static_cast<float>(h.beta2);
  s.c1 = one_minus(n.one_minus, h.beta1);
  s.c2 = one_minus(n.one_minus, h.beta2);
  s.lerp_low = s.c1 < 0.5f;
  s.lerp_w1 = s.c1 - 1.0f;
  s.eps = static_cast<float>(h.eps);
  s.lr = static_cast<float>(h.lr);
  s.neg_lr = static_cast<float>(-h.lr);
  const double p1 = beta_power(n.beta_power, h.beta1, t, running1);
  const double p2 = beta_power(n.beta_power, h.beta2, t, running2);
  const auto p1f = static_cast<float>(p1), p2f = static_cast<float>(p2);
  switch (n.alpha) {
    case AdamAlpha::LrSqrtDiv:
      s.alpha = (s.lr * std::sqrt(1.0f - p2f)) / (1.0f - p1f);
      break;
    case AdamAlpha::LrMulRatio:
      s.alpha = s.lr * (std::sqrt(1.0f - p2f) / (1.0f - p1f));
      break;
    case AdamAlpha::HostDoubleBc: {
      const auto bc1 = static_cast<float>(1.0 - p1), bc2 = static_cast<float>(1.0 - p2);
      s.alpha = (s.lr * std::sqrt(bc2)) / bc1;
      break;
    }
  }
  s.neg_alpha = -s.alpha;
  // Torch: bias corrections and step size in double.
  const double bc1 = 1.0 - p1, bc2 = 1.0 - p2;
  s.neg_ss = static_cast<float>(-(h.lr / bc1));
  s.bc2s = static_cast<float>(std::sqrt(bc2));
  s.inv_bc2s = 1.0f / s.bc2s;
  // Optax: float32 1 - b^t.
  s.omp1 = 1.0f - p1f;
  s.omp2 = 1.0f - p2f;
  s.inv_omp1 = 1.0f / s.omp1;
  s.inv_omp2 = 1.0f / s.omp2;
  // Paper: fl(1 - b^t).
  s.bc1 = static_cast<float>(bc1);
  s.bc2 = static_cast<float>(bc2);
  s.amsgrad = h.amsgrad;
  s.wd = static_cast<float>(h.weight_decay);
  s.l2 = h.weight_decay != 0.0 && !h.decoupled;
  s.decoupled = h.weight_decay != 0.0 && h.decoupled;
  s.decay_factor = static_cast<float>(1.0 - h.lr * h.weight_decay);
  s.wd_lr = s.wd * s.lr;
  return s;
}

kernel::AdadeltaScalars adadelta_scalars(const AdadeltaNumerics& n, const AdadeltaHyper& h) {
  kernel::AdadeltaScalars s;
  s.rho = static_cast<float>(h.rho);
  s.c = one_minus(n.one_minus, h.rho);
  s.eps = static_cast<float>(h.eps);
  s.lr = h.has_lr ? static_cast<float>(h.lr) : 1.0f;
  s.neg_lr = -s.lr;
  s.wd = static_cast<float>(h.weight_decay);
  s.l2 = h.weight_decay != 0.0 && !h.decoupled;
  s.decoupled = h.weight_decay != 0.0 && h.decoupled;
  return s;
}

kernel::SgdScalars sgd_scalars(const SgdHyper& h, bool first_step) {
  kernel::SgdScalars s;
  s.lr = static_cast<float>(h.lr);
  s.neg_lr = static_cast<float>(-h.lr);
  s.mu = static_cast<float>(h.momentum);
  s.momentum = h.momentum != 0.0;
  s.nesterov = h.nesterov;
  s.first = first_step;
  s.dampening = h.dampening != 0.0;
  s.one_minus_dampening = static_cast<float>(1.0 - h.dampening);
  s.wd = static_cast<float>(h.weight_decay);
  s.l2 = h.weight_decay != 0.0;
  return s;
}

}  // namespace parity::optim
