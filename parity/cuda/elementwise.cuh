// The CUDA elementwise launcher: runs a functor of parity/tensor/functors.h (or any
// __host__ __device__ functor) over an ElementwiseIter, out[i] = f(in_0[i], ..., in_n[i]).
//
// Note [One formula, two backends]: this is the CUDA twin of parity/cpu/elementwise.h;
// the op math is the functor, never rewritten here. Shaped after PyTorch's
// gpu_kernel (aten/src/ATen/native/cuda/Loops.cuh, CUDALoops.cuh):
// - Dense operands (the iterator merged them into one dim of stride 1) take a
//   grid-stride loop in which each thread loads and stores 16 bytes of the
//   widest operand per step (kVec elements, one vector instruction), when every
//   pointer is aligned to its vector; the last numel % kVec elements are done
//   one by one. The index is 64-bit: the loop costs the same either way.
// - Anything else (broadcast, permuted, sliced) computes each operand's offset
//   from the flat index by div/mod over the coalesced dims, innermost first, in
//   32-bit arithmetic when every operand's byte extent fits (the common case;
//   integer division is the cost here) and 64-bit otherwise.
// - The grid fills the device once (multiprocessors x resident blocks) and no
//   more: a grid-stride loop over that, so a launch never has a tail of
//   partially filled waves.
// Every launch is followed by a launch check.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/tensor/elementwise_iter.h"

namespace parity::cuda {

namespace elementwise_detail {

inline constexpr int kThreads = 256;

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

template <typename... Ts>
constexpr int max_size() {
  int m = 1;
  ((m = static_cast<int>(sizeof(Ts)) > m ? static_cast<int>(sizeof(Ts)) : m), ...);
  return m;
}

template <int kVec, typename F, typename Out, typename... V>
__device__ __forceinline__ void apply_vec(const F& f, Vec<Out, kVec>* out, V... x) {
  Vec<Out, kVec> r;
#pragma unroll
  for (int j = 0; j < kVec; ++j) r.v[j] = f(x.v[j]...);
  *out = r;
}

template <int kVec, typename F, typename Out, typename... In>
__global__ void __launch_bounds__(kThreads)
    // No __restrict__: in-place ops pass the output as an input too.
    contiguous_kernel(F f, std::int64_t n, Out* out, const In*... in) {
  const std::int64_t nvec = n / kVec;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (std::int64_t v = first; v < nvec; v += step) {
    apply_vec<kVec>(f, reinterpret_cast<Vec<Out, kVec>*>(out) + v,
                    reinterpret_cast<const Vec<In, kVec>*>(in)[v]...);
  }
  const std::int64_t tail = nvec * kVec + first;
  if (tail < n) out[tail] = f(in[tail]...);
}

// Shape and strides with the innermost dim first, so the kernel walks them
// with compile-time indices (unrolled: the arrays stay in registers).
template <int N, typename Index>
struct Layout {
  int ndim = 0;
  Index shape[kMaxDims] = {};
  Index strides[kMaxDims][N] = {};  // in elements
  char* data[N] = {};
};

template <typename Out, typename... In, typename F, typename Index, std::size_t... K>
__device__ __forceinline__ void apply_at(const F& f, char* const* data, const Index* off,
                                         std::index_sequence<K...>) {
  reinterpret_cast<Out*>(data[0])[off[0]] = f(reinterpret_cast<const In*>(data[K + 1])[off[K + 1]]...);
}

template <typename Index, typename F, typename Out, typename... In>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(F f, std::int64_t n, Layout<1 + sizeof...(In), Index> layout) {
  constexpr int N = 1 + sizeof...(In);
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step) {
    Index off[N] = {};
    Index rest = static_cast<Index>(i);
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == layout.ndim) break;
      const Index size = layout.shape[d];
      const Index c = rest % size;
      rest /= size;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += c * layout.strides[d][k];
    }
    apply_at<Out, In...>(f, layout.data, off, std::index_sequence_for<In...>{});
  }
}

