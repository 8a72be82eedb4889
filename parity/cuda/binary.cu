// CUDA binary ops on two tensors, arithmetic half (add, sub, mul, div, pow,
// maximum, minimum): the shared functors run by the elementwise launcher.
// Comparisons are in binary_compare.cu, so the two compile in parallel.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

void CudaBackend::binary(BinaryOp op, const ElementwiseIter& it) {
  if (is_comparison(op)) {
    binary_compare(op, it);
    return;
  }
  binary_arith(op, it);
}

void binary_arith(BinaryOp op, const ElementwiseIter& it) {
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    if constexpr (!std::is_same_v<typename F::template result_t<float>, bool>) {
      dispatch_dtype(it.dtypes[1], [&]<typename T>() {
        if constexpr (functors::accepts<T>(F::kAccepts)) launch_elementwise<T, T, T>(it, f);
      });
    }
  });
}

}  // namespace parity::cuda
