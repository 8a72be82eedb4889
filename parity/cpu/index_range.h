// Internal to cpu/: which steps of a strided walk land inside an axis, for
// the window loops of convolution and pooling (padding lies outside).
#pragma once

#include <algorithm>
#include <cstdint>

namespace parity::cpu {

struct IndexRange {
  std::int64_t lo, hi;  // [lo, hi)
};

// The steps i in [0, count) with 0 <= base + i * step < size (step >= 1).
inline IndexRange steps_inside(std::int64_t base, std::int64_t step, std::int64_t size, std::int64_t count) {
  const std::int64_t lo = base >= 0 ? 0 : (-base + step - 1) / step;
  const std::int64_t top = size - 1 - base;
  const std::int64_t hi = top < 0 ? 0 : top / step + 1;
  return {std::min(lo, count), std::clamp(hi, std::min(lo, count), count)};
}

}  // namespace parity::cpu
