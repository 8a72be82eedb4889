// CUDA comparisons between a tensor and a scalar (-> bool): the shared functor
// with the scalar bound (functors::BindScalar), run by the elementwise launcher.
//
// Comparisons are exact and symmetric, so s < x is launched as x > s (and so
// on): one instantiation per op and dtype instead of two, same results.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

void binary_scalar_compare(BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first) {
  if (scalar_first) {
    switch (op) {
      case BinaryOp::Lt:
        op = BinaryOp::Gt;
        break;
      case BinaryOp::Le:
        op = BinaryOp::Ge;
        break;
      case BinaryOp::Gt:
        op = BinaryOp::Lt;
        break;
      case BinaryOp::Ge:
        op = BinaryOp::Le;
        break;
      default:
        break;  // eq, ne are symmetric
    }
  }
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    if constexpr (std::is_same_v<typename F::template result_t<float>, bool>) {
      dispatch_dtype(it.dtypes[1], [&]<typename T>() {
        if constexpr (functors::accepts<T>(F::kAccepts)) {
          launch_elementwise<bool, T>(it, functors::BindScalar<F, T, false>{f, s.to<T>()});
        }
      });
    }
  });
}

}  // namespace parity::cuda
