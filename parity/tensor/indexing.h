// The kernels behind gather, scatter_add, index_select and index_add: the
// arguments checked, the operands laid out as IndexArgs (parity/tensor/backend.h)
// and run by their device's backend. Not recorded on the tape: the public,
// differentiable ops are parity/autograd/indexing.h's, which call these.
#pragma once

#include "parity/tensor/tensor.h"

namespace parity::indexing {

// How an index names the elements along `dim`:
//   PerElement (gather, scatter_add): an index of x's rank, one entry per
//     element of the gathered or scattered values, with x's sizes but along dim;
//   PerSlice (index_select, index_add): a 1-D index (or a scalar), one entry per
//     slice along dim.
enum class IndexForm { PerElement, PerSlice };

// The values of x that `index` names along dim (already wrapped): of the
// index's shape (PerElement), or x's shape with index.numel() along dim
// (PerSlice). `op` names the public op in errors.
Tensor gather_values(const char* op, const Tensor& x, int dim, const Tensor& index, IndexForm form);

// A copy of x with `values` added at the elements `index` names along dim,
// each element's contributions in increasing order of their position in
// `values` (the same bits on every backend). `values` has gather_values's
// output shape for the same x, dim and index.
Tensor scatter_added(const char* op, const Tensor& x, int dim, const Tensor& index, const Tensor& values,
                     IndexForm form);

}  // namespace parity::indexing
