// The update functors: the math of one optimizer step for one element, written
// once (Note [One formula, two backends]) and instantiated three ways:
//
//   - ScalarArith (float, this file): the CUDA backend's update (parity/cuda/optim_update.cu)
//     and the CPU's fallback loop (parity/cpu/optim_update.cpp);
//   - an 8-lane AVX2 pack (parity/cpu/optim_update_avx2.cpp): the CPU fast path. Every
//     pack operation is the same correctly rounded IEEE operation per lane
//     (vaddps, vmulps, vdivps, vsqrtps, vfmadd), so it gives the scalar path's bits;
//   - tensors (parity/optim/composed.cpp): composed mode, each operation a tensor op.
//
// The functors follow the knobs of a preset (parity/optim/numerics.h, Note [Presets are
// data]); every operation names its rounding through the arithmetic policy `A`
// (A::add is one ⊕, A::fma one fused multiply-add), so nothing here depends on
// the compiler's contraction (Note [Rounding is explicit], parity/tensor/rounding.h).
// Per-step scalars (bias corrections, alpha, ...) are computed once on the host
// (parity/optim/scalars.h) and passed in.
//
// Flush to zero (Ftz<A>) wraps every operation: subnormal operands are read as
// zero and subnormal results written as zero, as x86 MXCSR FTZ|DAZ or CUDA
// ftz=true do (the emulation of tools/golden/numerics.py, class Arith).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "parity/optim/numerics.h"
#include "parity/tensor/macros.h"
#include "parity/tensor/rounding.h"

#if !PARITY_DEVICE_CODE && (defined(__x86_64__) || defined(_M_X64))
#include <xmmintrin.h>
#define PARITY_OPTIM_HAVE_SSE 1
#else
#define PARITY_OPTIM_HAVE_SSE 0
#endif

// The functors are always inlined into their loops: an out-of-line call per
// 8-lane pack would pass the packs through memory.
#if defined(__CUDACC__)
#define PARITY_OPTIM_INLINE __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define PARITY_OPTIM_INLINE inline __attribute__((always_inline))
#else
#define PARITY_OPTIM_INLINE inline
#endif

