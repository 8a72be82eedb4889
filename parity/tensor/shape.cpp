#include "parity/tensor/shape.h"

#include <algorithm>

#include "parity/tensor/error.h"

namespace parity {

// Like NumPy, the product of the non-zero sizes must fit in int64 even when a
// size is 0: the strides of such a shape would overflow too.
std::int64_t numel(const Shape& shape) {
  std::int64_t n = 1;
  bool empty = false;
  for (std::int64_t size : shape) {
    if (size == 0) {
      empty = true;
      continue;
    }
    PARITY_CHECK(!__builtin_mul_overflow(n, size, &n), "numel: shape ", to_string(shape),
                 " has more elements than int64 can count (the product of its sizes overflows int64)");
  }
  return empty ? 0 : n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  std::int64_t stride = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= std::max<std::int64_t>(shape[d], 1);
  }
  return strides;
}

bool is_contiguous(const Shape& shape, const Strides& strides) {
  std::int64_t expected = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 0) return true;
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (std::size_t i = 0; i < ndim; ++i) {
    const std::int64_t da = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
    const std::int64_t db = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
    PARITY_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", to_string(a), " and ",
                 to_string(b), " do not broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int wrap_dim(std::int64_t dim, int ndim, const char* op) {
  const int lo = ndim == 0 ? -1 : -ndim;
  const int hi = ndim == 0 ? 0 : ndim - 1;
  PARITY_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor of ",
               ndim, " dimension(s) (expected a dim in [", lo, ", ", hi, "])");
  return static_cast<int>(dim < 0 ? dim + std::max(ndim, 1) : dim);
}

std::string to_string(const Shape& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace parity
