// Math built from explicitly rounded IEEE operations only, so it gives the same
// bits on the host and on the device (libm and CUDA's math library differ in
// the last place): log and sin/cos for the RNG's Box-Muller transform (Note
// [Random numbers keyed by element index]), and the elementary functions of the
// elementwise ops (Note [Same bits on every device], below).
#pragma once

#include <cstdint>
#include <cstring>

#include "parity/tensor/macros.h"
#include "parity/tensor/rounding.h"

namespace parity::pmath {

PARITY_INLINE std::uint64_t bits_of(double x) {
#if PARITY_DEVICE_CODE
  return static_cast<std::uint64_t>(__double_as_longlong(x));
#else
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

PARITY_INLINE double double_of(std::uint64_t u) {
#if PARITY_DEVICE_CODE
  return __longlong_as_double(static_cast<long long>(u));
#else
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// Natural log of a positive, finite, normal x: x = 2^e * m with m in
// [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716,
// by its odd series to s^25 (truncation below 1e-19). Written without branches
// or integer-to-float conversions (the exponent becomes a double through its
// bits), so the CPU loops vectorize it. `e_offset` is added to the exponent:
// log(x * 2^-e_offset) for a subnormal scaled up by 2^e_offset.
PARITY_FORCE_INLINE double log_normal(double x, double e_offset = 0.0) {
  constexpr double kTwo52 = 4503599627370496.0;
  const std::uint64_t u = bits_of(x);
  double m = double_of((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);  // [1, 2)
  const double biased_e = rn::sub(double_of(0x4330000000000000ULL | ((u >> 52) & 0x7ff)), kTwo52);  // exact
  const bool above = m > 1.4142135623730951;
  m = above ? rn::mul(m, 0.5) : m;  // exact
  const double e = rn::sub(rn::add(biased_e, above ? 1.0 : 0.0), rn::add(1023.0, e_offset));  // exact
  const double s = rn::div(rn::sub(m, 1.0), rn::add(m, 1.0));
  const double s2 = rn::mul(s, s);
  double p = 1.0 / 25.0;
  p = rn::add(rn::mul(p, s2), 1.0 / 23.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 21.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 19.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 17.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 15.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 13.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 11.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 9.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 7.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 5.0);
  p = rn::add(rn::mul(p, s2), 1.0 / 3.0);
  // log(m) = 2s + 2s * s2 * p
  const double two_s = rn::mul(2.0, s);
  const double log_m = rn::add(two_s, rn::mul(two_s, rn::mul(s2, p)));
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 split: hi has trailing zeros
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  return rn::add(rn::mul(e, kLn2Hi), rn::add(rn::mul(e, kLn2Lo), log_m));
}

// sin(2 pi v) and cos(2 pi v) for v in [0, 1): the quadrant comes from 4v
// exactly, the rest is a Taylor series on [0, pi/2).
PARITY_INLINE void sincos_2pi(double v, double& sin_out, double& cos_out) {
  const double t = rn::mul(v, 4.0);  // exact
  const int quadrant = static_cast<int>(t);
  const double x = rn::mul(rn::sub(t, static_cast<double>(quadrant)), 1.5707963267948966);
  const double x2 = rn::mul(x, x);
  // sin x = x (1 - x2/3! (1 - x2/(4*5) (1 - ...))) written as a Horner sum of 1/(2k+1)!.
  double s = -1.0 / 51090942171709440000.0;         // -1/21!
  s = rn::add(rn::mul(s, x2), 1.0 / 121645100408832000.0);  // 1/19!
  s = rn::add(rn::mul(s, x2), -1.0 / 355687428096000.0);    // 1/17!
  s = rn::add(rn::mul(s, x2), 1.0 / 1307674368000.0);       // 1/15!
  s = rn::add(rn::mul(s, x2), -1.0 / 6227020800.0);         // 1/13!
  s = rn::add(rn::mul(s, x2), 1.0 / 39916800.0);            // 1/11!
  s = rn::add(rn::mul(s, x2), -1.0 / 362880.0);             // 1/9!
  s = rn::add(rn::mul(s, x2), 1.0 / 5040.0);                // 1/7!
  s = rn::add(rn::mul(s, x2), -1.0 / 120.0);                // 1/5!
  s = rn::add(rn::mul(s, x2), 1.0 / 6.0);                   // 1/3!
  const double sin_x = rn::sub(x, rn::mul(x, rn::mul(x2, s)));
  double c = 1.0 / 2432902008176640000.0;           // 1/20!
  c = rn::add(rn::mul(c, x2), -1.0 / 6402373705728000.0);   // 1/18!
  c = rn::add(rn::mul(c, x2), 1.0 / 20922789888000.0);      // 1/16!
  c = rn::add(rn::mul(c, x2), -1.0 / 87178291200.0);        // 1/14!
  c = rn::add(rn::mul(c, x2), 1.0 / 479001600.0);           // 1/12!
  c = rn::add(rn::mul(c, x2), -1.0 / 3628800.0);            // 1/10!
  c = rn::add(rn::mul(c, x2), 1.0 / 40320.0);               // 1/8!
  c = rn::add(rn::mul(c, x2), -1.0 / 720.0);                // 1/6!
  c = rn::add(rn::mul(c, x2), 1.0 / 24.0);                  // 1/4!
  c = rn::add(rn::mul(c, x2), -1.0 / 2.0);                  // 1/2!
  const double cos_x = rn::add(1.0, rn::mul(x2, c));
  switch (quadrant & 3) {
    case 0: sin_out = sin_x; cos_out = cos_x; break;
    case 1: sin_out = cos_x; cos_out = -sin_x; break;
    case 2: sin_out = -sin_x; cos_out = -cos_x; break;
    default: sin_out = -cos_x; cos_out = sin_x; break;
  }
}

// ---- The elementary functions of the elementwise ops ----
//
// Note [Same bits on every device]: exp, expm1, log, log1p, tanh, sigmoid and
// softplus below are the only implementation of those ops (parity/tensor/
// functors.h), on the CPU and on the GPU. Each is a fixed sequence of correctly
// rounded IEEE operations (rn::, fma included, never contracted) and bit
// manipulations, without tables or data-dependent branches, so every backend
// and every CPU vector width computes the same bits, and the CPU loops
// vectorize them.
//
// A float32 function converts its argument to double (exact), evaluates the
// double function and rounds once: the double result's error (a few units in
// the 53rd bit) is 2^-29 of a float ulp, so the float result is the correctly
// rounded one except where the true value lies that close to a midpoint
// between two floats; then it is off by one ulp. docs/NUMERICS.md gives the
// figures of the sweep over every float32 input (tests/test_portable_math.cpp).
// A float64 function is within a few ulp (the same document states the bound).

namespace detail {
constexpr double kRoundMagic = 6755399441055744.0;  // 1.5 * 2^52: (x + it) - it rounds x to an integer
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 = hi + lo; hi has 21 trailing zero bits,
constexpr double kLn2Lo = 1.90821492927058770002e-10;  // so k * hi is exact for |k| < 2^21

PARITY_FORCE_INLINE double round_to_integer(double x) { return rn::sub(rn::add(x, kRoundMagic), kRoundMagic); }

// 2^k for an integral k in [-1022, 1024] (1024 gives inf), from its bits: the
// low bits of k + 1.5 * 2^52 hold k in two's complement.
PARITY_FORCE_INLINE double pow2(double k) {
  return double_of((bits_of(rn::add(k, kRoundMagic)) + 1023) << 52);
}

// x = k ln 2 + r with k integral and |r| <= ln2 / 2 (plus rounding); exact but
// for the rounding of k * lo.
PARITY_FORCE_INLINE double reduce_ln2(double x, double& k) {
  k = round_to_integer(rn::mul(x, kLog2e));
  return rn::sub(rn::sub(x, rn::mul(k, kLn2Hi)), rn::mul(k, kLn2Lo));
}

// e^r - 1 for |r| <= 0.35: Taylor to r^13 (the next term is below 1.3e-17 of the result).
PARITY_FORCE_INLINE double expm1_reduced(double r) {
  double p = 1.0 / 6227020800.0;      // 1/13!
  p = rn::fma(p, r, 1.0 / 479001600.0);  // 1/12!
  p = rn::fma(p, r, 1.0 / 39916800.0);
  p = rn::fma(p, r, 1.0 / 3628800.0);
  p = rn::fma(p, r, 1.0 / 362880.0);
  p = rn::fma(p, r, 1.0 / 40320.0);
  p = rn::fma(p, r, 1.0 / 5040.0);
  p = rn::fma(p, r, 1.0 / 720.0);
  p = rn::fma(p, r, 1.0 / 120.0);
  p = rn::fma(p, r, 1.0 / 24.0);
  p = rn::fma(p, r, 1.0 / 6.0);
  p = rn::fma(p, r, 0.5);
  return rn::fma(rn::mul(r, r), p, r);  // r + r^2 p
}

// y * 2^k for an integral k in [-1076, 1025]: two exact scalings by about
// 2^(k/2) each, so that only the last one rounds (to a subnormal, or to inf).
PARITY_FORCE_INLINE double scale(double y, double k) {
  const double k1 = round_to_integer(rn::mul(k, 0.5));
  return rn::mul(rn::mul(y, pow2(k1)), pow2(rn::sub(k, k1)));
}

// Selects one after another, never nested or joined by || (which g++ turns
// into branches the loops cannot vectorize). NaN passes; past these ends exp
// is 0 or inf anyway.
PARITY_FORCE_INLINE double clamp_for_exp(double x) {
  x = x > 710.0 ? 710.0 : x;
  return x < -746.0 ? -746.0 : x;
}

PARITY_FORCE_INLINE double with_sign_of(double magnitude, double sign) {
  return double_of((bits_of(magnitude) & 0x7fffffffffffffffULL) | (bits_of(sign) & 0x8000000000000000ULL));
}

PARITY_FORCE_INLINE float to_float(double x) {
#if PARITY_DEVICE_CODE
  return __double2float_rn(x);
#else
  return static_cast<float>(x);
#endif
}
}  // namespace detail

PARITY_FORCE_INLINE double exp(double x) {
  double k;
  const double r = detail::reduce_ln2(detail::clamp_for_exp(x), k);
  return detail::scale(rn::add(1.0, detail::expm1_reduced(r)), k);
}

PARITY_FORCE_INLINE double expm1(double x) {
  const double x_in = x;
  x = x > 710.0 ? 710.0 : x;
  x = x < -40.0 ? -40.0 : x;  // below -40, e^x - 1 rounds to -1
  double k;
  const double r = detail::reduce_ln2(x, k);
  const double q = detail::expm1_reduced(r);
  // e^x - 1 = 2^k q + (2^k - 1): both terms exact for |k| <= 52, one rounding.
  const double s = detail::pow2(k > 60.0 ? 60.0 : k);
  const double small = rn::add(rn::mul(s, q), rn::sub(s, 1.0));
  const double large = rn::sub(detail::scale(rn::add(1.0, q), k), 1.0);
  const double y = k > 52.0 ? large : small;
  return x_in == 0.0 ? x_in : y;  // expm1(-0) is -0
}

PARITY_FORCE_INLINE double log(double x) {
  const bool subnormal = x < 2.2250738585072014e-308;  // and zero, and negatives
  const double y = subnormal ? log_normal(rn::mul(x, 18014398509481984.0), 54.0)  // x * 2^54
                             : log_normal(x);
  const double inf = double_of(0x7ff0000000000000ULL);
  const double nan = double_of(0x7ff8000000000000ULL);
  double out = x == inf ? x : y;
  out = x == 0.0 ? -inf : out;
  return x >= 0.0 ? out : nan;  // a negative x, or NaN
}

// log(u) + (x - (u - 1)) / u with u = 1 + x rounded: the second term restores
// what the rounding of 1 + x lost (it is x itself when 1 + x rounds to 1).
PARITY_FORCE_INLINE double log1p(double x) {
  const double u = rn::add(1.0, x);
  const double y = rn::add(log(u), rn::div(rn::sub(x, rn::sub(u, 1.0)), u));
  const double inf = double_of(0x7ff0000000000000ULL);
  double out = x == inf ? x : y;
  out = x == 0.0 ? x : out;  // log1p(-0) is -0
  return x == -1.0 ? -inf : out;
}

// tanh |x| = -t / (t + 2) with t = e^(-2|x|) - 1, in [-1, 0]: no cancellation,
// no overflow; the sign of x (and of zero) put back by its bit.
PARITY_FORCE_INLINE double tanh(double x) {
  double a = detail::with_sign_of(x, 0.0);
  a = a > 22.0 ? 22.0 : a;  // tanh(22) rounds to 1; NaN passes
  const double t = expm1(rn::mul(-2.0, a));
  return detail::with_sign_of(rn::div(-t, rn::add(t, 2.0)), x);
}

// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below: e^-|x| never overflows,
// so sigmoid of a large negative x keeps its (subnormal) value instead of 0.
PARITY_FORCE_INLINE double sigmoid(double x) {
  const double e = exp(x < 0.0 ? x : -x);
  return rn::div(x < 0.0 ? e : 1.0, rn::add(1.0, e));
}

// log(1 + e^x) without its overflow or its cancellation: max(x, 0) + log1p(e^-|x|).
PARITY_FORCE_INLINE double softplus(double x) {
  return rn::add(x > 0.0 ? x : 0.0, log1p(exp(x < 0.0 ? x : -x)));
}

PARITY_FORCE_INLINE float exp(float x) { return detail::to_float(exp(static_cast<double>(x))); }
PARITY_FORCE_INLINE float expm1(float x) { return detail::to_float(expm1(static_cast<double>(x))); }
PARITY_FORCE_INLINE float log(float x) { return detail::to_float(log(static_cast<double>(x))); }
PARITY_FORCE_INLINE float log1p(float x) { return detail::to_float(log1p(static_cast<double>(x))); }
PARITY_FORCE_INLINE float tanh(float x) { return detail::to_float(tanh(static_cast<double>(x))); }
PARITY_FORCE_INLINE float sigmoid(float x) { return detail::to_float(sigmoid(static_cast<double>(x))); }
PARITY_FORCE_INLINE float softplus(float x) { return detail::to_float(softplus(static_cast<double>(x))); }

}  // namespace parity::pmath
