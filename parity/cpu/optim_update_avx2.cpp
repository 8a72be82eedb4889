// The CPU's fused optimizer updates, AVX2 path: the functors of
// parity/optim/update.h instantiated with an 8-lane float pack.
//
// Every pack operation is one correctly rounded IEEE operation per lane
// (vaddps, vsubps, vmulps, vdivps, vsqrtps, vfmadd231ps: round to nearest, the
// MXCSR default), so a lane computes exactly what ScalarArith computes for its
// element; flush-to-zero, NaN-propagating max and the Eigen rsqrt estimate are
// written out the same way as in ScalarArith. The last n % 8 elements of a range
// run through the same pack, padded in a stack buffer.
//
// Only this file is compiled for AVX2+FMA (a target pragma around the functors,
// not a global -mavx2), and its pack types live in an anonymous namespace, so no
// AVX2 code can leak into inline functions shared with the rest of the library;
// cpu_has_avx2_fma() (parity/tensor/cpu_features.h) checks the running CPU
// before any of it is called.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "parity/optim/numerics.h"
#include "parity/tensor/macros.h"
#include "parity/tensor/rounding.h"


#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define PARITY_OPTIM_AVX2 1
#elif defined(__x86_64__) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define PARITY_OPTIM_AVX2 1
#else
#define PARITY_OPTIM_AVX2 0
#endif

#include "parity/cpu/optim_update_avx2.h"

namespace parity::cpu {

using namespace optim;          // the knobs (numerics.h)
using namespace optim::kernel;  // the launches and functors (launch.h, update.h)

#if PARITY_OPTIM_AVX2

namespace {

struct F8 {
  __m256 v;
};

struct F8Arith {
  using V = F8;
  static PARITY_OPTIM_INLINE F8 lift(F8 x) { return x; }
  static PARITY_OPTIM_INLINE F8 lift(float x) { return {_mm256_set1_ps(x)}; }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE F8 add(X a, Y b) {
    return {_mm256_add_ps(lift(a).v, lift(b).v)};
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE F8 sub(X a, Y b) {
    return {_mm256_sub_ps(lift(a).v, lift(b).v)};
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE F8 mul(X a, Y b) {
    return {_mm256_mul_ps(lift(a).v, lift(b).v)};
  }
  template <class X, class Y>
  static PARITY_OPTIM_INLINE F8 div(X a, Y b) {
    return {_mm256_div_ps(lift(a).v, lift(b).v)};
  }
  template <class X, class Y, class Z>
  static PARITY_OPTIM_INLINE F8 fma(X a, Y b, Z c) {
    return {_mm256_fmadd_ps(lift(a).v, lift(b).v, lift(c).v)};
  }
  static PARITY_OPTIM_INLINE F8 sqrt(F8 a) { return {_mm256_sqrt_ps(a.v)}; }
  static PARITY_OPTIM_INLINE F8 neg(F8 a) { return {_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))}; }
  static PARITY_OPTIM_INLINE F8 copy(F8 a) { return a; }
  static PARITY_OPTIM_INLINE F8 load(F8 a) { return a; }
  static PARITY_OPTIM_INLINE F8 flush(F8 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 tiny =
        _mm256_cmp_ps(_mm256_andnot_ps(sign, x.v), _mm256_set1_ps(kFloatMinNormal), _CMP_LT_OQ);
    return {_mm256_blendv_ps(x.v, _mm256_and_ps(x.v, sign), tiny)};
  }
  static PARITY_OPTIM_INLINE F8 max(F8 a, F8 b) {
    const __m256 a_nan = _mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q);
    const __m256 b_nan = _mm256_cmp_ps(b.v, b.v, _CMP_UNORD_Q);
    __m256 r = _mm256_blendv_ps(a.v, b.v, _mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ));
    r = _mm256_blendv_ps(r, b.v, b_nan);
    return {_mm256_blendv_ps(r, a.v, a_nan)};
  }
  static PARITY_OPTIM_INLINE F8 rsqrt(F8 x, RsqrtMode mode) {
    switch (mode) {
      case RsqrtMode::Exact: {
        const __m256d one = _mm256_set1_pd(1.0);
        const __m256d lo = _mm256_div_pd(one, _mm256_sqrt_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x.v))));
        const __m256d hi = _mm256_div_pd(one, _mm256_sqrt_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x.v, 1))));
        return {_mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo))};
      }
      case RsqrtMode::OneOverSqrt:
        return {_mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_sqrt_ps(x.v))};
      case RsqrtMode::EigenAvx:
      case RsqrtMode::EigenAvxFma: {
        const __m256 approx = _mm256_rsqrt_ps(x.v);
        const __m256 r2 = _mm256_mul_ps(x.v, approx);
        const __m256 half_r = _mm256_mul_ps(approx, _mm256_set1_ps(-0.5f));
        __m256 inv;
        if (mode == RsqrtMode::EigenAvxFma) {
          inv = _mm256_fmadd_ps(half_r, _mm256_fmadd_ps(r2, approx, _mm256_set1_ps(-1.0f)), approx);
        } else {
          const __m256 h = _mm256_add_ps(_mm256_mul_ps(r2, approx), _mm256_set1_ps(-1.0f));
          inv = _mm256_add_ps(_mm256_mul_ps(half_r, h), approx);
        }
        return {_mm256_blendv_ps(inv, approx, _mm256_cmp_ps(inv, inv, _CMP_UNORD_Q))};
      }
      case RsqrtMode::XlaTwoStep:
      case RsqrtMode::XlaCpu: {  // Note [XLA's rsqrt]
        const __m256 approx = _mm256_rsqrt_ps(x.v);
        __m256 y = approx;
        for (int step = 0; step < 2; ++step) {
          const __m256 r2 = _mm256_mul_ps(x.v, y);
          const __m256 half_r = _mm256_mul_ps(y, _mm256_set1_ps(-0.5f));
          y = _mm256_fmadd_ps(half_r, _mm256_fmadd_ps(r2, y, _mm256_set1_ps(-1.0f)), y);
        }
        const __m256 use_approx = _mm256_or_ps(_mm256_cmp_ps(x.v, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ),
                                               _mm256_cmp_ps(x.v, _mm256_set1_ps(__builtin_inff()), _CMP_EQ_OQ));
        return {_mm256_blendv_ps(y, approx, use_approx)};
      }
    }
    return x;
  }
};

