// The named presets (parity/optim/presets.h). Each knob cites the upstream
// source it follows (project, version, file) or the golden trace that settled
// it (tests/data/golden/); docs/NUMERICS.md has the formulas in full. The "ref
// sec. N" in the source strings name sections of the numerics notes the presets
// were first written from, which are not part of this repository: the upstream
// file and version named next to each is the citation to follow.
#include "parity/optim/presets.h"

#include <string>

#include "parity/tensor/error.h"

namespace parity::optim::presets {

namespace {

using V = Verification;

AdamElementwise eps_hat(AdamM m, AdamV v, AdamParam p = AdamParam::Sub) {
  AdamElementwise k;
  k.m = m;
  k.v = v;
  k.form = AdamForm::EpsHat;
  k.param = p;
  return k;
}

AdamElementwise torch_form(AdamM m, AdamV v, AdamParam p = AdamParam::Addcdiv) {
  AdamElementwise k;
  k.m = m;
  k.v = v;
  k.form = AdamForm::Torch;
  k.param = p;
  k.denom = AdamDenom::Div;
  k.l2 = L2Form::Fma;
  k.decoupled = DecoupledForm::TorchMul;
  return k;
}

AdadeltaElementwise adadelta_form(AdadeltaAcc acc, AdadeltaDelta delta,
                                  AdadeltaParam p = AdadeltaParam::Sub) {
  AdadeltaElementwise k;
  k.acc = k.acc_update = acc;
  k.delta = delta;
  k.param = p;
  return k;
}

// TensorFlow's CPU Adadelta: Eigen's rsqrt (estimate + one Newton step) on full
// packets of 8 floats, 1/sqrt on the remaining tail; FTZ on (TensorFlow
// tensorflow/core/kernels/training_ops.cc, ApplyAdadelta, built with Eigen).
void tf_cpu_adadelta(AdadeltaNumerics& n, AdadeltaDelta delta) {
  n.body = adadelta_form(AdadeltaAcc::Ema, delta);
  n.body.ftz = true;
  n.body.rsqrt = RsqrtMode::EigenAvx;
  n.vec_width = 8;
  n.tail = n.body;
  n.tail.rsqrt = RsqrtMode::OneOverSqrt;
}

SgdElementwise sgd_form(SgdForm form, bool fma_buf = false, bool fma_nest = false, bool fma_param = false) {
  SgdElementwise k;
  k.form = form;
  k.fma_buf = fma_buf;
  k.fma_nest = fma_nest;
  k.fma_param = fma_param;
  return k;
}

// ---- the paper ----
Preset make_paper() {
  Preset p;
  p.name = "paper";
  p.source =
      "Kingma & Ba, arXiv:1412.6980 Algorithm 1; Zeiler, arXiv:1212.5701 Algorithm 1 (ref sec. 2); "
      "constants and bias corrections rounded once from double, every tensor operation one float32 rounding";
  p.has_sgd = false;
  p.adam_verified = p.adadelta_verified = V::Emulated;
  p.adam.one_minus = OneMinus::Double;
  p.adam.beta_power = BetaPower::PowDouble;
  p.adam.counter = StepCounter::Int64;
  p.adam.body.m = AdamM::Ema;
  p.adam.body.v = AdamV::Ema;
  p.adam.body.form = AdamForm::Paper;
  p.adam.body.param = AdamParam::PaperSub;
  p.adadelta.one_minus = OneMinus::Double;
  p.adadelta.body = adadelta_form(AdadeltaAcc::Ema, AdadeltaDelta::DivMul);
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.95, 1e-6};
  return p;
}

// ---- Keras 2.0.4 ----
// Both fitted to traces of the real Keras 2.0.4 (tools/golden/run_keras2.py):
// Theano 0.9.0 compiled by g++ 12 -O3 -march=native on an x86-64 CPU with FMA,
// and TensorFlow 2.21's graph mode. Note [Theano's graph].
Preset make_keras2_theano() {
  Preset p;
  p.name = "keras2_theano";
  p.source =
      "Keras 2.0.4 keras/optimizers.py + keras/backend/theano_backend.py on Theano 0.9.0, floatX=float32, "
      "CPU (ref sec. 3), fitted bit for bit to the real framework's traces: beta a float32 variable "
      "(C_f32), float32 iterations, t = old iterations + 1, lr_t = lr*(sqrt(1-b2^t)/(1-b1^t)); rho a "
      "Python float (C_dbl); Theano's fused loops as g++ -march=native contracts them (FMA), decay "
      "divided inside the loop; no FTZ";
  p.step_scope = StepScope::Optimizer;
  p.decay_rule = DecayRule::Keras2Theano;
  p.decay_counter = StepCounter::Float32;  // `iterations` is a float32 variable
  p.adam_verified = p.adadelta_verified = p.sgd_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Float;
  p.adam.beta_power = BetaPower::PowFloatLibm;
  p.adam.counter = StepCounter::Float32;
  p.adam.alpha = AdamAlpha::LrMulRatio;
  p.adam.body = eps_hat(AdamM::EmaFmaCg, AdamV::FmaBv);
  p.adam.body.theano_decay_split = true;
  p.adadelta.one_minus = OneMinus::Double;
  p.adadelta.body = adadelta_form(AdadeltaAcc::Ema, AdadeltaDelta::Theano);
  p.adadelta.body.acc_update = AdadeltaAcc::FmaRa;
  p.sgd.body = sgd_form(SgdForm::Keras2Theano);
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.95, 1e-8};
  p.sgd_defaults = {0.01, 0.0, false};
  return p;
}

