// CPU reductions over a dense [outer, reduce, inner] block (parity/tensor/backend.h).
//
// Note [Summation order] (parity/tensor/ops.h) is implemented here. A reduced extent
// that is innermost (inner == 1) is summed in blocks of kBlock elements, each
// with 8 interleaved partial sums combined as ((0+1)+(2+3))+((4+5)+(6+7)); the
// block sums are then combined pairwise in index order. An extent with inner > 1
// is summed row after row along r. Neither depends on the thread count.
//
// Speed without changing that order: one block's 8 lanes are only 2 SSE
// vectors (float), 2 chains of dependent additions that leave the adders idle
// when the data comes from cache. block_sums<B> sums B whole blocks at once,
// each in its own 8 lanes, so B times as many chains run side by side; every
// block's sum is bit for bit what block_sum gives. It is used for extents of
// at most interleave_bytes(): from memory, reading B blocks 4 KiB apart in
// lockstep streams worse than one block after the other. Measured on a 2-core
// AMD EPYC (bench/bench_ops sum, one thread): 1.8x faster for float and 1.2x
// for double from cache; from DRAM the interleaved loop was up to 2x slower.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/parallel.h"
#include "parity/tensor/error.h"
#include "parity/tensor/functors.h"

namespace parity::cpu {

namespace {

constexpr std::int64_t kBlock = 1024;

template <typename T>
using sum_t = std::conditional_t<std::is_floating_point_v<T>, T, std::int64_t>;

template <typename Acc, typename T>
Acc block_sum(const T* x, std::int64_t n) {
  Acc lane[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) lane[j] += static_cast<Acc>(x[i + j]);
  }
  for (int j = 0; i < n; ++i, ++j) lane[j] += static_cast<Acc>(x[i]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// out[b] = block_sum(x + b * kBlock, kBlock) for b < B, the B blocks summed
// side by side: the same additions in the same order per block. A block's 8
// lanes are held in 16-byte vectors (GCC/Clang vector extensions: element-wise
// IEEE additions, nothing reassociated) so that the compiler neither spills
// them nor transposes the loads, which it does when left to vectorize the loop.
typedef float Float4 __attribute__((vector_size(16)));
typedef double Double2 __attribute__((vector_size(16)));

template <int B, typename T>
void block_sums(const T* x, T* out) {
  using Vec = std::conditional_t<std::is_same_v<T, float>, Float4, Double2>;
  static_assert(sizeof(Vec) == 16 && (std::is_same_v<T, float> || std::is_same_v<T, double>));
  constexpr int kWidth = 16 / static_cast<int>(sizeof(T));  // lanes per vector: 4 float, 2 double
  constexpr int kVectors = 8 / kWidth;                       // vectors per block
  Vec acc[B][kVectors] = {};
  for (std::int64_t i = 0; i < kBlock; i += 8) {
    for (int b = 0; b < B; ++b) {
      for (int v = 0; v < kVectors; ++v) {
        Vec next;
        std::memcpy(&next, x + b * kBlock + i + v * kWidth, sizeof(Vec));
        acc[b][v] += next;
      }
    }
  }
  for (int b = 0; b < B; ++b) {
    T l[8];
    std::memcpy(l, acc[b], sizeof(l));
    out[b] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
  }
}

// Blocks summed side by side: 4 (float) or 2 (double) fill 8 SSE registers.
template <typename T>
inline constexpr int kBlocksAtOnce = sizeof(T) <= 4 ? 4 : 2;
// Interleaving pays while the extent comes from cache: up to a quarter of the
// last-level cache (at least 4 MiB). Measured: on a 2-core AMD EPYC (32 MiB L3)
// from DRAM it was up to 2x slower; on an Intel Xeon model 207 (260 MiB L3, 2
// threads) 4M floats (16 MiB) from L3 summed ~1.2x faster interleaved.
std::int64_t interleave_bytes() {
  static const std::int64_t limit = [] {
    const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return std::max<std::int64_t>(std::int64_t{4} << 20, l3 > 0 ? l3 / 4 : 0);
  }();
  return limit;
}

// Sum of n contiguous elements in the documented order; parallel over blocks
// when `parallel` (the caller is not already running rows in parallel).
template <typename Acc, typename T>
Acc contiguous_sum(const T* x, std::int64_t n, bool parallel) {
  if (n <= kBlock) return block_sum<Acc>(x, n);
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<Acc> partial(static_cast<std::size_t>(blocks));
  const std::int64_t full_blocks = n / kBlock;
  const bool interleave = n * static_cast<std::int64_t>(sizeof(T)) <= interleave_bytes();
  auto run = [&](std::int64_t b0, std::int64_t b1) {
    std::int64_t b = b0;
    if constexpr (std::is_floating_point_v<T> && std::is_same_v<Acc, T>) {
      constexpr int B = kBlocksAtOnce<T>;
      if (interleave) {
        for (; b + B <= std::min(b1, full_blocks); b += B) block_sums<B>(x + b * kBlock, partial.data() + b);
      }
    }
    for (; b < b1; ++b) partial[b] = block_sum<Acc>(x + b * kBlock, std::min(kBlock, n - b * kBlock));
  };
  if (parallel) parallel_for(blocks, 32, run);
  else run(0, blocks);
  for (std::int64_t size = blocks; size > 1;) {
    const std::int64_t half = size / 2;
    for (std::int64_t i = 0; i < half; ++i) partial[i] = partial[2 * i] + partial[2 * i + 1];
    if (size % 2) partial[half] = partial[size - 1];
    size = half + size % 2;
  }
  return partial[0];
}

// Max/min with NaN propagation, and the index of the first extreme (a NaN
// counts as the extreme: the first NaN wins).
template <typename T, bool kMax>
struct Extreme {
  T value;
  std::int64_t index;
  void visit(T x, std::int64_t i) {
    if (functors::math::isnan(value)) return;
    if (functors::math::isnan(x) || (kMax ? value < x : x < value)) {
      value = x;
      index = i;
    }
  }
};

template <typename T>
void reduce_typed(ReduceOp op, const ReduceArgs& a) {
  const T* in = static_cast<const T*>(a.in);
  const std::int64_t R = a.reduce, inner = a.inner, outer = a.outer;

  if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
    using Acc = sum_t<T>;
    auto finish = [&](Acc s) -> Acc {
      if constexpr (std::is_floating_point_v<Acc>) {
        return op == ReduceOp::Mean ? s / static_cast<Acc>(R) : s;
      } else {
        return s;
      }
    };
    Acc* out = static_cast<Acc*>(a.out);
    if (inner == 1) {
      const bool rows_parallel = outer > 1;
      auto rows = [&](std::int64_t o0, std::int64_t o1) {
        for (std::int64_t o = o0; o < o1; ++o) out[o] = finish(contiguous_sum<Acc>(in + o * R, R, !rows_parallel));
      };
      if (rows_parallel) parallel_for(outer, std::max<std::int64_t>(1, kGrainSize / std::max<std::int64_t>(R, 1)), rows);
      else rows(0, outer);
      return;
    }
    // Column sums: out[o, i] = sum_r in[o, r, i], row after row.
    parallel_for(outer * inner, 4096, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t p = begin; p < end;) {
        const std::int64_t o = p / inner, i0 = p % inner, i1 = std::min(inner, i0 + (end - p));
        Acc* acc = out + o * inner;
        const T* base = in + o * R * inner;
        for (std::int64_t i = i0; i < i1; ++i) acc[i] = Acc(0);
        for (std::int64_t r = 0; r < R; ++r) {
          const T* row = base + r * inner;
          for (std::int64_t i = i0; i < i1; ++i) acc[i] += static_cast<Acc>(row[i]);
        }
        for (std::int64_t i = i0; i < i1; ++i) acc[i] = finish(acc[i]);
        p += i1 - i0;
      }
    });
    return;
  }