namespace parity::optim::kernel {

inline constexpr float kFloatMinNormal = 1.17549435e-38f;

// ---- per-step scalars (host-computed, parity/optim/scalars.cpp) ----

struct AdamScalars {
  float b1 = 0, b2 = 0;              // fl(beta1), fl(beta2)
  float c1 = 0, c2 = 0;              // the one-minus constants (C_dbl or C_f32)
  float lerp_w1 = 0;                 // c1 ⊖ 1 (lerp's upper branch)
  bool lerp_low = true;              // c1 < 0.5
  float eps = 0;                     // fl(eps)
  float alpha = 0, neg_alpha = 0;    // EpsHat step size and its negation
  float neg_ss = 0;                  // Torch: fl(-lr / bc1)
  float bc2s = 0, inv_bc2s = 0;      // Torch: fl(sqrt(bc2)), 1 ⊘ fl(sqrt(bc2))
  float omp1 = 0, omp2 = 0;          // Optax: 1 ⊖ b1^t, 1 ⊖ b2^t (float32)
  float inv_omp1 = 0, inv_omp2 = 0;  // Optax: 1 ⊘ omp1, 1 ⊘ omp2
  float neg_lr = 0, lr = 0;          // fl(-lr), fl(lr)
  float bc1 = 0, bc2 = 0;            // Paper: fl(1 - b^t), from double
  bool l2 = false;                   // coupled weight decay
  bool decoupled = false;            // decoupled weight decay
  float wd = 0;                      // fl(weight_decay)
  float decay_factor = 0;            // TorchMul: fl(1 - lr·wd)
  float wd_lr = 0;                   // FlashlightSub: fl(wd) ⊗ fl(lr)
  bool amsgrad = false;
  bool theano_decay = false;         // theano_decay_split with decay > 0: the two factors below
  float theano_num = 0;              //   fl(lr) ⊗ sqrt(1 ⊖ b2^t)
  float theano_den = 0;              //   k ⊗ (1 ⊖ b1^t)
};

struct AdadeltaScalars {
  float rho = 0, c = 0, eps = 0, lr = 0, neg_lr = 0;
  bool theano_decay = false;  // DecayRule::Keras2Theano with decay > 0: divide by k
  float k = 1;                // fma(decay, iterations, 1)
  bool l2 = false;         // coupled weight decay (g ⊕ wd ⊗ p, or fma)
  bool decoupled = false;  // Flashlight: p ⊖ (wd ⊗ p), no lr
  float wd = 0;
};

struct SgdScalars {
  float lr = 0, neg_lr = 0, mu = 0;
  bool momentum = false, nesterov = false;
  bool first = false;      // Torch form: the first step copies g into the buffer
  bool dampening = false;  // Torch form with dampening != 0
  float one_minus_dampening = 1;
  bool l2 = false;
  float wd = 0;
  bool theano_decay = false;  // Keras2Theano with decay > 0: s = (lr ⊗ g) ⊘ k
  float k = 1;
};

// ---- arithmetic policies ----

// float32 scalars, every operation one rounding (host and device alike).
struct ScalarArith {
  using V = float;
  static PARITY_INLINE float lift(float x) { return x; }
  static PARITY_INLINE float add(float a, float b) { return rn::add(a, b); }
  static PARITY_INLINE float sub(float a, float b) { return rn::sub(a, b); }
  static PARITY_INLINE float mul(float a, float b) { return rn::mul(a, b); }
  static PARITY_INLINE float div(float a, float b) { return rn::div(a, b); }
  static PARITY_INLINE float fma(float a, float b, float c) { return rn::fma(a, b, c); }
  static PARITY_INLINE float sqrt(float a) { return rn::sqrt(a); }
  static PARITY_INLINE float neg(float a) { return -a; }
  // |x| < FLT_MIN (subnormal or zero) -> zero of x's sign; NaN passes.
  // x ⊗ 0 is the zero of x's sign for every finite x.
  static PARITY_INLINE float flush(float x) {
    const float ax = x < 0.0f ? -x : x;
    return ax < kFloatMinNormal ? rn::mul(x, 0.0f) : x;
  }
  static PARITY_INLINE float copy(float x) { return x; }
  static PARITY_INLINE float load(float x) { return x; }
  // NaN from either side propagates (torch.maximum); otherwise the larger, a on ties.
  static PARITY_INLINE float max(float a, float b) { return a != a ? a : (b != b ? b : (a < b ? b : a)); }
  static PARITY_INLINE float rsqrt(float x, RsqrtMode mode) {
    switch (mode) {
      case RsqrtMode::Exact:
        // 1/sqrt in double, rounded once to float32: the double result is within
        // 2^-52 relative of the true value, far inside float32's half-ulp.
        return static_cast<float>(rn::div(1.0, rn::sqrt(static_cast<double>(x))));
      case RsqrtMode::OneOverSqrt:
        return rn::div(1.0f, rn::sqrt(x));
      case RsqrtMode::EigenAvx:
      case RsqrtMode::EigenAvxFma:
        return eigen_rsqrt(x, mode == RsqrtMode::EigenAvxFma);
      case RsqrtMode::XlaTwoStep:
      case RsqrtMode::XlaCpu:  // resolved by the optimizer; two steps if it ever gets here
        return xla_rsqrt(x);
    }
    return x;
  }

 private:
  // Eigen's prsqrt under EIGEN_FAST_MATH: the hardware estimate refined by one
  // Newton step (generic_rsqrt_newton_step); a NaN result (x = 0 or inf) falls
  // back to the estimate. Host x86 only; the optimizers refuse it elsewhere.
  static PARITY_INLINE float eigen_rsqrt(float x, bool with_fma) {
#if PARITY_OPTIM_HAVE_SSE
    const float approx = _mm_cvtss_f32(_mm_rsqrt_ss(_mm_set_ss(x)));
    const float r2 = rn::mul(x, approx);
    const float half_r = rn::mul(approx, -0.5f);
    float inv;
    if (with_fma) {
      inv = rn::fma(half_r, rn::fma(r2, approx, -1.0f), approx);
    } else {
      inv = rn::add(rn::mul(half_r, rn::add(rn::mul(r2, approx), -1.0f)), approx);
    }
    return inv != inv ? approx : inv;
#else
    (void)with_fma;
    return rn::div(x - x, 0.0f);  // NaN; unreachable: the optimizers refuse this mode here
#endif
  }

