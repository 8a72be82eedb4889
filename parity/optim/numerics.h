// Numerics presets: every choice that changes an optimizer's float32 results,
// as data.
//
// Note [Presets are data]: a preset is a value object. The optimizers never ask
// "is this PyTorch?"; they read knobs (how 1-beta is formed, how beta^t is
// computed, which expression tree the update uses, which sites are fused
// multiply-adds, flush-to-zero, ...) and the one update functor per optimizer
// (parity/optim/update.h) follows them. The knobs are every float32 choice a
// preset must pin down to be bit-exact (docs/NUMERICS.md, "The knobs"), and
// their names follow the knob dicts of tools/golden/numerics.py, the NumPy
// emulations the golden traces were checked against, so a knob dict there maps
// one to one onto a struct here.
//
// Notation (docs/NUMERICS.md): ⊕ ⊖ ⊗ ⊘ are one float32 operation each (one
// rounding); fma(a, b, c) = a*b + c rounded once; fl(x) rounds to float32;
// C = the "one minus beta" constant; p, g, m, v the parameter, gradient and
// moments. Every formula below is written in the order the framework evaluates it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace parity::optim {

// ---- scalar (host-side) choices ----

// How each 1-beta (1-rho) constant is formed (reference section 1.1).
enum class OneMinus : std::uint8_t {
  Double,  // C_dbl = fl(1 - beta), subtraction in double (beta a Python/JS/C++ double)
  Float,   // C_f32 = 1.0f ⊖ fl(beta), subtraction of the rounded beta in float32
};

// How beta^t is computed.
enum class BetaPower : std::uint8_t {
  PowFloat,          // powf(fl(beta), fl(t)) correctly rounded (the emulations of Keras 2, Lasagne)
  PowFloatLibm,      // powf(fl(beta), fl(t)) of the host's C library: glibc's powf, which is what
                     // TF's tf.pow, XLA:CPU's pow and torch.pow call (Keras 3, optax under jit);
                     // glibc's powf is not correctly rounded (0.9^685, 0.999^873 differ by an ulp)
  PowDouble,         // pow(beta, t) in double, beta as given (PyTorch's host scalars)
  PowDoubleOfFloat,  // pow((double) fl(beta), t) in double (Flashlight's std::pow(float, int))
  RunningFloat,      // p_1 = fl(beta), p_t = p_(t-1) ⊗ fl(beta) (TF1 AdamOptimizer's beta_power variables)
  SquaringFloat,     // float32 exponentiation by squaring over the bits of t, low bit first
                     // (jax.lax.integer_pow: optax run op by op, where the count is concrete)
};

// The step counter's dtype: where it stops counting.
enum class StepCounter : std::uint8_t {
  Int64,            // never saturates in practice (Keras 3 on TF, PyTorch <= 1.11)
  Int32Saturating,  // stops at 2^31 - 1 (optax safe_increment, Keras 3 on JAX)
  Float32,          // stops at 2^24: x + 1 rounds back to x (Keras 2.0.4-2.0.7, Lasagne, PyTorch >= 1.12)
};

// Whose count t is: each parameter's own (it only counts steps in which the
// parameter had a gradient: PyTorch's state['step']) or the optimizer's
// (Keras/TF `iterations`, optax `count`, TF1 beta powers). They differ only when
// some parameter misses a step.
enum class StepScope : std::uint8_t { Parameter, Optimizer };

// Keras 2's `decay`: lr_t = lr ⊗ (1 ⊘ (1 ⊕ decay ⊗ iterations)) in float32
// (Keras2Float), or the same in double then rounded (InverseTimeDouble: tf.keras
// OptimizerV2's `decay`). Applied only when the optimizer's decay is > 0.
// Keras2Theano: Theano's optimizer rewrites lr ⊗ (1 ⊘ k) into a division by
// k = fma(decay, iterations, 1) (g++ contracts the scalar composite) inside the
// element loop; the Theano forms (AdamElementwise::theano, AdadeltaDelta::Theano,
// SgdForm::Keras2Theano) say where that division lands. Note [Theano's graph].
enum class DecayRule : std::uint8_t { Keras2Float, InverseTimeDouble, Keras2Theano };

