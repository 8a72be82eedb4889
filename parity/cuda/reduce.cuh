// CUDA reductions over a dense [outer, reduce, inner] block (parity/tensor/backend.h),
// in a fixed order: the same input gives the same bits on every run, whatever
// the GPU model, the grid or the stream (docs/ARCHITECTURE.md, principle 3; llm.c's
// global_sum_deterministic).
//
// Note [CUDA summation order]. The order depends only on the shape, never on
// the device:
// - Rows (inner == 1, reduce > kSmallRow): one block of kThreads threads per
//   segment of a row. A row longer than 2 * kRowChunk in a tensor of fewer than
//   kManyRows rows is split into segments of kRowChunk elements, each reduced to
//   a partial, and the partials of a row are reduced by a second pass of the
//   same kernel. Inside a segment, thread t owns the slots t, t + kThreads, ...
//   of kVec consecutive elements (16 bytes), summed into kVec lane
//   accumulators in slot order (the last, partial slot last); the lanes are combined pairwise, then the
//   block's threads by cub::BlockReduce (fixed warp-shuffle tree). Vector
//   loads are used when the segment is 16-byte aligned and scalar loads
//   otherwise: the order is the same.
// - Columns (inner > 1, or short rows): one thread per output element (and per
//   chunk of r when there are too few outputs to fill the device), summing
//   along r one element after the other, exactly like parity/cpu/reduce.cpp; the
//   chunk partials are then summed in chunk order by a second pass.
// Integer sums (in int64) and max/min/argmax/argmin are exact in any order.
// The CPU's order differs (parity/cpu/reduce.cpp), so float sums agree with it to
// rounding, not bit for bit.
//
// argmax/argmin follow parity/cpu/reduce.cpp exactly: the first index of the extreme,
// a NaN counts as the extreme (the first NaN wins), -0 and +0 tie. The combine
// below is commutative and associative (a total order on (value, -index)), so
// any tree gives the CPU's answer. mean = sum / reduce, as on the CPU.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cub/block/block_reduce.cuh>
#include <type_traits>

#include "parity/cuda/allocator.h"
#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/backend.h"

namespace parity::cuda::reduce_detail {

inline constexpr int kThreads = 256;
inline constexpr std::int64_t kRowChunk = 16384;         // elements per segment of a long row
inline constexpr std::int64_t kManyRows = 1024;          // rows enough to fill the device unsplit
inline constexpr std::int64_t kSmallRow = 16;            // rows this short go one per thread
inline constexpr std::int64_t kColumnThreads = 1 << 18;  // outputs x chunks the column pass aims for

template <typename T>
constexpr int vec_of() {
  return sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));
}

// ---- the two pass kernels ----

template <int kVec, typename In, typename Acc, typename Load, typename Combine, typename Store>
__global__ void __launch_bounds__(kThreads)
    rows_kernel(const In* __restrict__ in, std::int64_t segments, std::int64_t R, std::int64_t chunk,
                std::int64_t chunks, Load load, Combine combine, Acc identity, Store store) {
  using BlockReduce = cub::BlockReduce<Acc, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  using V = elementwise_detail::Vec<In, kVec>;
  for (std::int64_t s = blockIdx.x; s < segments; s += gridDim.x) {
    const std::int64_t row = s / chunks, c = s % chunks;
    const std::int64_t r0 = c * chunk;
    const std::int64_t len = R - r0 < chunk ? R - r0 : chunk;
    const In* p = in + row * R + r0;
    const bool vector_ok = reinterpret_cast<std::uintptr_t>(p) % sizeof(V) == 0;
    Acc lane[kVec];
#pragma unroll
    for (int l = 0; l < kVec; ++l) lane[l] = identity;
    // Whole slots (vector loads when aligned, unrolled so several are in
    // flight), then the partial last slot by its owner: the same order either way.
    const std::int64_t full = len / kVec;
    if (vector_ok) {
      const V* pv = reinterpret_cast<const V*>(p);
#pragma unroll 4
      for (std::int64_t j = threadIdx.x; j < full; j += kThreads) {
        const V v = pv[j];
#pragma unroll
        for (int l = 0; l < kVec; ++l) lane[l] = combine(lane[l], load(v.v[l], r0 + j * kVec + l));
      }
    } else {
      for (std::int64_t j = threadIdx.x; j < full; j += kThreads) {
#pragma unroll
        for (int l = 0; l < kVec; ++l) lane[l] = combine(lane[l], load(p[j * kVec + l], r0 + j * kVec + l));
      }
    }
    if (full * kVec < len && full % kThreads == threadIdx.x) {
#pragma unroll
      for (int l = 0; l < kVec; ++l) {
        const std::int64_t e = full * kVec + l;
        if (e < len) lane[l] = combine(lane[l], load(p[e], r0 + e));
      }
    }
#pragma unroll
    for (int w = 1; w < kVec; w *= 2) {
#pragma unroll
      for (int l = 0; l + w < kVec; l += 2 * w) lane[l] = combine(lane[l], lane[l + w]);
    }
    const Acc total = BlockReduce(temp).Reduce(lane[0], combine);
    if (threadIdx.x == 0) store(s, total);
    __syncthreads();  // temp is reused by the next segment
  }
}