// Theano 1.0.5 prints the same optimized graph but its compiled loops contract
// the other product of two sums: v' and E[dx^2]' differ from Theano 0.9.0's.
Preset make_keras2_theano_1_0_5() {
  Preset p = make_keras2_theano();
  p.name = "keras2_theano_1_0_5";
  p.source =
      "Keras 2.0.4 on Theano 1.0.5 (floatX=float32, CPU), fitted bit for bit to the real framework's "
      "traces: keras2_theano but v' = fma(C2, g*g, b2*v) and E[dx^2]' = fma(C, delta^2, rho*d)";
  p.adam.body.v = AdamV::FmaCGg;
  p.adadelta.body.acc_update = AdadeltaAcc::FmaCXx;
  return p;
}

Preset make_keras2_tensorflow() {
  Preset p;
  p.name = "keras2_tensorflow";
  p.source =
      "Keras 2.0.4 keras/optimizers.py + keras/backend/tensorflow_backend.py on TensorFlow 2.21's graph "
      "mode (tf.compat.v1), CPU, fitted bit for bit to the real framework's traces with Keras' "
      "iterations increment run after each step (race-free, t = old iterations + 1): the expressions of "
      "Keras 2, each op its own float32 kernel, flush-to-zero on; Grappler rewrites Adadelta's "
      "x / sqrt(y) into x * rsqrt(y) (Eigen's rsqrt on 8-wide packets, 1/sqrt on the tail)";
  p.step_scope = StepScope::Optimizer;
  p.decay_rule = DecayRule::Keras2Float;
  p.decay_counter = StepCounter::Float32;  // `iterations` is a float32 variable
  p.adam_verified = p.adadelta_verified = p.sgd_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Float;
  p.adam.beta_power = BetaPower::PowFloat;
  p.adam.counter = StepCounter::Float32;
  p.adam.alpha = AdamAlpha::LrMulRatio;
  p.adam.body = eps_hat(AdamM::Ema, AdamV::Ema);
  p.adam.body.ftz = true;
  p.adadelta.one_minus = OneMinus::Double;
  tf_cpu_adadelta(p.adadelta, AdadeltaDelta::MulRsqrt);
  p.sgd.body = sgd_form(SgdForm::Keras2);
  p.sgd.body.ftz = true;
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.95, 1e-8};
  p.sgd_defaults = {0.01, 0.0, false};
  return p;
}

Preset make_keras2_tensorflow_t_ahead() {
  Preset p = make_keras2_tensorflow();
  p.name = "keras2_tensorflow_t_ahead";
  p.source +=
      "; the read of `iterations` racing ahead of its increment at every step (ref sec. 3.1): t = new "
      "iterations + 1 (one outcome of the race, an emulation)";
  p.adam_verified = V::Emulated;
  p.adam.t_offset = 1;
  p.has_adadelta = p.has_sgd = false;  // no step counter there: identical to keras2_tensorflow
  p.adadelta_verified = p.sgd_verified = V::None;
  return p;
}

