// CUDA comparisons of two tensors (eq, ne, lt, le, gt, ge -> bool): the shared
// functors run by the elementwise launcher.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

void binary_compare(BinaryOp op, const ElementwiseIter& it) {
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    if constexpr (std::is_same_v<typename F::template result_t<float>, bool>) {
      dispatch_dtype(it.dtypes[1], [&]<typename T>() {
        if constexpr (functors::accepts<T>(F::kAccepts)) launch_elementwise<bool, T, T>(it, f);
      });
    }
  });
}

}  // namespace parity::cuda