template <int kVec, typename Out, typename... In, typename F, std::size_t... K>
void launch_contiguous(const ElementwiseIter& it, const F& f, int device, cudaStream_t stream,
                       std::index_sequence<K...>) {
  const std::int64_t nvec = it.numel / kVec;
  const unsigned grid = grid_for(device, nvec > 0 ? nvec : 1, kThreads);
  contiguous_kernel<kVec, F, Out, In...><<<grid, kThreads, 0, stream>>>(
      f, it.numel, reinterpret_cast<Out*>(it.data[0]), reinterpret_cast<const In*>(it.data[K + 1])...);
  PARITY_CUDA_LAUNCH_CHECK();
}

template <typename Index, typename Out, typename... In, typename F>
void launch_strided(const ElementwiseIter& it, const F& f, int device, cudaStream_t stream) {
  constexpr int N = 1 + sizeof...(In);
  Layout<N, Index> layout;
  layout.ndim = it.ndim;
  for (int d = 0; d < it.ndim; ++d) {
    const int src = it.ndim - 1 - d;  // innermost first
    layout.shape[d] = static_cast<Index>(it.shape[src]);
    for (int k = 0; k < N; ++k) layout.strides[d][k] = static_cast<Index>(it.strides[k][src]);
  }
  for (int k = 0; k < N; ++k) layout.data[k] = it.data[k];
  const unsigned grid = grid_for(device, it.numel, kThreads);
  strided_kernel<Index, F, Out, In...><<<grid, kThreads, 0, stream>>>(f, it.numel, layout);
  PARITY_CUDA_LAUNCH_CHECK();
}

template <typename F>
__global__ void __launch_bounds__(kThreads) indexed_kernel(F f, std::int64_t n) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step) f(i);
}

inline bool aligned_to(const void* p, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

}  // namespace elementwise_detail

// out = f(in...) over `it` (operand 0 is the output, of element type Out; the
// inputs have types In...). Runs on the device owning the output, on this
// thread's current stream for it; returns without waiting.
template <typename Out, typename... In, typename F>
void launch_elementwise(const ElementwiseIter& it, const F& f) {
  namespace ed = elementwise_detail;
  static_assert(1 + sizeof...(In) <= ElementwiseIter::kMaxOperands, "too many operands");
  if (it.numel == 0) return;
  const int device = device_of(it.data[0]);
  DeviceGuard guard(device);
  cudaStream_t stream = stream_for(device);
  if (it.is_contiguous()) {
    constexpr int kVec = 16 / ed::max_size<Out, In...>();
    bool aligned = ed::aligned_to(it.data[0], kVec * sizeof(Out));
    int k = 1;
    ((aligned = aligned && ed::aligned_to(it.data[k++], kVec * sizeof(In))), ...);
    if (aligned) {
      ed::launch_contiguous<kVec, Out, In...>(it, f, device, stream, std::index_sequence_for<In...>{});
      return;
    }
  }
  if (it.needs_64bit_indexing()) {
    ed::launch_strided<std::int64_t, Out, In...>(it, f, device, stream);
  } else {
    ed::launch_strided<std::int32_t, Out, In...>(it, f, device, stream);
  }
}

// f(i) for every i in [0, n) on `device`, on this thread's current stream for
// it: the grid-stride launch of the kernels that write several outputs per
// element (the optimizers' fused updates, parity/cuda/optim_update.cu).
template <typename F>
void launch_indexed(int device, std::int64_t n, const F& f) {
  namespace ed = elementwise_detail;
  if (n == 0) return;
  DeviceGuard guard(device);
  const unsigned grid = grid_for(device, n, ed::kThreads);
  ed::indexed_kernel<F><<<grid, ed::kThreads, 0, stream_for(device)>>>(f, n);
  PARITY_CUDA_LAUNCH_CHECK();
}

}  // namespace parity::cuda
