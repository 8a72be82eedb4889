// parallel_for over an index range with OpenMP, in fixed chunks.
//
// Chunk boundaries depend only on the range and the grain, never on the thread
// count, so any per-chunk partial result (reductions) is the same whatever the
// number of threads: Note [Summation order] in parity/tensor/ops.h.
#pragma once

#include <algorithm>
#include <cstdint>

namespace parity::cpu {

inline constexpr std::int64_t kGrainSize = 32768;  // elements per chunk of elementwise work

// fn(begin, end) for consecutive chunks of at most `grain` indices covering [0, n).
template <typename Fn>
void parallel_for(std::int64_t n, std::int64_t grain, const Fn& fn) {
  if (n <= 0) return;
  const std::int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1) {
    fn(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    fn(c * grain, std::min(n, (c + 1) * grain));
  }
}

}  // namespace parity::cpu
