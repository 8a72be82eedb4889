// The counter-based random generator shared by both backends.
//
// Note [Random numbers keyed by element index]: element i of a random tensor is
// computed from (seed, offset, i) alone: group g = i / kPerGroup is one
// Philox4x32-10 block with counter {g_lo, g_hi, offset_lo, offset_hi} and key
// {seed_lo, seed_hi}; lane i % kPerGroup picks from its four 32-bit words. No
// thread or grid shape enters, so the CPU and every GPU produce the same tensor.
// Normals use Box-Muller computed in float64 with the explicitly rounded
// log/sin/cos of parity/tensor/portable_math.h (not libm, which differs between host and
// device), then rounded once to the output dtype: the bits agree everywhere.
#pragma once

#include <Random123/philox.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "parity/tensor/macros.h"
#include "parity/tensor/portable_math.h"
#include "parity/tensor/rounding.h"

namespace parity::philox {

struct Block {
  std::uint32_t w[4];
};

PARITY_INLINE Block generate(std::uint64_t seed, std::uint64_t offset, std::uint64_t group) {
  r123::Philox4x32_R<10> rng;
  r123::Philox4x32_R<10>::ctr_type ctr = {{static_cast<std::uint32_t>(group),
                                           static_cast<std::uint32_t>(group >> 32),
                                           static_cast<std::uint32_t>(offset),
                                           static_cast<std::uint32_t>(offset >> 32)}};
  r123::Philox4x32_R<10>::key_type key = {
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  const auto out = rng(ctr, key);
  return {{out[0], out[1], out[2], out[3]}};
}

// Uniform in [0, 1): 24 random bits for float32, 53 for float64.
PARITY_INLINE float uniform_f32(std::uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
PARITY_INLINE double uniform_f64(std::uint32_t lo, std::uint32_t hi) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(hi >> 5) << 26) | (lo >> 6);
  return static_cast<double>(bits) * 0x1.0p-53;
}

// lo + (hi - lo) u can round up to hi itself for u near 1 (when the ulp at hi
// exceeds (hi - lo)(1 - u)): such a draw becomes the largest value below hi, so
// uniform samples stay in [lo, hi).
template <typename T>
PARITY_INLINE T below_high(T v, T lo, T hi) {
  if (v < hi || !(lo < hi)) return v;
  if constexpr (sizeof(T) == 4) return ::nextafterf(hi, lo);
  else return ::nextafter(hi, lo);
}

// Elements produced by one Philox block for element type T.
template <typename T>
constexpr int per_group() {
  return sizeof(T) == 8 ? 2 : 4;
}

// Box-Muller: two uniforms u in [0, 1), v in [0, 1) -> two standard normals.
PARITY_INLINE void box_muller(double u, double v, double& z0, double& z1) {
  const double r = rn::sqrt(rn::mul(-2.0, pmath::log_normal(rn::sub(1.0, u))));  // 1 - u in (0, 1]
  double s, c;
  pmath::sincos_2pi(v, s, c);
  z0 = rn::mul(r, c);
  z1 = rn::mul(r, s);
}

// Fills the values of one group into out[0 .. per_group<T>()).
// kind: 0 uniform [a, b), 1 normal (mean a, std b), 2 integer [a, b).
template <typename T>
PARITY_INLINE void group_values(int kind, std::uint64_t seed, std::uint64_t offset,
                                std::uint64_t group, double a, double b, T* out) {
  const Block blk = generate(seed, offset, group);
  if constexpr (std::is_floating_point_v<T>) {
    const T lo = static_cast<T>(a), hi = static_cast<T>(b);
    if (kind == 0) {
      if constexpr (sizeof(T) == 4) {
        for (int j = 0; j < 4; ++j) {
          out[j] = below_high(rn::add(lo, rn::mul(rn::sub(hi, lo), uniform_f32(blk.w[j]))), lo, hi);
        }
      } else {
        for (int j = 0; j < 2; ++j) {
          out[j] = below_high(rn::add(lo, rn::mul(rn::sub(hi, lo), uniform_f64(blk.w[2 * j], blk.w[2 * j + 1]))),
                              lo, hi);
        }
      }
    } else {
      double z[4];
      if constexpr (sizeof(T) == 4) {
        box_muller(uniform_f32(blk.w[0]), uniform_f32(blk.w[1]), z[0], z[1]);
        box_muller(uniform_f32(blk.w[2]), uniform_f32(blk.w[3]), z[2], z[3]);
      } else {
        box_muller(uniform_f64(blk.w[0], blk.w[1]), uniform_f64(blk.w[2], blk.w[3]), z[0], z[1]);
      }
      for (int j = 0; j < per_group<T>(); ++j) out[j] = rn::add(lo, rn::mul(hi, static_cast<T>(z[j])));
    }
  } else {
    // Integers in [a, b): a + bits mod (b - a). The modulo bias is below
    // range / 2^32 (2^64 for 64-bit types).
    const std::uint64_t range = static_cast<std::uint64_t>(static_cast<std::int64_t>(b) -
                                                           static_cast<std::int64_t>(a));
    const std::int64_t low = static_cast<std::int64_t>(a);
    for (int j = 0; j < per_group<T>(); ++j) {
      const std::uint64_t bits =
          sizeof(T) == 8 ? (static_cast<std::uint64_t>(blk.w[2 * j + 1]) << 32) | blk.w[2 * j]
                         : blk.w[j];
      out[j] = static_cast<T>(low + static_cast<std::int64_t>(bits % range));
    }
  }
}

}  // namespace parity::philox
