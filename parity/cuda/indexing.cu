// CUDA gather and scatter_add: the element math of parity/tensor/indexing_math.h,
// one thread per gathered element, and one thread per (o, i) column of
// scatter_add, which adds that column's contributions in increasing j: the
// CPU's order, no atomics, so the same bits (IndexArgs, parity/tensor/backend.h).
#include "parity/cuda/context.h"
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/error.h"
#include "parity/tensor/indexing_math.h"

namespace parity::cuda {

namespace {

template <typename T>
struct GatherAt {
  IndexArgs a;
  __device__ void operator()(std::int64_t flat) const {
    const std::int64_t i = flat % a.inner, r = flat / a.inner;
    indexing::gather_element<T>(a, r / a.n, r % a.n, i);
  }
};

template <typename T>
struct ScatterAddColumn {
  IndexArgs a;
  __device__ void operator()(std::int64_t column) const {
    const std::int64_t o = column / a.inner, i = column % a.inner;
    for (std::int64_t j = 0; j < a.n; ++j) indexing::scatter_add_element<T>(a, o, j, i);
  }
};

}  // namespace

void CudaBackend::gather(const IndexArgs& a) {
  if (a.outer * a.n * a.inner == 0) return;
  dispatch_dtype(a.dtype, [&]<typename T>() {
    launch_indexed(device_of(a.values), a.outer * a.n * a.inner, GatherAt<T>{a});
  });
}

void CudaBackend::scatter_add(const IndexArgs& a) {
  if (a.outer * a.n * a.inner == 0) return;
  dispatch_dtype(a.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      PARITY_INTERNAL_FAIL("scatter_add: bool reached the backend (the front end refuses it)");
    } else {
      launch_indexed(device_of(a.indexed), a.outer * a.inner, ScatterAddColumn<T>{a});
    }
  });
}

}  // namespace parity::cuda
