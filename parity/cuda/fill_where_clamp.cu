// CUDA fill, where and clamp: the shared functors (functors::Where,
// functors::Clamp) run by the elementwise launcher; fill is a zero-input op
// returning one value.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

namespace {
template <typename T>
struct Constant {
  T value;
  __host__ __device__ __forceinline__ T operator()() const { return value; }
};
}  // namespace

void CudaBackend::fill(const ElementwiseIter& it, Scalar value) {
  dispatch_dtype(it.dtypes[0], [&]<typename T>() { launch_elementwise<T>(it, Constant<T>{value.to<T>()}); });
}

void CudaBackend::where(const ElementwiseIter& it) {
  dispatch_dtype(it.dtypes[0],
                 [&]<typename T>() { launch_elementwise<T, bool, T, T>(it, functors::Where{}); });
}

void CudaBackend::clamp(const ElementwiseIter& it, Scalar lo, Scalar hi) {
  dispatch_dtype(it.dtypes[0], [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      launch_elementwise<T, T>(it, functors::Clamp<T>{lo.to<T>(), hi.to<T>()});
    }
  });
}

}  // namespace parity::cuda
