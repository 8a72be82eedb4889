// gather_values and scatter_added (parity/tensor/indexing.h): checks, layout, dispatch.
#include "parity/tensor/indexing.h"

#include <string>

#include "parity/tensor/op_checks.h"
#include "parity/tensor/ops.h"
#include "parity/tensor/shape.h"

namespace parity::indexing {

namespace {

using i64 = std::int64_t;

// The shape gather_values returns, after checking index against x.
Shape checked_values_shape(const char* op, const Tensor& x, int dim, const Tensor& index, IndexForm form) {
  detail::check_defined(x, op, "x");
  detail::check_defined(index, op, "index");
  PARITY_CHECK(index.dtype() == kInt64, op, ": expected an index of dtype int64, got ", index.dtype(), " (shape ",
               to_string(index.shape()), "); convert it with .to(kInt64)");
  PARITY_CHECK(index.device() == x.device(), op, ": the index is on ", index.device(), " but x (shape ",
               to_string(x.shape()), ") is on ", x.device(), "; move one with .to(device)");
  if (form == IndexForm::PerSlice) {
    PARITY_CHECK(index.dim() <= 1, op, ": expected a 1-D index (one entry per slice along dim ", dim,
                 "), got shape ", to_string(index.shape()));
    Shape shape = x.shape();
    shape[static_cast<std::size_t>(dim)] = index.numel();
    return shape;
  }
  PARITY_CHECK(index.dim() == x.dim(), op, ": the index has shape ", to_string(index.shape()), " but x has ",
               to_string(x.shape()), ": expected an index of x's rank");
  for (int d = 0; d < x.dim(); ++d) {
    PARITY_CHECK(d == dim || index.size(d) == x.size(d), op, ": the index has shape ", to_string(index.shape()),
                 " but x has ", to_string(x.shape()), ": expected the sizes to agree in every dimension but dim ",
                 dim);
  }
  return index.shape();
}

// Every entry of a non-empty index in [0, size).
void check_range(const char* op, const Tensor& index, i64 size, int dim, const Tensor& x) {
  if (index.numel() == 0) return;
  const i64 lo = min(index).item<i64>(), hi = max(index).item<i64>();
  PARITY_CHECK(lo >= 0 && hi < size, op, ": the index holds ", lo < 0 ? lo : hi, " but x (shape ",
               to_string(x.shape()), ") has ", size, " entries along dim ", dim, ": expected indices in [0, ", size,
               ")");
}

IndexArgs layout(const Tensor& x, int dim, const Tensor& index, const Shape& values_shape, IndexForm form) {
  IndexArgs a;
  a.dtype = x.dtype();
  for (int d = 0; d < dim; ++d) a.outer *= x.size(d);
  for (int d = dim + 1; d < x.dim(); ++d) a.inner *= x.size(d);
  a.dim_size = x.size(dim);
  a.n = values_shape[static_cast<std::size_t>(dim)];
  if (form == IndexForm::PerElement) {
    a.index_strides[0] = a.n * a.inner;
    a.index_strides[1] = a.inner;
    a.index_strides[2] = 1;
  } else {
    a.index_strides[1] = 1;
  }
  a.index = index.data<i64>();
  return a;
}

}  // namespace

Tensor gather_values(const char* op, const Tensor& x, int dim, const Tensor& index, IndexForm form) {
  const Shape shape = checked_values_shape(op, x, dim, index, form);
  const Tensor ic = index.contiguous();
  check_range(op, ic, x.size(dim), dim, x);
  const Tensor xc = x.contiguous();
  Tensor out = detail::new_like(shape, x.dtype(), x.device());
  IndexArgs a = layout(xc, dim, ic, shape, form);
  a.indexed = xc.data_ptr();
  a.values = out.data_ptr();
  detail::backend(x, op).gather(a);
  return out;
}

Tensor scatter_added(const char* op, const Tensor& x, int dim, const Tensor& index, const Tensor& values,
                     IndexForm form) {
  const Shape shape = checked_values_shape(op, x, dim, index, form);
  detail::check_defined(values, op, "values");
  PARITY_CHECK(x.dtype() != kBool, op, ": expected x of a numeric dtype, got bool (shape ", to_string(x.shape()),
               ")");
  detail::check_like(x, values, op);
  PARITY_CHECK(values.shape() == shape, op, ": the values have shape ", to_string(values.shape()), " but x (shape ",
               to_string(x.shape()), ") and the index (shape ", to_string(index.shape()), ") along dim ", dim,
               " take ", to_string(shape), " (no broadcasting)");
  const Tensor ic = index.contiguous();
  check_range(op, ic, x.size(dim), dim, x);
  Tensor out = x.clone();
  const Tensor vc = values.contiguous();
  IndexArgs a = layout(out, dim, ic, shape, form);
  a.indexed = out.data_ptr();
  a.values = vc.data_ptr();
  detail::backend(x, op).scatter_add(a);
  return out;
}

}  // namespace parity::indexing
