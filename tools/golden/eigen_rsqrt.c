/* Eigen's AVX prsqrt<Packet8f> under EIGEN_FAST_MATH (Eigen/src/Core/arch/AVX/MathFunctions.h
 * + generic_rsqrt_newton_step<Packet8f, 1>, MathFunctionsImpl.h), as used by TensorFlow's
 * CPU ApplyAdadelta for full 8-float packets.  The approximation _mm256_rsqrt_ps is
 * hardware specific (Intel and AMD differ), so this reproduces TF only on the same CPU.
 * Built by numerics.eigen_rsqrt() with: cc -O2 -mavx -ffp-contract=off -shared -fPIC.
 * with_fma selects pmadd = single fma (a TF build with -mfma) or mul+add (the pip
 * wheel, built with AVX but without FMA). */
#include <immintrin.h>

void eigen_prsqrt_avx(const float *x, float *y, long n, int with_fma) {
  const __m256 minus_half = _mm256_set1_ps(-0.5f);
  const __m256 minus_one = _mm256_set1_ps(-1.0f);
  for (long i = 0; i + 8 <= n; i += 8) {
    __m256 a = _mm256_loadu_ps(x + i);
    __m256 approx = _mm256_rsqrt_ps(a);
    __m256 r2 = _mm256_mul_ps(a, approx);
    __m256 half_r = _mm256_mul_ps(approx, minus_half);
    __m256 h, inv;
    if (with_fma) {
      float t1[8], t2[8], t3[8], t4[8], t5[8];
      _mm256_storeu_ps(t1, r2);
      _mm256_storeu_ps(t2, approx);
      _mm256_storeu_ps(t3, half_r);
      for (int j = 0; j < 8; ++j) t4[j] = __builtin_fmaf(t1[j], t2[j], -1.0f);
      for (int j = 0; j < 8; ++j) t5[j] = __builtin_fmaf(t3[j], t4[j], t2[j]);
      inv = _mm256_loadu_ps(t5);
    } else {
      h = _mm256_add_ps(_mm256_mul_ps(r2, approx), minus_one);
      inv = _mm256_add_ps(_mm256_mul_ps(half_r, h), approx);
    }
    __m256 isnan = _mm256_cmp_ps(inv, inv, _CMP_UNORD_Q);
    _mm256_storeu_ps(y + i, _mm256_blendv_ps(inv, approx, isnan));
  }
}

void rsqrtps_raw(const float *x, float *y, long n) {
  for (long i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_rsqrt_ps(_mm256_loadu_ps(x + i)));
}