// ---- Lasagne, Flashlight ----
Preset make_lasagne() {
  Preset p;
  p.name = "lasagne";
  p.source =
      "Lasagne master 5d3c63cb lasagne/updates.py (ref sec. 7), Theano floatX=float32: "
      "one = T.constant(1) keeps 1-beta and 1-rho float32 (C_f32); a_t = (lr*sqrt(1-b2^t))/(1-b1^t)";
  p.has_sgd = false;
  p.step_scope = StepScope::Optimizer;
  p.adam_verified = p.adadelta_verified = V::Emulated;
  p.adam.one_minus = OneMinus::Float;
  p.adam.beta_power = BetaPower::PowFloat;
  p.adam.counter = StepCounter::Float32;
  p.adam.alpha = AdamAlpha::LrSqrtDiv;
  p.adam.body = eps_hat(AdamM::Ema, AdamV::Ema);
  p.adadelta.one_minus = OneMinus::Float;
  p.adadelta.body = adadelta_form(AdadeltaAcc::Ema, AdadeltaDelta::MulDiv);
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.95, 1e-6};
  return p;
}

// The Lasagne that PyPI installs (0.1), run for real on Theano 0.9.0: its rules as
// Theano fuses and g++ contracts them (Note [Theano's graph]), as in keras2_theano.
Preset make_lasagne_0_1() {
  Preset p;
  p.name = "lasagne_0_1";
  p.source =
      "Lasagne 0.1 (PyPI) lasagne/updates.py on Theano 0.9.0, floatX=float32, CPU, fitted bit for bit to "
      "the real framework's traces: beta and rho Python floats (C_dbl), t_prev a floatX shared variable, "
      "a_t = (lr*sqrt(1-b2^t))/(1-b1^t) with glibc's powf; Theano's fused loops as g++ contracts them";
  p.has_sgd = false;
  p.step_scope = StepScope::Optimizer;
  p.adam_verified = p.adadelta_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Double;
  p.adam.beta_power = BetaPower::PowFloatLibm;
  p.adam.counter = StepCounter::Float32;
  p.adam.alpha = AdamAlpha::LrSqrtDiv;
  p.adam.body = eps_hat(AdamM::EmaFmaCg, AdamV::FmaBv);
  p.adadelta.one_minus = OneMinus::Double;
  p.adadelta.body = adadelta_form(AdadeltaAcc::Ema, AdadeltaDelta::Theano, AdadeltaParam::Fma);
  p.adadelta.body.acc_update = AdadeltaAcc::FmaRa;
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.95, 1e-6};
  return p;
}

Preset make_flashlight() {
  Preset p;
  p.name = "flashlight";
  p.source =
      "flashlight f5f717f3 fl/optim/AdamOptimizer.cpp, AdadeltaOptimizer.cpp (ref sec. 8): float members "
      "(C_f32), int count_, bias corrections fl(1 - pow((double)fl(b), t)), lr_c = (lr*sqrtf(bc2))/bc1 on "
      "the host, (C*g)*g by C++ left associativity; no FMA assumed (ArrayFire JIT unverified)";
  p.has_sgd = false;
  p.step_scope = StepScope::Optimizer;
  p.adam_verified = p.adadelta_verified = V::Emulated;
  p.adam.one_minus = OneMinus::Float;
  p.adam.beta_power = BetaPower::PowDoubleOfFloat;
  p.adam.counter = StepCounter::Int32Saturating;
  p.adam.alpha = AdamAlpha::HostDoubleBc;
  p.adam.body = eps_hat(AdamM::Ema, AdamV::EmaCgG);
  p.adam.body.decoupled = DecoupledForm::FlashlightSub;
  p.adadelta.one_minus = OneMinus::Float;
  p.adadelta.body = adadelta_form(AdadeltaAcc::EmaCxX, AdadeltaDelta::DivMul);
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.9, 1e-8};
  return p;
}

// ---- TensorFlow ----
Preset make_tf_raw() {
  Preset p;
  p.name = "tf_raw";
  p.source =
      "TensorFlow 2.21 CPU kernels ResourceApplyAdam / ResourceApplyAdadelta / "
      "ResourceApplyKerasMomentum / ResourceApplyGradientDescent (tensorflow/core/kernels/training_ops.cc, "
      "ref sec. 4.1, 4.2) with TF1 AdamOptimizer's float32 running beta powers";
  p.step_scope = StepScope::Optimizer;
  p.adam_verified = p.adadelta_verified = p.sgd_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Float;
  p.adam.beta_power = BetaPower::RunningFloat;
  p.adam.counter = StepCounter::Int64;
  p.adam.alpha = AdamAlpha::LrSqrtDiv;
  p.adam.body = eps_hat(AdamM::Delta, AdamV::Delta);
  p.adam.body.ftz = true;  // TF runs its CPU threads with FTZ/DAZ (so says XLA's llvm_compiler.cc)
  p.adadelta.one_minus = OneMinus::Float;
  tf_cpu_adadelta(p.adadelta, AdadeltaDelta::RsqrtMul);
  p.sgd.body = sgd_form(SgdForm::Keras);
  p.sgd.body.ftz = true;
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1e-3, 0.95, 1e-8};
  p.sgd_defaults = {0.01, 0.0, false};
  return p;
}