  if constexpr (std::is_same_v<T, bool>) {
    PARITY_INTERNAL_FAIL("reduce: ", name(op), " does not accept bool");
  } else {
    const bool want_max = op == ReduceOp::Max || op == ReduceOp::ArgMax;
    const bool want_index = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
    auto write = [&](std::int64_t p, const auto& e) {
      if (want_index) static_cast<std::int64_t*>(a.out)[p] = e.index;
      else static_cast<T*>(a.out)[p] = e.value;
    };
    auto run = [&]<bool kMax>() {
      if (inner == 1) {  // contiguous rows: one pass along each
        parallel_for(outer, std::max<std::int64_t>(1, kGrainSize / std::max<std::int64_t>(R, 1)),
                     [&](std::int64_t o0, std::int64_t o1) {
                       for (std::int64_t o = o0; o < o1; ++o) {
                         const T* x = in + o * R;
                         Extreme<T, kMax> e{x[0], 0};
                         for (std::int64_t r = 1; r < R; ++r) e.visit(x[r], r);
                         write(o, e);
                       }
                     });
        return;
      }
      // Columns: walk the block row by row (memory order), keeping one running
      // extreme per column of the chunk; visiting r in increasing order keeps
      // "first index wins" exactly as in the row case.
      parallel_for(outer * inner, 4096, [&](std::int64_t begin, std::int64_t end) {
        std::vector<Extreme<T, kMax>> acc;
        for (std::int64_t p = begin; p < end;) {
          const std::int64_t o = p / inner, i0 = p % inner, i1 = std::min(inner, i0 + (end - p));
          const T* base = in + o * R * inner;
          acc.clear();
          for (std::int64_t i = i0; i < i1; ++i) acc.push_back({base[i], 0});
          for (std::int64_t r = 1; r < R; ++r) {
            const T* row = base + r * inner;
            for (std::int64_t i = i0; i < i1; ++i) acc[i - i0].visit(row[i], r);
          }
          for (std::int64_t i = i0; i < i1; ++i) write(o * inner + i, acc[i - i0]);
          p += i1 - i0;
        }
      });
    };
    if (want_max) run.template operator()<true>();
    else run.template operator()<false>();
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const ReduceArgs& args) {
  dispatch_dtype(args.in_dtype, [&]<typename T>() { reduce_typed<T>(op, args); });
}

}  // namespace parity::cpu
