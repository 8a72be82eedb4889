// Explicitly rounded arithmetic: each call is one IEEE-754 round-to-nearest
// operation, on the host and on the device alike.
//
// Note [Rounding is explicit]: nvcc contracts a*b+c into an FMA by default and
// g++ may too with -ffp-contract=fast. Anything compared bit for bit between
// backends (the RNG, optimizer presets) is written with these helpers, which map
// to __fadd_rn/__fmul_rn/... on the device (never contracted) and to plain
// operators on the host, where the library is built with -ffp-contract=off.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "parity/tensor/macros.h"

namespace parity::rn {

#if PARITY_DEVICE_CODE
PARITY_INLINE float add(float a, float b) { return __fadd_rn(a, b); }
PARITY_INLINE float sub(float a, float b) { return __fsub_rn(a, b); }
PARITY_INLINE float mul(float a, float b) { return __fmul_rn(a, b); }
PARITY_INLINE float div(float a, float b) { return __fdiv_rn(a, b); }
PARITY_INLINE float sqrt(float a) { return __fsqrt_rn(a); }
PARITY_INLINE float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
PARITY_INLINE double add(double a, double b) { return __dadd_rn(a, b); }
PARITY_INLINE double sub(double a, double b) { return __dsub_rn(a, b); }
PARITY_INLINE double mul(double a, double b) { return __dmul_rn(a, b); }
PARITY_INLINE double div(double a, double b) { return __ddiv_rn(a, b); }
PARITY_INLINE double sqrt(double a) { return __dsqrt_rn(a); }
PARITY_INLINE double fma(double a, double b, double c) { return __fma_rn(a, b, c); }
#else
PARITY_INLINE float add(float a, float b) { return a + b; }
PARITY_INLINE float sub(float a, float b) { return a - b; }
PARITY_INLINE float mul(float a, float b) { return a * b; }
PARITY_INLINE float div(float a, float b) { return a / b; }
PARITY_INLINE float sqrt(float a) { return std::sqrt(a); }
PARITY_INLINE float fma(float a, float b, float c) { return std::fma(a, b, c); }
PARITY_INLINE double add(double a, double b) { return a + b; }
PARITY_INLINE double sub(double a, double b) { return a - b; }
PARITY_INLINE double mul(double a, double b) { return a * b; }
PARITY_INLINE double div(double a, double b) { return a / b; }
PARITY_INLINE double sqrt(double a) { return std::sqrt(a); }
PARITY_INLINE double fma(double a, double b, double c) { return std::fma(a, b, c); }
#endif

// TensorFloat-32 (Note [TF32 on the CPU]): x with its significand rounded to
// 10 bits, the tensor cores' operand format, to nearest with ties away from
// zero, as PTX's cvt.rna.tf32.f32 does. The low 13 bits of the result are zero;
// NaN and infinity pass through; a finite value that rounds past FLT_MAX is inf.
PARITY_INLINE float to_tf32(float x) {
#if PARITY_DEVICE_CODE
  std::uint32_t bits = __float_as_uint(x);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
#endif
  if ((bits & 0x7F800000u) != 0x7F800000u) bits = (bits + 0x1000u) & 0xFFFFE000u;  // sign-magnitude: ties away
#if PARITY_DEVICE_CODE
  return __uint_as_float(bits);
#else
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
#endif
}

}  // namespace parity::rn
