// CUDA binary ops between a tensor and a scalar: the shared functor with the
// scalar bound (functors::BindScalar), run by the elementwise launcher as a
// one-input op. Arithmetic here; comparisons in binary_scalar_compare.cu.
//
// Fewer kernels, same bits: op(s, x) for add and mul is launched as op(x, s)
// (IEEE-754 addition and multiplication are commutative, integer ones too), so
// only sub, div, pow, maximum and minimum need a scalar-first instantiation
// (maximum/minimum pick between equal-comparing values by position: +0 vs -0).
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

void binary_scalar_compare(BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first);

void CudaBackend::binary_scalar(BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first) {
  if (is_comparison(op)) {
    binary_scalar_compare(op, it, s, scalar_first);
    return;
  }
  if (scalar_first && (op == BinaryOp::Add || op == BinaryOp::Mul)) scalar_first = false;
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    if constexpr (!std::is_same_v<typename F::template result_t<float>, bool>) {
      dispatch_dtype(it.dtypes[1], [&]<typename T>() {
        if constexpr (functors::accepts<T>(F::kAccepts)) {
          constexpr bool kCommutative = std::is_same_v<F, functors::Add> || std::is_same_v<F, functors::Mul>;
          if constexpr (!kCommutative) {
            if (scalar_first) {
              launch_elementwise<T, T>(it, functors::BindScalar<F, T, true>{f, s.to<T>()});
              return;
            }
          }
          launch_elementwise<T, T>(it, functors::BindScalar<F, T, false>{f, s.to<T>()});
        }
      });
    }
  });
}

}  // namespace parity::cuda
