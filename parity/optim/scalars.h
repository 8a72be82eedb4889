// Host-side scalars of an optimizer step: the one-minus constants, beta^t, the
// bias corrections and step sizes, computed once per step (and parameter) on the
// host in double or float32 exactly as a preset says, then passed to the update
// functor (parity/optim/update.h) on either backend.
#pragma once

#include <cstdint>

#include "parity/optim/numerics.h"
#include "parity/optim/update.h"

namespace parity::optim {

// C_dbl = fl(1 - beta) or C_f32 = 1.0f ⊖ fl(beta).
float one_minus(OneMinus form, double beta);

// Correctly rounded float32 pow(base, t) for an integer t >= 0 (double-double
// exponentiation by squaring, then one rounding): what a correctly rounded powf
// returns for a float32 base and an integral float32 exponent.
float powf_exact(float base, std::int64_t t);

// The count a counter of this dtype holds after `count` increments from 0.
std::int64_t saturate(StepCounter counter, std::int64_t count);

// A beta^t in the precision the preset computes it: float32 values are stored
// exactly in the double.
double beta_power(BetaPower method, double beta, std::int64_t t, float running);

// Keras 2's decay: lr_t for `iterations` completed steps (DecayRule). Under
// Keras2Theano the learning rate is not decayed on the host (returned as is):
// the element loop divides by theano_decay_divisor instead.
double decayed_lr(DecayRule rule, double lr, double decay, std::int64_t iterations);

// Keras2Theano: k = fma(fl(decay), fl(iterations), 1) in float32, the scalar
// composite 1 + decay * iterations as g++ contracts it (Note [Theano's graph]).
float theano_decay_divisor(double decay, std::int64_t iterations);

struct AdamHyper {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false, amsgrad = false;
};

// t is the step number as the preset counts it (saturated, offset); running1/2
// are the RunningFloat powers this step reads.
kernel::AdamScalars adam_scalars(const AdamNumerics& n, const AdamHyper& h, std::int64_t t, float running1,
                                 float running2);

struct AdadeltaHyper {
  bool has_lr = true;
  double lr = 1.0, rho = 0.95, eps = 1e-6, weight_decay = 0;
  bool decoupled = false;
};
kernel::AdadeltaScalars adadelta_scalars(const AdadeltaNumerics& n, const AdadeltaHyper& h);

struct SgdHyper {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};
kernel::SgdScalars sgd_scalars(const SgdHyper& h, bool first_step);

}  // namespace parity::optim