PARITY_OPTIM_INLINE F8 load(const float* p) { return {_mm256_loadu_ps(p)}; }
PARITY_OPTIM_INLINE void store(float* p, F8 x) { _mm256_storeu_ps(p, x.v); }

// Runs op(i, ptrs...) on full packs, then once on a padded copy of the rest.
// `arrays` are the launch's arrays (null ones skipped); op works on pointers.
template <int N, class Op>
void run_packs(float* const (&arrays)[N], std::int64_t begin, std::int64_t end, const Op& op) {
  std::int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    float* ptr[N];
    for (int k = 0; k < N; ++k) ptr[k] = arrays[k] != nullptr ? arrays[k] + i : nullptr;
    op(ptr);
  }
  const std::int64_t rest = end - i;
  if (rest <= 0) return;
  alignas(32) float buffer[N][8] = {};
  float* ptr[N];
  for (int k = 0; k < N; ++k) {
    ptr[k] = arrays[k] != nullptr ? buffer[k] : nullptr;
    if (arrays[k] != nullptr)
      std::memcpy(buffer[k], arrays[k] + i, static_cast<std::size_t>(rest) * sizeof(float));
  }
  op(ptr);
  for (int k = 0; k < N; ++k) {
    if (arrays[k] != nullptr)
      std::memcpy(arrays[k] + i, buffer[k], static_cast<std::size_t>(rest) * sizeof(float));
  }
}

template <class A>
void adam_packs(const AdamLaunch& l, const AdamElementwise& k, std::int64_t begin, std::int64_t end) {
  float* const arrays[5] = {l.p, const_cast<float*>(l.g), l.m, l.v, l.vmax};
  run_packs<5>(arrays, begin, end, [&](float* const(&x)[5]) {
    F8 p = load(x[0]), m = load(x[2]), v = load(x[3]);
    F8 vmax = x[4] != nullptr ? load(x[4]) : F8{_mm256_setzero_ps()};
    adam_element<A>(k, l.s, p, load(x[1]), m, v, vmax);
    store(x[0], p);
    store(x[2], m);
    store(x[3], v);
    if (x[4] != nullptr) store(x[4], vmax);
  });
}

template <class A>
void adadelta_packs(const AdadeltaLaunch& l, const AdadeltaElementwise& k, std::int64_t begin,
                    std::int64_t end) {
  float* const arrays[4] = {l.p, const_cast<float*>(l.g), l.a, l.d};
  run_packs<4>(arrays, begin, end, [&](float* const(&x)[4]) {
    F8 p = load(x[0]), a = load(x[2]), d = load(x[3]);
    adadelta_element<A>(k, l.s, p, load(x[1]), a, d);
    store(x[0], p);
    store(x[2], a);
    store(x[3], d);
  });
}

template <class A>
void sgd_packs(const SgdLaunch& l, const SgdElementwise& k, std::int64_t begin, std::int64_t end) {
  float* const arrays[3] = {l.p, const_cast<float*>(l.g), l.buf};
  run_packs<3>(arrays, begin, end, [&](float* const(&x)[3]) {
    F8 p = load(x[0]);
    F8 buf = x[2] != nullptr ? load(x[2]) : F8{_mm256_setzero_ps()};
    sgd_element<A>(k, l.s, p, load(x[1]), buf);
    store(x[0], p);
    if (x[2] != nullptr) store(x[2], buf);
  });
}

}  // namespace

bool adam_avx2(const AdamLaunch& l, const AdamElementwise& k, std::int64_t begin, std::int64_t end) {
  if (k.ftz)
    adam_packs<Ftz<F8Arith>>(l, k, begin, end);
  else
    adam_packs<F8Arith>(l, k, begin, end);
  return true;
}

bool adadelta_avx2(const AdadeltaLaunch& l, const AdadeltaElementwise& k, std::int64_t begin,
                   std::int64_t end) {
  if (k.ftz)
    adadelta_packs<Ftz<F8Arith>>(l, k, begin, end);
  else
    adadelta_packs<F8Arith>(l, k, begin, end);
  return true;
}

bool sgd_avx2(const SgdLaunch& l, const SgdElementwise& k, std::int64_t begin, std::int64_t end) {
  if (k.ftz)
    sgd_packs<Ftz<F8Arith>>(l, k, begin, end);
  else
    sgd_packs<F8Arith>(l, k, begin, end);
  return true;
}

#else  // no AVX2 path in this build

bool adam_avx2(const AdamLaunch&, const AdamElementwise&, std::int64_t, std::int64_t) { return false; }
bool adadelta_avx2(const AdadeltaLaunch&, const AdadeltaElementwise&, std::int64_t, std::int64_t) {
  return false;
}
bool sgd_avx2(const SgdLaunch&, const SgdElementwise&, std::int64_t, std::int64_t) { return false; }

#endif

}  // namespace parity::cpu

#if PARITY_OPTIM_AVX2 && defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#elif PARITY_OPTIM_AVX2 && defined(__clang__)
#pragma clang attribute pop
#endif
