// CUDA unary ops: each op's shared functor (parity/tensor/functors.h) run by the
// elementwise launcher (parity/cuda/elementwise.cuh), for every dtype it accepts.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

void CudaBackend::unary(UnaryOp op, const ElementwiseIter& it) {
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(it.dtypes[0], [&]<typename T>() {
      if constexpr (functors::accepts<T>(F::kAccepts)) launch_elementwise<T, T>(it, f);
    });
  });
}

}  // namespace parity::cuda
