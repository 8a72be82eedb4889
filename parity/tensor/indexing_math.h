// The element math of gather and scatter_add (IndexArgs, parity/tensor/backend.h),
// written once for the CPU loops (parity/cpu/indexing.cpp) and the CUDA kernels
// (parity/cuda/indexing.cu): where an index is read, which element it names, and
// the one addition scatter_add makes per contribution.
#pragma once

#include <cstdint>

#include "parity/tensor/backend.h"
#include "parity/tensor/macros.h"

namespace parity::indexing {

PARITY_INLINE std::int64_t index_at(const IndexArgs& a, std::int64_t o, std::int64_t j, std::int64_t i) {
  return a.index[o * a.index_strides[0] + j * a.index_strides[1] + i * a.index_strides[2]];
}

// values[o, j, i] = indexed[o, index(o, j, i), i]
template <typename T>
PARITY_INLINE void gather_element(const IndexArgs& a, std::int64_t o, std::int64_t j, std::int64_t i) {
  const T* indexed = static_cast<const T*>(a.indexed);
  T* values = static_cast<T*>(a.values);
  values[(o * a.n + j) * a.inner + i] = indexed[(o * a.dim_size + index_at(a, o, j, i)) * a.inner + i];
}

// indexed[o, index(o, j, i), i] += values[o, j, i]: called for j = 0, 1, ...
// in turn for each (o, i), by every backend.
template <typename T>
PARITY_INLINE void scatter_add_element(const IndexArgs& a, std::int64_t o, std::int64_t j, std::int64_t i) {
  T* indexed = static_cast<T*>(a.indexed);
  const T* values = static_cast<const T*>(a.values);
  T& slot = indexed[(o * a.dim_size + index_at(a, o, j, i)) * a.inner + i];
  slot = static_cast<T>(slot + values[(o * a.n + j) * a.inner + i]);
}

}  // namespace parity::indexing