// float32 reciprocal square root.
enum class RsqrtMode : std::uint8_t {
  Exact,        // fl(1/sqrt(x)), one rounding
  OneOverSqrt,  // 1 ⊘ sqrt(x), two roundings (Eigen's scalar path)
  EigenAvx,     // Eigen's AVX prsqrt: hardware rsqrtps + one Newton step with mul/add
                // (TF pip wheels). The approximation is the CPU's own: reproducible on
                // the same CPU family only, and not available on CUDA.
  EigenAvxFma,  // the same Newton step with two fmas (XLA:CPU, fitted on an AVX2-only AMD Zen 3)
  XlaTwoStep,   // XLA:CPU's rsqrt intrinsic (xla/codegen/math/rsqrt.cc): the estimate and two
                // such fma Newton steps; the estimate itself where x < FLT_MIN or x = inf
                // (fitted on an AVX-512 Intel Xeon)
  XlaCpu,       // chosen when the optimizer is made, from this CPU's features: XlaTwoStep with
                // AVX-512F, else EigenAvxFma (what the traces of the two CPU kinds show;
                // Note [XLA's rsqrt]). The optimizer's preset() shows the resolved form.
};

// ---- Adam ----

// First moment m' (C = C1, b = fl(beta1)).
enum class AdamM : std::uint8_t {
  Delta,     // m ⊕ ((g ⊖ m) ⊗ C)           TF ApplyAdam CPU, Keras 3
  DeltaFma,  // fma(g ⊖ m, C, m)            TF ApplyAdam GPU (nvcc contraction)
  Ema,       // (b ⊗ m) ⊕ (C ⊗ g)           Keras 2, Lasagne, Flashlight, paper, optax (no jit)
  EmaFmaCg,  // fma(C, g, b ⊗ m)            PyTorch <= 2.0 (m.mul_(b).add_(g, alpha=C) on AVX2)
  EmaFmaBm,  // fma(b, m, C ⊗ g)            XLA contraction of the Ema tree
  Lerp,      // PyTorch lerp: C < 0.5 ? fma(C, g ⊖ m, m) : fma(C ⊖ 1, g ⊖ m, g)
};

// Second moment v' (C = C2, b = fl(beta2)).
enum class AdamV : std::uint8_t {
  Delta,      // v ⊕ (((g ⊗ g) ⊖ v) ⊗ C)
  DeltaFma,   // fma((g ⊗ g) ⊖ v, C, v)
  DeltaFma2,  // fma(fma(g, g, -v), C, v)
  DeltaFma3,  // v ⊕ (fma(g, g, -v) ⊗ C)
  Ema,        // (b ⊗ v) ⊕ (C ⊗ (g ⊗ g))
  EmaCgG,     // (b ⊗ v) ⊕ ((C ⊗ g) ⊗ g)
  FmaCgG,     // fma(C ⊗ g, g, v ⊗ b)       PyTorch addcmul on AVX2
  FmaCGg,     // fma(C, g ⊗ g, v ⊗ b)
  FmaBv,      // fma(b, v, C ⊗ (g ⊗ g))
  FmaBvCgG,   // fma(b, v, (C ⊗ g) ⊗ g)
};

// Where epsilon enters and how the bias correction is applied.
enum class AdamForm : std::uint8_t {
  EpsHat,  // p' = p ⊖ ((alpha ⊗ m') ⊘ (sqrt(v') ⊕ eps)), alpha = lr·sqrt(1-b2^t)/(1-b1^t)
           // folded into the step size (Adam paper end of section 2; Keras, TF, Lasagne, Flashlight)
  Torch,   // d = (sqrt(v') ⊘ fl(bc2s)) ⊕ eps, ss = lr/bc1, bc in double (PyTorch >= 1.3)
  Optax,   // u = (m' ⊘ (1 ⊖ b1^t)) ⊘ (sqrt(v' ⊘ (1 ⊖ b2^t)) ⊕ eps); p' = p ⊕ (fl(-lr) ⊗ u)
  Paper,  // Algorithm 1: bc = fl(1 - b^t) from double; p' = p ⊖ ((lr ⊗ (m' ⊘ bc1)) ⊘ (sqrt(v' ⊘ bc2) ⊕ eps))
};

// How alpha of the EpsHat form is computed on the host (float32 operations).
enum class AdamAlpha : std::uint8_t {
  LrSqrtDiv,     // (lr ⊗ sqrt(1 ⊖ b2^t)) ⊘ (1 ⊖ b1^t)          TF kernels, Keras 3, Lasagne
  LrMulRatio,    // lr ⊗ (sqrt(1 ⊖ b2^t) ⊘ (1 ⊖ b1^t))          Keras 2 (parenthesised so)
  HostDoubleBc,  // (lr ⊗ sqrt(bc2)) ⊘ bc1, bc = fl(1 - b^t) from double   Flashlight
};