template <typename In, typename Acc, typename Load, typename Combine, typename Store>
__global__ void __launch_bounds__(kThreads)
    columns_kernel(const In* __restrict__ in, std::int64_t outer, std::int64_t R, std::int64_t inner,
                   std::int64_t rchunk, std::int64_t chunks, Load load, Combine combine, Acc identity,
                   Store store) {
  const std::int64_t total = outer * chunks * inner;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; t < total;
       t += step) {
    const std::int64_t i = t % inner, rest = t / inner;
    const std::int64_t c = rest % chunks, o = rest / chunks;
    const std::int64_t r0 = c * rchunk;
    const std::int64_t r1 = R < r0 + rchunk ? R : r0 + rchunk;
    const In* p = in + o * R * inner + i;
    Acc a = identity;
    for (std::int64_t r = r0; r < r1; ++r) a = combine(a, load(p[r * inner], r));
    store(t, a);  // [o, c, i] for partials; [o, i] when chunks == 1
  }
}

template <typename Acc>
struct PartialStore {
  Acc* out;
  __device__ __forceinline__ void operator()(std::int64_t index, const Acc& value) const {
    out[index] = value;
  }
};

// Pass-through load for the second pass (partials are already accumulators).
struct LoadPartial {
  template <typename Acc>
  __device__ __forceinline__ Acc operator()(const Acc& value, std::int64_t) const {
    return value;
  }
};

// ---- the host driver ----

// Runs one reduction: `load(x, r)` turns element r of a row into an
// accumulator, `combine` merges two, `identity` is the empty one,
// `final_store(index, acc)` writes output `index`.
template <typename T, typename Acc, typename Load, typename Combine, typename FinalStore>
void run(const ReduceArgs& a, Load load, Combine combine, Acc identity, FinalStore final_store) {
  const std::int64_t outer = a.outer, R = a.reduce, inner = a.inner;
  if (outer * inner == 0) return;
  const int device = device_of(a.out);
  DeviceGuard guard(device);
  cudaStream_t stream = stream_for(device);
  const T* in = static_cast<const T*>(a.in);
  CudaAllocator& allocator = device_allocator(device);

  if (inner == 1 && R > kSmallRow) {
    const std::int64_t chunks =
        (outer < kManyRows && R > 2 * kRowChunk) ? (R + kRowChunk - 1) / kRowChunk : 1;
    const std::int64_t segments = outer * chunks;
    const unsigned grid = grid_for(device, segments * kThreads, kThreads);
    if (chunks == 1) {
      rows_kernel<vec_of<T>()><<<grid, kThreads, 0, stream>>>(in, segments, R, R, std::int64_t{1}, load,
                                                              combine, identity, final_store);
      PARITY_CUDA_LAUNCH_CHECK();
      return;
    }
    const std::size_t bytes = static_cast<std::size_t>(segments) * sizeof(Acc);
    Acc* partial = static_cast<Acc*>(allocator.allocate(bytes));
    try {
      rows_kernel<vec_of<T>()><<<grid, kThreads, 0, stream>>>(in, segments, R, kRowChunk, chunks, load,
                                                              combine, identity, PartialStore<Acc>{partial});
      PARITY_CUDA_LAUNCH_CHECK();
      const unsigned grid2 = grid_for(device, outer * kThreads, kThreads);
      rows_kernel<vec_of<Acc>()><<<grid2, kThreads, 0, stream>>>(
          partial, outer, chunks, chunks, std::int64_t{1}, LoadPartial{}, combine, identity, final_store);
      PARITY_CUDA_LAUNCH_CHECK();
    } catch (...) {
      allocator.deallocate(partial, bytes);
      throw;
    }
    allocator.deallocate(partial, bytes);  // stream-ordered: after the kernels
    return;
  }

  // Columns: one thread per output and chunk of r.
  const std::int64_t outputs = outer * inner;
  std::int64_t chunks = 1;
  if (outputs < kColumnThreads && R > 64) {
    chunks = kColumnThreads / outputs;
    const std::int64_t max_chunks = (R + 63) / 64;  // at least 64 elements per chunk
    if (chunks > max_chunks) chunks = max_chunks;
    if (chunks < 1) chunks = 1;
  }
  const std::int64_t rchunk = (R + chunks - 1) / chunks;
  if (R > 0) chunks = (R + rchunk - 1) / rchunk;
  if (chunks == 1) {
    const unsigned grid = grid_for(device, outputs, kThreads);
    columns_kernel<<<grid, kThreads, 0, stream>>>(in, outer, R, inner, R > 0 ? R : 1, std::int64_t{1}, load,
                                                  combine, identity, final_store);
    PARITY_CUDA_LAUNCH_CHECK();
    return;
  }
  const std::size_t bytes = static_cast<std::size_t>(outputs * chunks) * sizeof(Acc);
  Acc* partial = static_cast<Acc*>(allocator.allocate(bytes));
  try {
    const unsigned grid = grid_for(device, outputs * chunks, kThreads);
    columns_kernel<<<grid, kThreads, 0, stream>>>(in, outer, R, inner, rchunk, chunks, load, combine,
                                                  identity, PartialStore<Acc>{partial});
    PARITY_CUDA_LAUNCH_CHECK();
    const unsigned grid2 = grid_for(device, outputs, kThreads);
    columns_kernel<<<grid2, kThreads, 0, stream>>>(partial, outer, chunks, inner, chunks, std::int64_t{1},
                                                   LoadPartial{}, combine, identity, final_store);
    PARITY_CUDA_LAUNCH_CHECK();
  } catch (...) {
    allocator.deallocate(partial, bytes);
    throw;
  }
  allocator.deallocate(partial, bytes);
}

}  // namespace parity::cuda::reduce_detail