// ---- Keras 3 ----
Preset make_keras3_tf() {
  Preset p;
  p.name = "keras3_tf";
  p.source =
      "Keras 3.15 keras/src/optimizers/{adam,adadelta,sgd}.py on the TensorFlow 2.21 backend, step in "
      "tf.function without XLA (ref sec. 4.4): C_dbl, float32 pow of fl(beta), int64 iterations";
  p.step_scope = StepScope::Optimizer;
  p.adam_verified = p.adadelta_verified = p.sgd_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Double;
  p.adam.beta_power = BetaPower::PowFloatLibm;
  p.adam.counter = StepCounter::Int64;
  p.adam.alpha = AdamAlpha::LrSqrtDiv;
  p.adam.body = eps_hat(AdamM::Delta, AdamV::Delta);
  p.adam.body.decoupled = DecoupledForm::KerasSub;
  p.adam.body.ftz = true;
  p.adadelta.one_minus = OneMinus::Double;
  // In a tf.function, Grappler rewrites x / sqrt(y) as x * rsqrt(y).
  tf_cpu_adadelta(p.adadelta, AdadeltaDelta::MulRsqrt);
  p.sgd.body = sgd_form(SgdForm::Keras);
  p.sgd.body.ftz = true;
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-7};
  p.adadelta_defaults = {1e-3, 0.95, 1e-7};
  p.sgd_defaults = {0.01, 0.0, false};
  return p;
}

Preset make_keras3_jax() {
  Preset p = make_keras3_tf();
  p.name = "keras3_jax";
  p.source =
      "Keras 3.15 on the JAX 0.10 backend, jax.jit(optimizer.stateless_apply) on XLA:CPU (ref sec. 4.4)";
  p.adam.counter = StepCounter::Int32Saturating;
  // XLA:CPU contracts mul+add into fma ("always allow FMA fusion") and rewrites x / sqrt(y)
  // into x * rsqrt(y) with its own rsqrt (Eigen's estimate + a Newton step with fmas).
  p.adam.body.m = AdamM::DeltaFma;
  p.adam.body.v = AdamV::DeltaFma2;
  p.adadelta.body = adadelta_form(AdadeltaAcc::FmaRa, AdadeltaDelta::MulRsqrt, AdadeltaParam::Fma);
  p.adadelta.body.rsqrt = RsqrtMode::XlaCpu;  // Note [XLA's rsqrt]
  p.adadelta.body.ftz = true;
  p.adadelta.vec_width = 0;
  p.sgd.body = sgd_form(SgdForm::Keras, true, true, true);
  p.sgd.body.ftz = true;
  return p;
}

Preset make_keras3_eager() {
  Preset p = make_keras3_tf();
  p.name = "keras3_eager";
  p.source = "Keras 3.15, TensorFlow or JAX backend, optimizer.apply run eagerly op by op";
  p.adadelta.body = adadelta_form(AdadeltaAcc::Ema, AdadeltaDelta::MulDiv);
  p.adadelta.body.ftz = true;
  p.adadelta.vec_width = 0;
  return p;
}

Preset make_keras3_torch() {
  Preset p = make_keras3_tf();
  p.name = "keras3_torch";
  p.source =
      "Keras 3.15 keras/src/backend/torch/optimizers/torch_{adam,adadelta,sgd}.py on torch 2.15 CPU "
      "(ref sec. 4.5): torch._foreach_* ops";
  p.adam.counter = StepCounter::Int32Saturating;  // iterations is int32 on the torch backend
  p.adam.body = eps_hat(AdamM::EmaFmaCg, AdamV::FmaCGg);
  p.adam_verified = p.adadelta_verified = V::RealTraceBounded;  // the wheel's MKL sqrt
  // Keras' variable.assign_add(lr * delta) is torch's add_(alpha): an fma on AVX2
  // (the emulation fit: p ← fma(-Δ, lr, p), no alternative).
  p.adadelta.body = adadelta_form(AdadeltaAcc::FmaCXx, AdadeltaDelta::MulDiv, AdadeltaParam::Fma);
  p.adadelta.vec_width = 0;
  p.sgd.body = sgd_form(SgdForm::KerasTorch, true, true, true);  // add(alpha) is an fma on AVX2; no FTZ
  return p;
}