// The parameter update's last step.
enum class AdamParam : std::uint8_t {
  Sub,       // EpsHat: p ⊖ ((alpha ⊗ m') ⊘ (sqrt(v') ⊕ eps))
  FmaNeg,    // EpsHat: fma(-alpha, m' ⊘ (sqrt(v') ⊕ eps), p)
  Addcdiv,   // Torch:  p ⊕ ((fl(-ss) ⊗ m') ⊘ d)               (CPU addcdiv)
  FmaDiv,    // Torch:  fma(fl(-ss), m' ⊘ d, p)                 (CUDA addcdiv, contracted)
  MulDiv,    // Torch:  p ⊕ (fl(-ss) ⊗ (m' ⊘ d))
  Add,       // Optax:  p ⊕ (fl(-lr) ⊗ u)
  Fma,       // Optax:  fma(fl(-lr), u, p)                      (XLA contraction)
  PaperSub,  // Paper:  p ⊖ ((lr ⊗ m̂) ⊘ (sqrt(v̂) ⊕ eps))
};

// How a tensor is divided by a host scalar: Torch form sqrt(v') by fl(bc2s),
// Optax form m' by 1 ⊖ b1^t and v' by 1 ⊖ b2^t.
enum class AdamDenom : std::uint8_t {
  Div,         // x ⊘ s                  (CPU true division; op-by-op frameworks)
  Reciprocal,  // x ⊗ (1 ⊘ s)            (CUDA division by a CPU scalar; XLA's rewrite of a
               //                         division by a broadcast scalar)
};

// Coupled (L2) weight decay: g' = g + wd·p before the moments.
enum class L2Form : std::uint8_t {
  Add,  // g ⊕ (wd ⊗ p)
  Fma,  // fma(p, wd, g)       (PyTorch grad.add(param, alpha=wd) on AVX2)
};

// Decoupled weight decay (AdamW), applied to p before the update.
enum class DecoupledForm : std::uint8_t {
  TorchMul,       // p ⊗ fl(1 - lr·wd), factor in double          (PyTorch AdamW)
  KerasSub,       // p ⊖ ((p ⊗ wd) ⊗ lr)                          (Keras 3)
  FlashlightSub,  // p ⊖ (fl(wd ⊗ lr) ⊗ p), product in float32     (Flashlight)
};

// The per-element part of an Adam preset (what the functor reads).
struct AdamElementwise {
  bool ftz = false;  // flush subnormal inputs and results of every operation to zero (DAZ+FTZ)
  AdamM m = AdamM::Ema;
  AdamV v = AdamV::Ema;
  AdamForm form = AdamForm::EpsHat;
  AdamParam param = AdamParam::Sub;
  AdamDenom denom = AdamDenom::Div;
  L2Form l2 = L2Form::Add;
  DecoupledForm decoupled = DecoupledForm::TorchMul;
  // Optax form: u = m' ⊘ ((1 ⊖ b1^t) ⊗ den) instead of (m' ⊘ (1 ⊖ b1^t)) ⊘ den, where
  // den = sqrt(v̂) ⊕ eps: XLA's algebraic simplifier rewrites (a / b) / c as a / (b * c).
  bool merge_bias_div = false;
  // Keras 2 on Theano with decay > 0 (DecayRule::Keras2Theano): Theano's graph is
  // p ⊖ (((lr ⊗ sqrt(1 ⊖ b2^t)) ⊗ m') ⊘ ((k ⊗ (1 ⊖ b1^t)) ⊗ (eps ⊕ sqrt(v')))).
  // Without decay its graph is the EpsHat/LrMulRatio form. Note [Theano's graph].
  bool theano_decay_split = false;
  friend bool operator==(const AdamElementwise&, const AdamElementwise&) = default;
};

struct AdamNumerics {
  OneMinus one_minus = OneMinus::Double;
  BetaPower beta_power = BetaPower::PowDouble;
  StepCounter counter = StepCounter::Int64;
  // t = count + t_offset: 0 everywhere but Keras 2.0.4 on TF when its read of
  // `iterations` races ahead of the increment (reference section 3.1): 1.
  int t_offset = 0;
  AdamAlpha alpha = AdamAlpha::LrSqrtDiv;
  AdamElementwise body;
  // Position split: where a framework's vectorised kernel computes its vector
  // body and its scalar tail differently, elements at or past floor(n / w) * w
  // of each tensor (n its size, w = vec_width) use `tail`. 0: no split.
  int vec_width = 0;
  AdamElementwise tail;
};

