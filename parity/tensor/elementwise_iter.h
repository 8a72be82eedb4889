// ElementwiseIter: the layout of one elementwise op, computed once by the tensor
// layer and handed to a backend's loop (PyTorch's TensorIterator, reduced to
// what Parity needs).
//
// Operand 0 is the output; inputs follow, each already broadcast to the output
// shape (stride 0 on broadcast dims). Dims are reordered so the last one has the
// smallest output stride, and adjacent dims that are contiguous in every operand
// are merged, so a dense op becomes one dim of numel elements. The struct is a
// trivially copyable value: the CUDA launcher passes it to the kernel as is.
#pragma once

#include <cstdint>

#include "parity/tensor/dtype.h"
#include "parity/tensor/shape.h"

namespace parity {

class Tensor;

struct ElementwiseIter {
  static constexpr int kMaxOperands = 4;

  int ndim = 0;
  int num_operands = 0;
  std::int64_t numel = 0;
  std::int64_t shape[kMaxDims] = {};
  char* data[kMaxOperands] = {};
  std::int64_t strides[kMaxOperands][kMaxDims] = {};  // in elements
  DType dtypes[kMaxOperands] = {};

  // Every operand dense in the same order: the loop is a flat index.
  bool is_contiguous() const {
    if (ndim > 1) return false;
    for (int k = 0; k < num_operands; ++k) {
      if (ndim == 1 && strides[k][0] != 1) return false;
    }
    return true;
  }
  // Input k (k >= 1) is one value broadcast everywhere.
  bool is_scalar_input(int k) const {
    for (int d = 0; d < ndim; ++d) {
      if (strides[k][d] != 0) return false;
    }
    return true;
  }
  bool needs_64bit_indexing() const;  // any byte offset past 2^31 - 1

  // Builds the iteration of `out` = f(inputs...). Inputs must broadcast to out's shape.
  static ElementwiseIter make(const Tensor& out, std::initializer_list<const Tensor*> inputs);
};

}  // namespace parity
