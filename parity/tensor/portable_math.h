// log and sin/cos built from explicitly rounded IEEE operations only, so they
// give the same bits on the host and on the device (libm and CUDA's math
// library differ in the last place). Used by the RNG's Box-Muller transform;
// accurate to a few ulp of float64, which is far more than a float32 or float64
// normal sample needs. See Note [Random numbers keyed by element index].
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
// by its odd series to s^25 (truncation below 1e-19).
PARITY_INLINE double log(double x) {
  const std::uint64_t u = bits_of(x);
  int e = static_cast<int>((u >> 52) & 0x7ff) - 1023;
  double m = double_of((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);  // [1, 2)
  if (m > 1.4142135623730951) {
    m = rn::mul(m, 0.5);  // exact
    e += 1;
  }
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
  const double de = static_cast<double>(e);
  return rn::add(rn::mul(de, kLn2Hi), rn::add(rn::mul(de, kLn2Lo), log_m));
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

}  // namespace parity::pmath