// ---- Adadelta ----

// Accumulator update a' from a and x (x = g for E[g^2], x = delta for E[dx^2]); C = 1 - rho, r = fl(rho).
enum class AdadeltaAcc : std::uint8_t {
  Ema,     // (r ⊗ a) ⊕ (C ⊗ (x ⊗ x))       (TF's (a⊗r) ⊕ ((x⊗x)⊗C) is the same bits)
  EmaCxX,  // (r ⊗ a) ⊕ ((C ⊗ x) ⊗ x)
  FmaCxX,  // fma(C ⊗ x, x, a ⊗ r)          (PyTorch addcmul on AVX2)
  FmaCXx,  // fma(C, x ⊗ x, a ⊗ r)
  FmaRa,   // fma(r, a, C ⊗ (x ⊗ x))
};

// The update delta (sd = sqrt(E[dx^2] ⊕ eps), sa = sqrt(E[g^2]' ⊕ eps)).
enum class AdadeltaDelta : std::uint8_t {
  MulDiv,    // (g ⊗ sd) ⊘ sa                 Keras 2, Keras 3 (negated, exact), Lasagne
  DivMul,    // (sd ⊘ sa) ⊗ g                 PyTorch, optax, Flashlight
  RsqrtMul,  // (sd ⊗ rsqrt(E[g^2]' ⊕ eps)) ⊗ g     TF ApplyAdadelta
  MulRsqrt,  // (sd ⊗ g) ⊗ rsqrt(E[g^2]' ⊕ eps)     (x/sqrt(y) rewritten to x*rsqrt(y))
  Theano,    // Keras 2 on Theano: sa = sqrt((eps ⊕ (r ⊗ a)) ⊕ (C ⊗ (g ⊗ g))) from the parts
             // of E[g^2]' (Theano merges the additions), delta = (g ⊗ sd) ⊘ sa for E[dx^2],
             // and the parameter p ⊖ (((lr ⊗ g) ⊗ sd) ⊘ sa), or ⊘ (k ⊗ sa) with decay, when
             // lr is a Theano variable (Keras); with param = Fma, fma(fl(-lr), delta, p):
             // lr a constant, delta its own node (Lasagne). Needs acc = Ema. Note [Theano's graph].
};

enum class AdadeltaParam : std::uint8_t {
  Sub,      // p ⊖ (lr ⊗ delta)      (p ⊕ (fl(-lr) ⊗ delta) is the same bits)
  Fma,      // fma(fl(-lr), delta, p)
  Plus,     // p ⊕ delta: optax with learning_rate=None (no scaling, no sign flip)
  PlusFma,  // the same with delta's last product fused into the sum: delta = x ⊗ y
            // gives fma(x, y, p) (XLA: optax, learning_rate=None, under jit)
};

struct AdadeltaElementwise {
  bool ftz = false;
  AdadeltaAcc acc = AdadeltaAcc::Ema;         // E[g^2]
  AdadeltaAcc acc_update = AdadeltaAcc::Ema;  // E[dx^2]
  AdadeltaDelta delta = AdadeltaDelta::MulDiv;
  AdadeltaParam param = AdadeltaParam::Sub;
  RsqrtMode rsqrt = RsqrtMode::Exact;
  L2Form l2 = L2Form::Add;
  // TF.js divides by the *previous* E[g^2] (reference section 9). Unverified here.
  bool old_accumulator = false;
  // TF 1.x before the fix of tensorflow/tensorflow#9058 wrote E[dx^2] first and
  // recomputed delta with the new E[dx^2] for the parameter. Unverified here.
  bool param_uses_new_update_acc = false;
  friend bool operator==(const AdadeltaElementwise&, const AdadeltaElementwise&) = default;
};

struct AdadeltaNumerics {
  OneMinus one_minus = OneMinus::Double;
  AdadeltaElementwise body;
  int vec_width = 0;  // as AdamNumerics::vec_width
  AdadeltaElementwise tail;
};

// ---- SGD ----