  // Note [XLA's rsqrt]
  // XLA:CPU (jaxlib 0.10.2) lowers rsqrt through its own intrinsic,
  // xla/codegen/math/rsqrt.cc: the hardware estimate (rsqrtss / rsqrtps), two
  // Newton steps y' = fma(-0.5·y, fma(x·y, y, -1), y), and the estimate itself
  // where x < FLT_MIN or x = inf. The object code of a jitted optax.adadelta step
  // on an AVX-512 Intel Xeon shows exactly that (XLA_FLAGS=--xla_dump_to, objdump),
  // and its traces replay bit for bit with it. The traces recorded on an AVX2-only
  // AMD Zen 3 with the same jaxlib replay bit for bit with ONE such step
  // (EigenAvxFma), which XLA's source does not explain; RsqrtMode::XlaCpu picks by
  // AVX-512F, the one difference between the two machines that XLA's code could
  // see. On an AVX2-only Intel CPU the choice is unverified: both forms are named
  // (EigenAvxFma, XlaTwoStep). docs/NUMERICS.md, "Traces per CPU kind".
  static PARITY_INLINE float xla_rsqrt(float x) {
#if PARITY_OPTIM_HAVE_SSE
    const float approx = _mm_cvtss_f32(_mm_rsqrt_ss(_mm_set_ss(x)));
    float y = approx;
    for (int step = 0; step < 2; ++step) {
      const float r2 = rn::mul(x, y);
      const float half_r = rn::mul(y, -0.5f);
      y = rn::fma(half_r, rn::fma(r2, y, -1.0f), y);
    }
    return (x < kFloatMinNormal || x == __builtin_inff()) ? approx : y;
#else
    return rn::div(x - x, 0.0f);  // NaN; unreachable: the optimizers refuse this mode here
#endif
  }
};

// Flush-to-zero wrapper: DAZ on every operand, FTZ on every result. The
// functors pass their tensor inputs through load() once, so every tensor value
// an operation sees is already flushed (a loaded input or a flushed result) and
// only float scalars need flushing on the way in: the same results as flushing
// every operand, at a third of the cost.
//
// Note [FTZ edge]: a result is flushed when its correctly rounded value (with
// gradual underflow) is subnormal. x86 FTZ detects tininess after rounding to
// 24 bits with an unbounded exponent, so for an exact result in
// (FLT_MIN·(1 − 2^-24), FLT_MIN·(1 − 2^-25)) it returns 0 where this returns
// FLT_MIN. The golden emulations flush the same way as this; no trace hits it.
template <class A>
struct Ftz {
  using V = typename A::V;
  // Operands: float scalars are flushed; tensor values (V) already are, except on
  // the scalar path, where V is float too and every operand is flushed.
  template <class X>
  static PARITY_OPTIM_INLINE V in(X x) {
    if constexpr (std::is_same_v<X, float>)
      return A::lift(ScalarArith::flush(x));
    else
      return x;
  }
  static PARITY_OPTIM_INLINE V load(V x) { return A::flush(x); }
  template <class X>
  static PARITY_OPTIM_INLINE V lift(X x) {
    return A::lift(x);
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE V add(X a, Y b) {
    return A::flush(A::add(in(a), in(b)));
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE V sub(X a, Y b) {
    return A::flush(A::sub(in(a), in(b)));
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE V mul(X a, Y b) {
    return A::flush(A::mul(in(a), in(b)));
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE V div(X a, Y b) {
    return A::flush(A::div(in(a), in(b)));
  }
  template <class X, class Y, class Z>
  static PARITY_OPTIM_INLINE V fma(X a, Y b, Z c) {
    return A::flush(A::fma(in(a), in(b), in(c)));
  }
  static PARITY_OPTIM_INLINE V sqrt(V a) { return A::flush(A::sqrt(in(a))); }
  static PARITY_OPTIM_INLINE V neg(V a) { return A::neg(in(a)); }
  static PARITY_OPTIM_INLINE V flush(V a) { return A::flush(a); }
  static PARITY_OPTIM_INLINE V copy(V a) { return a; }
  static PARITY_OPTIM_INLINE V max(V a, V b) { return A::max(in(a), in(b)); }
  static PARITY_OPTIM_INLINE V rsqrt(V a, RsqrtMode mode) { return A::flush(A::rsqrt(in(a), mode)); }
};

// ---- Adam ----

// Note [Theano's graph]
// Keras 2.0.4 on Theano does not run Keras' expressions as written: Theano's
// optimizer rewrites the graph, fuses elementwise chains into Composite loops
// and compiles them with g++ -O3 -march=native, whose default
// -ffp-contract=fast turns a product feeding an addition into an FMA
// (theano.printing.debugprint of the update function shows the composites;
// tools/golden/keras2/README.md). Fitted bit for bit to Theano 0.9.0's traces:
//   Adam      m' = fma(C1, g, b1 ⊗ m), v' = fma(b2, v, C2 ⊗ (g ⊗ g)); with decay the
//             step size splits: ((lr ⊗ sqrt(1 ⊖ p2)) ⊗ m') ⊘ ((k ⊗ (1 ⊖ p1)) ⊗ (eps ⊕ sqrt(v')));
//             beta^t by glibc's powf.
//   Adadelta  rho ⊗ a and C ⊗ g^2 are nodes of their own (no FMA), and sqrt(E[g^2]' + eps)
//             is computed from them as (eps ⊕ ra) ⊕ cg; E[dx^2]' = fma(rho, d, C ⊗ delta^2).
//   SGD       the product that g++ fuses is the one inside the composite: lr ⊗ g when it is
//             used once, mu ⊗ m when lr ⊗ g is a node shared by two composites (Nesterov)
//             or a quotient (decay).
//   decay     1 ⊘ (1 + decay·it) becomes a division by k = fma(decay, it, 1) in the loop.
// These depend on the compiler (contraction) and on glibc (powf): they hold for
// g++ 12 on x86-64 with FMA, where they were recorded.

template <class A>
PARITY_OPTIM_INLINE void adam_element(const AdamElementwise& k, const AdamScalars& s, typename A::V& p,
                                      typename A::V g, typename A::V& m, typename A::V& v,
                                      typename A::V& vmax) {
  using V = typename A::V;
  p = A::load(p);
  g = A::load(g);
  m = A::load(m);
  v = A::load(v);
  if (s.amsgrad) vmax = A::load(vmax);
  if (s.l2) g = k.l2 == L2Form::Fma ? A::fma(p, s.wd, g) : A::add(g, A::mul(s.wd, p));
  if (s.decoupled) {
    switch (k.decoupled) {
      case DecoupledForm::TorchMul:
        p = A::mul(p, s.decay_factor);
        break;
      case DecoupledForm::KerasSub:
        p = A::sub(p, A::mul(A::mul(p, s.wd), s.lr));
        break;
      case DecoupledForm::FlashlightSub:
        p = A::sub(p, A::mul(s.wd_lr, p));
        break;
    }
  }
  switch (k.m) {
    case AdamM::Delta:
      m = A::add(m, A::mul(A::sub(g, m), s.c1));
      break;
    case AdamM::DeltaFma:
      m = A::fma(A::sub(g, m), s.c1, m);
      break;
    case AdamM::Ema:
      m = A::add(A::mul(s.b1, m), A::mul(s.c1, g));
      break;
    case AdamM::EmaFmaCg:
      m = A::fma(s.c1, g, A::mul(s.b1, m));
      break;
    case AdamM::EmaFmaBm:
      m = A::fma(s.b1, m, A::mul(s.c1, g));
      break;
    case AdamM::Lerp:
      m = s.lerp_low ? A::fma(s.c1, A::sub(g, m), m) : A::fma(s.lerp_w1, A::sub(g, m), g);
      break;
  }
  switch (k.v) {
    case AdamV::Delta:
      v = A::add(v, A::mul(A::sub(A::mul(g, g), v), s.c2));
      break;
    case AdamV::DeltaFma:
      v = A::fma(A::sub(A::mul(g, g), v), s.c2, v);
      break;
    case AdamV::DeltaFma2:
      v = A::fma(A::fma(g, g, A::neg(v)), s.c2, v);
      break;
    case AdamV::DeltaFma3:
      v = A::add(v, A::mul(A::fma(g, g, A::neg(v)), s.c2));
      break;
    case AdamV::Ema:
      v = A::add(A::mul(s.b2, v), A::mul(s.c2, A::mul(g, g)));
      break;
    case AdamV::EmaCgG:
      v = A::add(A::mul(s.b2, v), A::mul(A::mul(s.c2, g), g));
      break;
    case AdamV::FmaCgG:
      v = A::fma(A::mul(s.c2, g), g, A::mul(v, s.b2));
      break;
    case AdamV::FmaCGg:
      v = A::fma(s.c2, A::mul(g, g), A::mul(v, s.b2));
      break;
    case AdamV::FmaBv:
      v = A::fma(s.b2, v, A::mul(s.c2, A::mul(g, g)));
      break;
    case AdamV::FmaBvCgG:
      v = A::fma(s.b2, v, A::mul(A::mul(s.c2, g), g));
      break;
  }
  V vv = v;
  if (s.amsgrad) {
    vmax = A::max(vmax, v);
    vv = vmax;
  }
  switch (k.form) {
    case AdamForm::EpsHat: {
      const V den = A::add(A::sqrt(vv), s.eps);
      if (s.theano_decay) {
        p = A::sub(p, A::div(A::mul(s.theano_num, m), A::mul(s.theano_den, den)));
      } else if (k.param == AdamParam::FmaNeg) {
        p = A::fma(s.neg_alpha, A::div(m, den), p);
      } else {
        p = A::sub(p, A::div(A::mul(s.alpha, m), den));
      }
      break;
    }
    case AdamForm::Torch: {
      const V root = A::sqrt(vv);
      const V d =
          A::add(k.denom == AdamDenom::Reciprocal ? A::mul(root, s.inv_bc2s) : A::div(root, s.bc2s), s.eps);
      switch (k.param) {
        case AdamParam::FmaDiv:
          p = A::fma(s.neg_ss, A::div(m, d), p);
          break;
        case AdamParam::MulDiv:
          p = A::add(p, A::mul(s.neg_ss, A::div(m, d)));
          break;
        default:
          p = A::add(p, A::div(A::mul(s.neg_ss, m), d));
          break;  // Addcdiv
      }
      break;
    }
    case AdamForm::Optax: {
      const bool recip = k.denom == AdamDenom::Reciprocal;
      const V vh = recip ? A::mul(vv, s.inv_omp2) : A::div(vv, s.omp2);
      const V den = A::add(A::sqrt(vh), s.eps);
      V u;
      if (k.merge_bias_div) {
        u = A::div(m, A::mul(s.omp1, den));
      } else {
        u = A::div(recip ? A::mul(m, s.inv_omp1) : A::div(m, s.omp1), den);
      }
      p = k.param == AdamParam::Fma ? A::fma(s.neg_lr, u, p) : A::add(p, A::mul(s.neg_lr, u));
      break;
    }
    case AdamForm::Paper: {
      const V mh = A::div(m, s.bc1);
      const V vh = A::div(vv, s.bc2);
      p = A::sub(p, A::div(A::mul(s.lr, mh), A::add(A::sqrt(vh), s.eps)));
      break;
    }
  }
}

// ---- Adadelta ----

template <class A>
PARITY_OPTIM_INLINE typename A::V adadelta_acc(AdadeltaAcc kind, const AdadeltaScalars& s, typename A::V a,
                                               typename A::V x) {
  switch (kind) {
    case AdadeltaAcc::Ema:
      return A::add(A::mul(s.rho, a), A::mul(s.c, A::mul(x, x)));
    case AdadeltaAcc::EmaCxX:
      return A::add(A::mul(s.rho, a), A::mul(A::mul(s.c, x), x));
    case AdadeltaAcc::FmaCxX:
      return A::fma(A::mul(s.c, x), x, A::mul(a, s.rho));
    case AdadeltaAcc::FmaCXx:
      return A::fma(s.c, A::mul(x, x), A::mul(a, s.rho));
    case AdadeltaAcc::FmaRa:
      return A::fma(s.rho, a, A::mul(s.c, A::mul(x, x)));
  }
  return a;
}

// delta = x ⊗ y for the forms ending in a product (x ⊘ y for MulDiv): the
// factors are returned so PlusFma can fuse the last product into p's update.
template <class A>
struct DeltaParts {
  typename A::V x, y;
  bool product;
  PARITY_INLINE typename A::V value() const { return product ? A::mul(x, y) : A::div(x, y); }
};

template <class A>
PARITY_OPTIM_INLINE DeltaParts<A> adadelta_delta(const AdadeltaElementwise& k, const AdadeltaScalars& s,
                                                 typename A::V d, typename A::V g, typename A::V a) {
  const typename A::V sd = A::sqrt(A::add(d, s.eps));
  switch (k.delta) {
    case AdadeltaDelta::MulDiv:
    case AdadeltaDelta::Theano:  // handled whole in adadelta_element; here its plain form
      return {A::mul(g, sd), A::sqrt(A::add(a, s.eps)), false};
    case AdadeltaDelta::DivMul:
      return {A::div(sd, A::sqrt(A::add(a, s.eps))), g, true};
    case AdadeltaDelta::RsqrtMul:
      return {A::mul(sd, A::rsqrt(A::add(a, s.eps), k.rsqrt)), g, true};
    case AdadeltaDelta::MulRsqrt:
      return {A::mul(sd, g), A::rsqrt(A::add(a, s.eps), k.rsqrt), true};
  }
  return {g, g, true};
}

template <class A>
PARITY_OPTIM_INLINE void adadelta_element(const AdadeltaElementwise& k, const AdadeltaScalars& s,
                                          typename A::V& p, typename A::V g, typename A::V& a,
                                          typename A::V& d) {
  using V = typename A::V;
  p = A::load(p);
  g = A::load(g);
  a = A::load(a);
  d = A::load(d);
  if (s.l2) g = k.l2 == L2Form::Fma ? A::fma(p, s.wd, g) : A::add(g, A::mul(s.wd, p));
  if (s.decoupled) p = A::sub(p, A::mul(s.wd, p));
  if (k.delta == AdadeltaDelta::Theano) {
    // Note [Theano's graph]: E[g^2]' = ra ⊕ cg, sa from the parts.
    const V ra = A::mul(s.rho, a);
    const V cg = A::mul(s.c, A::mul(g, g));
    a = A::add(ra, cg);
    const V sd = A::sqrt(A::add(s.eps, d));
    const V sa = A::sqrt(A::add(A::add(s.eps, ra), cg));
    const V delta = A::div(A::mul(g, sd), sa);
    if (k.param == AdadeltaParam::Fma) {
      p = A::fma(s.neg_lr, delta, p);  // lr a constant (Lasagne): delta is a node of its own
    } else {
      const V num = A::mul(A::mul(s.lr, g), sd);  // lr a variable (Keras): merged into the product
      p = A::sub(p, A::div(num, s.theano_decay ? A::mul(s.k, sa) : sa));
    }
    d = adadelta_acc<A>(k.acc_update, s, d, delta);
    return;
  }
  const V a_old = a;
  a = adadelta_acc<A>(k.acc, s, a, g);
  DeltaParts<A> parts = adadelta_delta<A>(k, s, d, g, k.old_accumulator ? a_old : a);
  V delta = parts.value();
  d = adadelta_acc<A>(k.acc_update, s, d, delta);
  if (k.param_uses_new_update_acc) {
    parts = adadelta_delta<A>(k, s, d, g, k.old_accumulator ? a_old : a);
    delta = parts.value();
  }
  switch (k.param) {
    case AdadeltaParam::Sub:
      p = A::sub(p, A::mul(s.lr, delta));
      break;
    case AdadeltaParam::Fma:
      p = A::fma(s.neg_lr, delta, p);
      break;
    case AdadeltaParam::Plus:
      p = A::add(p, delta);
      break;
    case AdadeltaParam::PlusFma:
      p = parts.product ? A::fma(parts.x, parts.y, p) : A::add(p, delta);
      break;
  }
}

// ---- SGD ----

template <class A>
PARITY_OPTIM_INLINE void sgd_element(const SgdElementwise& k, const SgdScalars& s, typename A::V& p,
                                     typename A::V g, typename A::V& buf) {
  using V = typename A::V;
  p = A::load(p);
  g = A::load(g);
  if (s.momentum && !s.first) buf = A::load(buf);
  if (s.l2) g = k.l2 == L2Form::Fma ? A::fma(p, s.wd, g) : A::add(g, A::mul(s.wd, p));
  if (k.form == SgdForm::Keras2Theano) {
    // Note [Theano's graph]: which product g++ fuses depends on whether s = lr ⊗ g
    // is a node of its own (shared by two expressions) or inside the composite.
    const bool shared = s.nesterov || s.theano_decay;
    const V lg = A::mul(s.lr, g);
    const V step = s.theano_decay ? A::div(lg, s.k) : lg;
    if (!s.momentum) {
      // Keras keeps m = v even at momentum 0; p ⊕ fma(0, m, -s) is p ⊖ s but for
      // the sign of a zero step when p = -0.
      p = s.theano_decay ? A::sub(p, step) : A::sub(p, A::mul(g, s.lr));
      return;
    }
    buf = shared ? A::fma(s.mu, buf, A::neg(step)) : A::fma(s.neg_lr, g, A::mul(s.mu, buf));
    p = s.nesterov ? A::sub(A::fma(s.mu, buf, p), step) : A::add(p, buf);
    return;
  }
  if (!s.momentum) {
    switch (k.form) {
      case SgdForm::Torch:
      case SgdForm::KerasTorch:
        p = k.fma_param ? A::fma(g, s.neg_lr, p) : A::add(p, A::mul(s.neg_lr, g));
        break;
      case SgdForm::Optax:
        p = k.fma_param ? A::fma(s.neg_lr, g, p) : A::add(p, A::mul(s.neg_lr, g));
        break;
      case SgdForm::Keras:
      case SgdForm::Keras2:
      case SgdForm::Keras2Theano:  // returned above
        p = k.fma_param ? A::fma(g, s.neg_lr, p) : A::sub(p, A::mul(g, s.lr));
        break;
    }
    return;
  }
  switch (k.form) {
    case SgdForm::Keras:
    case SgdForm::Keras2:
    case SgdForm::Keras2Theano: {  // returned above
      const V gl = A::mul(g, s.lr);
      buf = k.fma_buf ? A::fma(buf, s.mu, A::neg(gl)) : A::sub(A::mul(buf, s.mu), gl);
      if (!s.nesterov) {
        p = A::add(p, buf);
      } else if (k.form == SgdForm::Keras) {
        p = A::add(p, k.fma_nest ? A::fma(buf, s.mu, A::neg(gl)) : A::sub(A::mul(buf, s.mu), gl));
      } else {
        p = A::sub(A::add(p, A::mul(s.mu, buf)), gl);
      }
      break;
    }
    case SgdForm::Torch: {
      if (s.first) {
        buf = A::copy(g);  // a copy (flushed when FTZ wraps A, as every operand)
      } else if (s.dampening) {
        buf = A::add(A::mul(buf, s.mu), A::mul(s.one_minus_dampening, g));
      } else {
        buf = k.fma_buf ? A::fma(buf, s.mu, g) : A::add(A::mul(buf, s.mu), g);
      }
      const V gg = !s.nesterov ? buf : (k.fma_nest ? A::fma(buf, s.mu, g) : A::add(g, A::mul(s.mu, buf)));
      p = k.fma_param ? A::fma(gg, s.neg_lr, p) : A::add(p, A::mul(s.neg_lr, gg));
      break;
    }
    case SgdForm::Optax: {
      buf = k.fma_buf ? A::fma(s.mu, buf, g) : A::add(g, A::mul(s.mu, buf));
      const V u = !s.nesterov ? buf : (k.fma_nest ? A::fma(s.mu, buf, g) : A::add(g, A::mul(s.mu, buf)));
      p = k.fma_param ? A::fma(s.neg_lr, u, p) : A::add(p, A::mul(s.neg_lr, u));
      break;
    }
    case SgdForm::KerasTorch: {
      buf = A::mul(buf, s.mu);
      buf = k.fma_buf ? A::fma(g, s.neg_lr, buf) : A::add(buf, A::mul(s.neg_lr, g));
      if (s.nesterov) {
        p = k.fma_param ? A::fma(g, s.neg_lr, p) : A::add(p, A::mul(s.neg_lr, g));
        p = k.fma_nest ? A::fma(buf, s.mu, p) : A::add(p, A::mul(s.mu, buf));
      } else {
        p = A::add(p, buf);
      }
      break;
    }
  }
}

}  // namespace parity::optim::kernel