// ---- PyTorch ----
Preset make_pytorch() {
  Preset p;
  p.name = "pytorch";
  p.source =
      "torch 2.15 torch/optim/{adam,adadelta,sgd}.py, single-tensor path (foreach=False), ATen CPU "
      "kernels with AVX2 (ref sec. 5, 15): C_dbl, bias corrections in double, float32 step counter";
  p.adam_verified = p.adadelta_verified = V::RealTraceBounded;  // the wheel's MKL sqrt
  p.sgd_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Double;
  p.adam.beta_power = BetaPower::PowDouble;
  p.adam.counter = StepCounter::Float32;
  p.adam.body = torch_form(AdamM::Lerp, AdamV::FmaCgG);
  p.adadelta.one_minus = OneMinus::Double;
  p.adadelta.body = adadelta_form(AdadeltaAcc::FmaCxX, AdadeltaDelta::DivMul, AdadeltaParam::Fma);
  p.adadelta.body.l2 = L2Form::Fma;
  p.sgd.body = sgd_form(SgdForm::Torch, false, true, true);
  p.sgd.body.l2 = L2Form::Fma;
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {1.0, 0.9, 1e-6};
  p.sgd_defaults = {1e-3, 0.0, false};
  return p;
}

Preset make_pytorch_foreach() {
  Preset p = make_pytorch();
  p.name = "pytorch_foreach";
  p.source = "torch 2.15 torch/optim, foreach=True on CPU (per-tensor fallbacks of torch._foreach_*)";
  return p;
}

Preset make_pytorch_fused() {
  Preset p = make_pytorch();
  p.name = "pytorch_fused";
  p.source =
      "torch 2.15 torch/optim, fused=True: aten/src/ATen/native/cpu/FusedAdamKernel.cpp, "
      "FusedSGDKernel.cpp (ref sec. 5.4); Adadelta has no fused kernel";
  p.has_adadelta = false;
  p.adam_verified = V::RealTrace;  // the fused kernel's own sqrt is correctly rounded: bit-exact
  p.adadelta_verified = V::None;
  // Vector body: Vectorized<float> ops (GCC contracts the nesterov and parameter mul+add);
  // scalar tail of each tensor (n % 8 elements): GCC contracts every a*b + c, and the
  // Adam tail computes v as fma(b2, v, (C2*g)*g).
  p.adam.vec_width = 8;
  p.adam.tail = p.adam.body;
  p.adam.tail.v = AdamV::FmaBvCgG;
  p.sgd.body = sgd_form(SgdForm::Torch, false, true, true);
  p.sgd.vec_width = 8;
  p.sgd.tail = sgd_form(SgdForm::Torch, true, true, true);
  return p;
}

Preset make_pytorch_1_13() {
  Preset p = make_pytorch();
  p.name = "pytorch_1_13";
  p.source =
      "torch 1.13.1 (Debian python3-torch) torch/optim, single-tensor path, ATen CPU kernels with AVX2 "
      "(ref sec. 5.1, 15): m.mul_(b1).add_(g, alpha=1-b1)";
  p.adam.body.m = AdamM::EmaFmaCg;
  p.adam_verified = p.adadelta_verified = V::RealTrace;  // Debian's build has no MKL: bit-exact
  return p;
}

Preset make_pytorch_1_13_foreach() {
  Preset p = make_pytorch_1_13();
  p.name = "pytorch_1_13_foreach";
  p.source = "torch 1.13.1 (Debian python3-torch) torch/optim, foreach=True on CPU";
  return p;
}