// Momentum conventions (mu = fl(momentum), lr = fl(lr)).
enum class SgdForm : std::uint8_t {
  Keras2,      // v = (mu ⊗ m) ⊖ (lr ⊗ g); m = v; p ⊕ v; Nesterov (p ⊕ (mu ⊗ v)) ⊖ (lr ⊗ g).
               // No momentum: p ⊖ (g ⊗ lr).                                     Keras 2.0.4
  Keras,       // m = (m ⊗ mu) ⊖ (g ⊗ lr); p ⊕ m; Nesterov p ⊕ ((m ⊗ mu) ⊖ (g ⊗ lr)).
               // No momentum: p ⊖ (g ⊗ lr), or fma(g, fl(-lr), p) with fma_param.
               //                                   TF ApplyKerasMomentum, Keras 3 (TF, JAX)
  Torch,       // buf = g (first step) else (buf ⊗ mu) ⊕ g; Nesterov g' = g ⊕ (mu ⊗ buf);
               // p ⊕ (fl(-lr) ⊗ g').                                                PyTorch
  Optax,       // tr = g ⊕ (mu ⊗ tr); Nesterov u = g ⊕ (mu ⊗ tr); p ⊕ (fl(-lr) ⊗ u).   optax
  KerasTorch,  // buf = (buf ⊗ mu) ⊕ (fl(-lr) ⊗ g); Nesterov p ⊕ (fl(-lr) ⊗ g) then
               // p ⊕ (mu ⊗ buf); else p ⊕ buf.                             Keras 3 torch backend
  Keras2Theano,  // Keras 2.0.4's expressions as Theano fuses them and g++ contracts them
                 // (Note [Theano's graph]), s = lr ⊗ g, or (lr ⊗ g) ⊘ k with decay:
                 // momentum v = fma(mu, m, -s) when s is shared (Nesterov, decay), else
                 // fma(fl(-lr), g, mu ⊗ m); p ⊕ v; Nesterov fma(mu, v, p) ⊖ s.
                 // No momentum: p ⊖ (g ⊗ lr), or p ⊕ fma(mu, m, -s) with decay. The
                 // fma_* knobs are not read.
};

struct SgdElementwise {
  bool ftz = false;
  SgdForm form = SgdForm::Torch;
  // Fused multiply-add sites: the momentum accumulation, the Nesterov combination,
  // the parameter update (each a*b + c of the form above rounded once).
  bool fma_buf = false, fma_nest = false, fma_param = false;
  L2Form l2 = L2Form::Add;
  friend bool operator==(const SgdElementwise&, const SgdElementwise&) = default;
};

struct SgdNumerics {
  SgdElementwise body;
  int vec_width = 0;
  SgdElementwise tail;
};

// ---- the preset ----

// How a preset was checked (docs/NUMERICS.md).
enum class Verification : std::uint8_t {
  RealTrace,  // bit-exact against traces recorded from the real framework (tests/data/golden)
  RealTraceBounded,  // against real traces: bit-exact up to the framework's own routine that is
                     // not correctly rounded (PyTorch wheels' MKL sqrt), within a stated ulp bound
  Emulated,   // bit-exact against a NumPy float32 emulation of the framework's documented op
              // sequence (the framework cannot be installed here)
  None,       // no trace: built from the reference alone
};

// Hyper-parameter defaults of the framework a preset names. lr of Adadelta is
// optional: optax's adadelta has learning_rate=None (no scaling).
struct AdamDefaults {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};
struct AdadeltaDefaults {
  std::optional<double> lr = 1.0;
  double rho = 0.95, eps = 1e-6;
};
struct SgdDefaults {
  double lr = 0.01, momentum = 0.0;
  bool nesterov = false;
};

struct Preset {
  std::string name;
  std::string source;  // framework, version and files followed
  bool has_adam = true, has_adadelta = true, has_sgd = true;
  Verification adam_verified = Verification::None;
  Verification adadelta_verified = Verification::None;
  Verification sgd_verified = Verification::None;
  StepScope step_scope = StepScope::Parameter;
  DecayRule decay_rule = DecayRule::Keras2Float;
  // The counter SGD's and Adadelta's `decay` reads (Keras 2's float32 `iterations`
  // stops at 2^24). Adam's decay reads adam.counter, the counter of its t.
  StepCounter decay_counter = StepCounter::Int64;
  AdamNumerics adam;
  AdadeltaNumerics adadelta;
  SgdNumerics sgd;
  AdamDefaults adam_defaults;
  AdadeltaDefaults adadelta_defaults;
  SgdDefaults sgd_defaults;
};

// True when the element formulas have a fused multiply-add site, flush to zero or
// a hardware approximation: such presets cannot be run as separate tensor ops
// (composed mode), see Note [Fused and composed] in parity/optim/optimizer.h.
bool has_fma_site(const AdamElementwise& k);
bool has_fma_site(const AdadeltaElementwise& k);
bool has_fma_site(const SgdElementwise& k);

}  // namespace parity::optim
