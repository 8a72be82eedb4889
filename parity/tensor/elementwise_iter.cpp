#include "parity/tensor/elementwise_iter.h"

#include <algorithm>

#include "parity/tensor/error.h"
#include "parity/tensor/tensor.h"

namespace parity {

bool ElementwiseIter::needs_64bit_indexing() const {
  constexpr std::int64_t kMax = (std::int64_t{1} << 31) - 1;
  for (int k = 0; k < num_operands; ++k) {
    std::int64_t extent = 0;
    for (int d = 0; d < ndim; ++d) {
      const std::int64_t s = strides[k][d] < 0 ? -strides[k][d] : strides[k][d];
      extent += (shape[d] - 1) * s;
    }
    if ((extent + 1) * static_cast<std::int64_t>(element_size(dtypes[k])) > kMax) return true;
  }
  return numel > kMax;
}

ElementwiseIter ElementwiseIter::make(const Tensor& out, std::initializer_list<const Tensor*> inputs) {
  ElementwiseIter it;
  PARITY_INTERNAL_ASSERT(inputs.size() + 1 <= static_cast<std::size_t>(kMaxOperands),
                         "ElementwiseIter: too many operands (", inputs.size() + 1, ")");
  const int ndim = out.dim();
  it.num_operands = static_cast<int>(inputs.size()) + 1;
  it.numel = out.numel();

  // Full strides of every operand against the output's shape (0 where broadcast).
  std::int64_t full[kMaxOperands][kMaxDims] = {};
  const Tensor* operands[kMaxOperands] = {&out};
  int k = 1;
  for (const Tensor* in : inputs) operands[k++] = in;
  for (k = 0; k < it.num_operands; ++k) {
    const Tensor& t = *operands[k];
    it.data[k] = static_cast<char*>(t.data_ptr());
    it.dtypes[k] = t.dtype();
    const int lead = ndim - t.dim();
    PARITY_INTERNAL_ASSERT(lead >= 0, "ElementwiseIter: operand of shape ", to_string(t.shape()),
                           " has more dims than the output ", to_string(out.shape()));
    for (int d = 0; d < t.dim(); ++d) {
      const std::int64_t size = t.shape()[d];
      PARITY_INTERNAL_ASSERT(size == out.shape()[d + lead] || size == 1, "ElementwiseIter: operand of shape ",
                             to_string(t.shape()), " does not broadcast to ", to_string(out.shape()));
      full[k][d + lead] = size == 1 ? 0 : t.strides()[d];
    }
  }

  // Keep dims of size > 1, ordered by the output's stride, largest first, so
  // the last dim is the one the output walks densely.
  int order[kMaxDims];
  int kept = 0;
  for (int d = 0; d < ndim; ++d) {
    if (out.shape()[d] != 1) order[kept++] = d;
  }
  // A stable insertion sort: at most kMaxDims entries, and unlike std::stable_sort
  // it allocates no buffer (this runs once per op).
  for (int i = 1; i < kept; ++i) {
    const int d = order[i];
    int j = i;
    for (; j > 0 && full[0][order[j - 1]] < full[0][d]; --j) order[j] = order[j - 1];
    order[j] = d;
  }

  // Merge adjacent dims that are contiguous with each other in every operand.
  it.ndim = 0;
  for (int i = 0; i < kept; ++i) {
    const int d = order[i];
    const std::int64_t size = out.shape()[d];
    if (it.ndim > 0) {
      const int last = it.ndim - 1;
      bool mergeable = true;
      for (k = 0; k < it.num_operands; ++k) {
        if (it.strides[k][last] != full[k][d] * size) mergeable = false;
      }
      if (mergeable) {
        it.shape[last] *= size;
        for (k = 0; k < it.num_operands; ++k) it.strides[k][last] = full[k][d];
        continue;
      }
    }
    it.shape[it.ndim] = size;
    for (k = 0; k < it.num_operands; ++k) it.strides[k][it.ndim] = full[k][d];
    ++it.ndim;
  }
  if (it.ndim == 0) {  // one element (or a 0-d tensor): a dense loop of 1
    it.ndim = 1;
    it.shape[0] = it.numel;
    for (k = 0; k < it.num_operands; ++k) it.strides[k][0] = 1;
  }
  return it;
}

}  // namespace parity