// ---- optax ----
Preset make_optax() {
  Preset p;
  p.name = "optax";
  p.source =
      "optax 0.2.8 optax/_src/transform.py, alias.py (ref sec. 6), one jax.jit'ed step on XLA:CPU "
      "(jax 0.10.2): C_dbl (weak-typed Python floats), float32 pow, int32 count";
  p.step_scope = StepScope::Optimizer;
  p.adam_verified = p.adadelta_verified = p.sgd_verified = V::RealTrace;
  p.adam.one_minus = OneMinus::Double;
  p.adam.beta_power = BetaPower::PowFloatLibm;
  p.adam.counter = StepCounter::Int32Saturating;
  p.adam.body.ftz = true;
  p.adam.body.m = AdamM::EmaFmaCg;
  p.adam.body.v = AdamV::FmaCGg;
  p.adam.body.form = AdamForm::Optax;
  p.adam.body.param = AdamParam::Fma;
  p.adam.body.denom = AdamDenom::Div;
  p.adam.body.merge_bias_div = true;
  p.adadelta.one_minus = OneMinus::Double;
  p.adadelta.body = adadelta_form(AdadeltaAcc::FmaCXx, AdadeltaDelta::RsqrtMul, AdadeltaParam::Fma);
  p.adadelta.body.acc_update = AdadeltaAcc::FmaRa;
  p.adadelta.body.rsqrt = RsqrtMode::XlaCpu;  // Note [XLA's rsqrt]
  p.adadelta.body.ftz = true;
  p.sgd.body = sgd_form(SgdForm::Optax, true, true, true);
  p.sgd.body.ftz = true;
  p.adam_defaults = {1e-3, 0.9, 0.999, 1e-8};
  p.adadelta_defaults = {std::nullopt, 0.9, 1e-6};
  p.sgd_defaults = {1e-2, 0.0, false};
  return p;
}

Preset make_optax_nojit() {
  Preset p = make_optax();
  p.name = "optax_nojit";
  p.source =
      "optax 0.2.8 under jax.disable_jit(): op by op, each op one float32 rounding; the bias "
      "corrections' decay**count is jax.lax.integer_pow (float32 squaring) when count is concrete";
  p.adam.beta_power = BetaPower::SquaringFloat;
  p.adam.body.m = AdamM::Ema;
  p.adam.body.v = AdamV::Ema;
  p.adam.body.param = AdamParam::Add;
  p.adam.body.denom = AdamDenom::Reciprocal;
  p.adam.body.merge_bias_div = false;
  p.adadelta.body = adadelta_form(AdadeltaAcc::Ema, AdadeltaDelta::DivMul);
  p.adadelta.body.ftz = true;
  p.sgd.body = sgd_form(SgdForm::Optax);
  p.sgd.body.ftz = true;
  return p;
}

}  // namespace

const Preset paper = make_paper();
const Preset keras2_theano = make_keras2_theano();
const Preset keras2_theano_1_0_5 = make_keras2_theano_1_0_5();
const Preset keras2_tensorflow = make_keras2_tensorflow();
const Preset keras2_tensorflow_t_ahead = make_keras2_tensorflow_t_ahead();
const Preset tf_raw = make_tf_raw();
const Preset keras3_tf = make_keras3_tf();
const Preset keras3_jax = make_keras3_jax();
const Preset keras3_torch = make_keras3_torch();
const Preset keras3_eager = make_keras3_eager();
const Preset pytorch = make_pytorch();
const Preset pytorch_foreach = make_pytorch_foreach();
const Preset pytorch_fused = make_pytorch_fused();
const Preset pytorch_1_13 = make_pytorch_1_13();
const Preset pytorch_1_13_foreach = make_pytorch_1_13_foreach();
const Preset optax = make_optax();
const Preset optax_nojit = make_optax_nojit();
const Preset lasagne = make_lasagne();
const Preset lasagne_0_1 = make_lasagne_0_1();
const Preset flashlight = make_flashlight();

const std::vector<const Preset*>& all() {
  static const std::vector<const Preset*> list = {&paper,
                                                  &keras2_theano,
                                                  &keras2_theano_1_0_5,
                                                  &keras2_tensorflow,
                                                  &keras2_tensorflow_t_ahead,
                                                  &tf_raw,
                                                  &keras3_tf,
                                                  &keras3_jax,
                                                  &keras3_torch,
                                                  &keras3_eager,
                                                  &pytorch,
                                                  &pytorch_foreach,
                                                  &pytorch_fused,
                                                  &pytorch_1_13,
                                                  &pytorch_1_13_foreach,
                                                  &optax,
                                                  &optax_nojit,
                                                  &lasagne,
                                                  &lasagne_0_1,
                                                  &flashlight};
  return list;
}

const Preset& by_name(std::string_view name) {
  std::string names;
  for (const Preset* p : all()) {
    if (p->name == name) return *p;
    names += (names.empty() ? "" : ", ") + p->name;
  }
  PARITY_FAIL("optim::presets::by_name: no preset named '", name, "'; the presets are: ", names);
}

}  // namespace parity::optim::presets
