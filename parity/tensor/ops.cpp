// The op front ends: validate, compute the output's shape and dtype, allocate
// it, lay out the iteration, and hand it to the backend of the device.
#include "parity/tensor/ops.h"

#include <algorithm>
#include <cmath>

#include "parity/tensor/autograd_hook.h"
#include "parity/tensor/backend.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/functors.h"
#include "parity/tensor/op_checks.h"

namespace parity {

namespace {

using detail::backend;
using detail::check_defined;
using detail::check_same_device;
using detail::check_same_dtype;
using detail::new_like;

void check_accepts(functors::Accepts accepts, DType dtype, std::string_view op) {
  const bool ok = dispatch_dtype(dtype, [&]<typename T>() { return functors::accepts<T>(accepts); });
  if (!ok) {
    const char* expected = accepts == functors::Accepts::Floating ? "float32 or float64"
                                                                  : "a numeric dtype (not bool)";
    PARITY_FAIL(op, ": expected ", expected, ", got ", dtype);
  }
}

// An integer tensor with a non-integer scalar would silently truncate it.
void check_scalar_fits(const Tensor& t, Scalar s, std::string_view op) {
  if (!is_floating(t.dtype()) && !s.is_integral()) {
    const double v = s.to_double();
    PARITY_CHECK(std::isfinite(v) && v == std::trunc(v), op, ": the scalar ", v,
                 " is not representable in a tensor of dtype ", t.dtype());
  }
}

// True when the two tensors' element ranges might overlap in one storage
// without being the very same layout (an elementwise op reading one while
// writing the other would see half-written values).
bool partially_overlaps(const Tensor& out, const Tensor& in) {
  if (out.storage() != in.storage() || out.numel() == 0 || in.numel() == 0) return false;
  return !(out.offset() == in.offset() && out.shape() == in.shape() && out.strides() == in.strides());
}

// An expanded view (a dim of size > 1 with stride 0) names one element several
// times: an in-place op would apply itself to that element once per name, in an
// order that depends on the loop. Refused, as PyTorch does.
void check_no_internal_overlap(const Tensor& t, std::string_view op) {
  for (int d = 0; d < t.dim(); ++d) {
    PARITY_CHECK(t.shape()[d] <= 1 || t.strides()[d] != 0, op, ": cannot write in place into a tensor whose ",
                 "elements share memory (shape ", to_string(t.shape()), ", strides ", to_string(t.strides()),
                 ": an expanded view); clone() it first");
  }
}


}  // namespace

// ---- elementwise ----

Tensor unary(UnaryOp op, const Tensor& x) {
  check_defined(x, name(op).data(), "the input");
  check_accepts(functors::accepts_of(op), x.dtype(), name(op));
  Tensor out = new_like(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend(x, name(op)).unary(op, ElementwiseIter::make(out, {&x}));
  if (x.requires_grad()) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::Unary, .name = name(op).data(),
                                .inputs = {&x}, .attrs = autograd_hook::UnaryAttrs{op}});
  }
  return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_defined(a, name(op).data(), "the first input");
  check_defined(b, name(op).data(), "the second input");
  check_same_device(a, b, name(op));
  check_same_dtype(a, b, name(op));
  check_accepts(functors::accepts_of(op), a.dtype(), name(op));
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name(op).data());
  Tensor out = new_like(shape, is_comparison(op) ? kBool : a.dtype(), a.device());
  if (out.numel() > 0) backend(a, name(op)).binary(op, ElementwiseIter::make(out, {&a, &b}));
  if (a.requires_grad() || b.requires_grad()) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::Binary, .name = name(op).data(),
                                .inputs = {&a, &b}, .attrs = autograd_hook::BinaryAttrs{op}});
  }
  return out;
}

namespace {
Tensor binary_with_scalar(BinaryOp op, const Tensor& x, Scalar s, bool scalar_first) {
  check_defined(x, name(op).data(), "the input");
  check_accepts(functors::accepts_of(op), x.dtype(), name(op));
  check_scalar_fits(x, s, name(op));
  Tensor out = new_like(x.shape(), is_comparison(op) ? kBool : x.dtype(), x.device());
  if (out.numel() > 0) {
    backend(x, name(op)).binary_scalar(op, ElementwiseIter::make(out, {&x}), s, scalar_first);
  }
  if (x.requires_grad()) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::BinaryScalar, .name = name(op).data(),
                                .inputs = {&x}, .attrs = autograd_hook::ScalarAttrs{op, s, scalar_first}});
  }
  return out;
}
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, Scalar b) { return binary_with_scalar(op, a, b, false); }
Tensor binary(BinaryOp op, Scalar a, const Tensor& b) { return binary_with_scalar(op, b, a, true); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "the condition");
  check_defined(a, "where", "the first input");
  check_defined(b, "where", "the second input");
  PARITY_CHECK(cond.dtype() == kBool, "where: expected a bool condition, got ", cond.dtype());
  check_same_device(cond, a, "where");
  check_same_device(a, b, "where");
  check_same_dtype(a, b, "where");
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = new_like(shape, a.dtype(), a.device());
  if (out.numel() > 0) backend(a, "where").where(ElementwiseIter::make(out, {&cond, &a, &b}));
  if (a.requires_grad() || b.requires_grad()) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::Where, .name = "where", .inputs = {&cond, &a, &b}});
  }
  return out;
}

Tensor clamp(const Tensor& x, Scalar lo, Scalar hi) {
  check_defined(x, "clamp", "the input");
  check_accepts(functors::Accepts::Numeric, x.dtype(), "clamp");
  PARITY_CHECK(lo.to_double() <= hi.to_double(), "clamp: expected lo <= hi, got lo = ", lo, ", hi = ", hi);
  check_scalar_fits(x, lo, "clamp");
  check_scalar_fits(x, hi, "clamp");
  Tensor out = new_like(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend(x, "clamp").clamp(ElementwiseIter::make(out, {&x}), lo, hi);
  if (x.requires_grad()) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::Clamp, .name = "clamp", .inputs = {&x},
                                .attrs = autograd_hook::ClampAttrs{lo, hi}});
  }
  return out;
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(x, "cast", "the input");
  Tensor out = new_like(x.shape(), dtype, x.device());
  if (out.numel() > 0) backend(x, "cast").cast(ElementwiseIter::make(out, {&x}));
  if (x.requires_grad()) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::Cast, .name = "cast", .inputs = {&x}});
  }
  return out;
}

// ---- in-place ----

Tensor& Tensor::fill_(Scalar value) {
  check_defined(*this, "fill_", "the tensor");
  check_scalar_fits(*this, value, "fill_");
  if (requires_grad() &&
      autograd_hook::inplace(*this, {.kind = autograd_hook::InplaceKind::Fill, .name = "fill", .scalar = value})) {
    return *this;
  }
  if (numel() > 0) backend(*this, "fill_").fill(ElementwiseIter::make(*this, {}), value);
  storage()->bump_version("fill");
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined(*this, "copy_", "the destination");
  check_defined(src, "copy_", "the source");
  check_no_internal_overlap(*this, "copy_");
  broadcast_shapes(src.shape(), shape(), "copy_");
  PARITY_CHECK(src.dim() <= dim() && broadcast_shapes(src.shape(), shape(), "copy_") == shape(),
               "copy_: the source of shape ", to_string(src.shape()),
               " does not broadcast to the destination's shape ", to_string(shape()));
  if ((requires_grad() || src.requires_grad()) &&
      autograd_hook::inplace(*this, {.kind = autograd_hook::InplaceKind::Copy, .name = "copy", .other = &src})) {
    return *this;
  }
  if (numel() == 0) return *this;
  if (src.device() == device()) {
    const Tensor source = partially_overlaps(*this, src) ? src.clone() : src;
    backend(*this, "copy_").cast(ElementwiseIter::make(*this, {&source}));
  } else {
    // Across devices: a dense buffer of the destination's dtype on the source's
    // device, bytes across, then a same-device copy when the destination isn't dense.
    const Tensor dense = src.to(dtype()).expand(shape()).contiguous();
    const bool direct = is_contiguous();
    Tensor target = direct ? *this : empty(shape(), {.dtype = dtype(), .device = device()});
    if (device().is_cpu()) {
      backend(dense, "copy_").copy_to_host(target.data_ptr(), dense.data_ptr(), nbytes(), dense.device().index);
    } else if (dense.device().is_cpu()) {
      backend(target, "copy_").copy_from_host(target.data_ptr(), dense.data_ptr(), nbytes(), device().index);
    } else {
      const Tensor host = dense.to(Device::cpu());
      backend(target, "copy_").copy_from_host(target.data_ptr(), host.data_ptr(), nbytes(), device().index);
    }
    if (!direct) copy_(target);
  }
  storage()->bump_version("copy");
  return *this;
}

namespace {

// this = op(this, other) with `other` broadcast to this tensor's shape.
Tensor& binary_inplace(BinaryOp op, Tensor& self, const Tensor& other) {
  const std::string op_name = std::string(name(op)) + "_";
  check_defined(self, op_name.c_str(), "the tensor");
  check_defined(other, op_name.c_str(), "the other tensor");
  check_no_internal_overlap(self, op_name);
  check_same_device(self, other, op_name);
  check_same_dtype(self, other, op_name);
  check_accepts(functors::accepts_of(op), self.dtype(), op_name);
  const Shape shape = broadcast_shapes(self.shape(), other.shape(), op_name.c_str());
  PARITY_CHECK(shape == self.shape(), op_name, ": the result of shape ", to_string(shape),
               " does not fit the tensor of shape ", to_string(self.shape()), " it is written into");
  if ((self.requires_grad() || other.requires_grad()) &&
      autograd_hook::inplace(self, {.kind = autograd_hook::InplaceKind::Binary, .name = name(op).data(),
                                    .other = &other, .binary = op})) {
    return self;
  }
  if (self.numel() > 0) {
    const Tensor rhs = partially_overlaps(self, other) ? other.clone() : other;
    backend(self, op_name).binary(op, ElementwiseIter::make(self, {&self, &rhs}));
  }
  self.storage()->bump_version(name(op).data());
  return self;
}

Tensor& binary_scalar_inplace(BinaryOp op, Tensor& self, Scalar s) {
  const std::string op_name = std::string(name(op)) + "_";
  check_defined(self, op_name.c_str(), "the tensor");
  check_accepts(functors::accepts_of(op), self.dtype(), op_name);
  check_no_internal_overlap(self, op_name);
  check_scalar_fits(self, s, op_name);
  if (self.requires_grad() &&
      autograd_hook::inplace(self, {.kind = autograd_hook::InplaceKind::BinaryScalar, .name = name(op).data(),
                                    .binary = op, .scalar = s})) {
    return self;
  }
  if (self.numel() > 0) {
    backend(self, op_name).binary_scalar(op, ElementwiseIter::make(self, {&self}), s, false);
  }
  self.storage()->bump_version(name(op).data());
  return self;
}

Tensor& unary_inplace(UnaryOp op, Tensor& self) {
  const std::string op_name = std::string(name(op)) + "_";
  check_defined(self, op_name.c_str(), "the tensor");
  check_accepts(functors::accepts_of(op), self.dtype(), op_name);
  check_no_internal_overlap(self, op_name);
  if (self.requires_grad() &&
      autograd_hook::inplace(self, {.kind = autograd_hook::InplaceKind::Unary, .name = name(op).data(), .unary = op})) {
    return self;
  }
  if (self.numel() > 0) backend(self, op_name).unary(op, ElementwiseIter::make(self, {&self}));
  self.storage()->bump_version(name(op).data());
  return self;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other) { return binary_inplace(BinaryOp::Add, *this, other); }
Tensor& Tensor::add_(Scalar other) { return binary_scalar_inplace(BinaryOp::Add, *this, other); }
Tensor& Tensor::sub_(const Tensor& other) { return binary_inplace(BinaryOp::Sub, *this, other); }
Tensor& Tensor::sub_(Scalar other) { return binary_scalar_inplace(BinaryOp::Sub, *this, other); }
Tensor& Tensor::mul_(const Tensor& other) { return binary_inplace(BinaryOp::Mul, *this, other); }
Tensor& Tensor::mul_(Scalar other) { return binary_scalar_inplace(BinaryOp::Mul, *this, other); }
Tensor& Tensor::div_(const Tensor& other) { return binary_inplace(BinaryOp::Div, *this, other); }
Tensor& Tensor::div_(Scalar other) { return binary_scalar_inplace(BinaryOp::Div, *this, other); }
Tensor& Tensor::pow_(Scalar exponent) { return binary_scalar_inplace(BinaryOp::Pow, *this, exponent); }
Tensor& Tensor::neg_() { return unary_inplace(UnaryOp::Neg, *this); }
Tensor& Tensor::abs_() { return unary_inplace(UnaryOp::Abs, *this); }
Tensor& Tensor::exp_() { return unary_inplace(UnaryOp::Exp, *this); }
Tensor& Tensor::log_() { return unary_inplace(UnaryOp::Log, *this); }
Tensor& Tensor::sqrt_() { return unary_inplace(UnaryOp::Sqrt, *this); }
Tensor& Tensor::relu_() { return unary_inplace(UnaryOp::Relu, *this); }

Tensor& Tensor::clamp_(Scalar lo, Scalar hi) {
  check_defined(*this, "clamp_", "the tensor");
  check_accepts(functors::Accepts::Numeric, dtype(), "clamp_");
  check_no_internal_overlap(*this, "clamp_");
  PARITY_CHECK(lo.to_double() <= hi.to_double(), "clamp_: expected lo <= hi, got lo = ", lo, ", hi = ", hi);
  check_scalar_fits(*this, lo, "clamp_");
  check_scalar_fits(*this, hi, "clamp_");
  if (requires_grad() && autograd_hook::inplace(*this, {.kind = autograd_hook::InplaceKind::Clamp, .name = "clamp",
                                                        .scalar = lo, .scalar2 = hi})) {
    return *this;
  }
  if (numel() > 0) backend(*this, "clamp_").clamp(ElementwiseIter::make(*this, {this}), lo, hi);
  storage()->bump_version("clamp");
  return *this;
}

// ---- reductions ----

namespace {

Tensor reduce_raw(ReduceOp op, const Tensor& x, std::vector<std::int64_t> dims, bool keepdim) {
  const std::string_view op_name = name(op);
  check_defined(x, op_name.data(), "the input");
  const int ndim = x.dim();
  std::vector<bool> reduced(ndim, dims.empty());
  for (std::int64_t dim : dims) {
    const int d = wrap_dim(dim, ndim, op_name.data());
    if (ndim == 0) continue;  // dim 0 (or -1) of a 0-d tensor: its one element, nothing to mark
    PARITY_CHECK(!reduced[d], op_name, ": dim ", dim, " appears twice in ", to_string(dims));
    reduced[d] = true;
  }

  DType out_dtype = x.dtype();
  switch (op) {
    case ReduceOp::Sum:
      check_accepts(functors::Accepts::All, x.dtype(), op_name);
      if (!is_floating(x.dtype())) out_dtype = kInt64;
      break;
    case ReduceOp::Mean: check_accepts(functors::Accepts::Floating, x.dtype(), op_name); break;
    case ReduceOp::Max:
    case ReduceOp::Min: check_accepts(functors::Accepts::Numeric, x.dtype(), op_name); break;
    case ReduceOp::ArgMax:
    case ReduceOp::ArgMin:
      check_accepts(functors::Accepts::Numeric, x.dtype(), op_name);
      out_dtype = kInt64;
      break;
    case ReduceOp::kCount: break;
  }

  Shape kept_shape, out_shape;
  std::vector<std::int64_t> order;
  std::int64_t reduce_count = 1;
  for (int d = 0; d < ndim; ++d) {
    if (reduced[d]) {
      reduce_count *= x.shape()[d];
      out_shape.push_back(1);
    } else {
      kept_shape.push_back(x.shape()[d]);
      out_shape.push_back(x.shape()[d]);
      order.push_back(d);
    }
  }
  if (reduce_count == 0 && numel(kept_shape) > 0) {
    PARITY_CHECK(op == ReduceOp::Sum || op == ReduceOp::Mean, op_name,
                 ": cannot reduce over an empty extent (shape ", to_string(x.shape()), ", dims ",
                 to_string(dims), "): the result has no identity");
  }

  // The input as a dense [outer, reduce, inner] block: directly when it is
  // contiguous and the reduced dims are adjacent, else by a contiguous copy of
  // it permuted to [kept..., reduced...].
  ReduceArgs args;
  Tensor input = x;
  int first = -1, last = -1;
  for (int d = 0; d < ndim; ++d) {
    if (reduced[d] && x.shape()[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  }
  bool adjacent = x.is_contiguous();
  for (int d = first; adjacent && first >= 0 && d <= last; ++d) {
    if (!reduced[d] && x.shape()[d] != 1) adjacent = false;
  }
  if (adjacent) {
    args.outer = 1;
    args.inner = 1;
    for (int d = 0; d < ndim; ++d) {
      if (first < 0 || d < first) args.outer *= reduced[d] ? 1 : x.shape()[d];
      else if (d > last) args.inner *= reduced[d] ? 1 : x.shape()[d];
    }
    args.reduce = reduce_count;
  } else {
    for (int d = 0; d < ndim; ++d) {
      if (reduced[d]) order.push_back(d);
    }
    input = autograd_hook::raw(x).permute(order).contiguous();
    args.outer = numel(kept_shape);
    args.reduce = reduce_count;
    args.inner = 1;
  }

  Tensor out = new_like(keepdim ? out_shape : kept_shape, out_dtype, x.device());
  if (out.numel() == 0) return out;
  args.in = input.data_ptr();
  args.out = out.data_ptr();
  args.in_dtype = x.dtype();
  args.out_dtype = out_dtype;
  backend(x, op_name).reduce(op, args);
  return out;
}

Tensor reduce(ReduceOp op, const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor out = reduce_raw(op, x, dims, keepdim);
  if (x.requires_grad() && op != ReduceOp::ArgMax && op != ReduceOp::ArgMin) {
    autograd_hook::record(out, {.kind = autograd_hook::OpKind::Reduce, .name = name(op).data(), .inputs = {&x},
                                .attrs = autograd_hook::ReduceAttrs{op, dims, keepdim}});
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  return reduce(ReduceOp::Sum, x, dims, keepdim);
}
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  return reduce(ReduceOp::Mean, x, dims, keepdim);
}
Tensor max(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  return reduce(ReduceOp::Max, x, dims, keepdim);
}
Tensor min(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  return reduce(ReduceOp::Min, x, dims, keepdim);
}
Tensor argmax(const Tensor& x) {
  check_defined(x, "argmax", "the input");
  return reduce(ReduceOp::ArgMax, autograd_hook::raw(x).reshape({-1}), {0}, false);
}
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return reduce(ReduceOp::ArgMax, x, {dim}, keepdim);
}
Tensor argmin(const Tensor& x) {
  check_defined(x, "argmin", "the input");
  return reduce(ReduceOp::ArgMin, autograd_hook::raw(x).reshape({-1}), {0}, false);
}
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return reduce(ReduceOp::ArgMin, x, {dim}, keepdim);
}

// ---- matmul ----

namespace {

// How a [rows, cols] matrix with strides (s_r, s_c) is passed to a row-major
// BLAS: as stored (NoTrans, ld = s_r), as the transpose of a stored [cols, rows]
// matrix (Trans, ld = s_c), or not at all (a copy is needed).
struct MatrixLayout {
  bool ok = false;
  bool trans = false;
  std::int64_t ld = 0;
};

MatrixLayout blas_layout(std::int64_t rows, std::int64_t cols, std::int64_t s_r, std::int64_t s_c) {
  if ((s_c == 1 || cols == 1) && (rows == 1 || s_r >= std::max<std::int64_t>(cols, 1))) {
    return {true, false, rows == 1 ? std::max<std::int64_t>(cols, 1) : s_r};
  }
  if ((s_r == 1 || rows == 1) && (cols == 1 || s_c >= std::max<std::int64_t>(rows, 1))) {
    return {true, true, cols == 1 ? std::max<std::int64_t>(rows, 1) : s_c};
  }
  return {};
}

Tensor matmul_raw(const Tensor& a_in, const Tensor& b_in) {
  check_defined(a_in, "matmul", "the first input");
  check_defined(b_in, "matmul", "the second input");
  check_same_device(a_in, b_in, "matmul");
  check_same_dtype(a_in, b_in, "matmul");
  check_accepts(functors::Accepts::Floating, a_in.dtype(), "matmul");
  PARITY_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: expected inputs of at least 1 dim, got shapes ",
               to_string(a_in.shape()), " and ", to_string(b_in.shape()));
  const Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  const Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  const std::int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  PARITY_CHECK(b.size(-2) == k, "matmul: shapes ", to_string(a_in.shape()), " and ", to_string(b_in.shape()),
               " cannot be multiplied (", k, " columns vs ", b.size(-2), " rows)");

  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  PARITY_CHECK(batch.size() + 2 <= static_cast<std::size_t>(kMaxDims), "matmul: too many batch dims");

  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = new_like(out_shape, a.dtype(), a.device());

  Shape final_shape = batch;
  if (a_in.dim() > 1) final_shape.push_back(m);
  if (b_in.dim() > 1) final_shape.push_back(n);
  if (out.numel() == 0) return out.view(final_shape);
  if (k == 0) return out.zero_().view(final_shape);

  // Operands as [batch..., rows, cols] views; plain matrices need no expand
  // (the common 2-D case skips the extra views: small matmuls are host-bound).
  auto expanded = [&](const Tensor& t, std::int64_t rows, std::int64_t cols) {
    if (batch.empty()) return t;
    Shape s = batch;
    s.push_back(rows);
    s.push_back(cols);
    return t.expand(s);
  };
  Tensor ea = expanded(a, m, k);
  Tensor eb = expanded(b, k, n);
  MatrixLayout la = blas_layout(m, k, ea.stride(-2), ea.stride(-1));
  if (!la.ok) {
    ea = expanded(a.contiguous(), m, k);
    la = blas_layout(m, k, ea.stride(-2), ea.stride(-1));
  }
  MatrixLayout lb = blas_layout(k, n, eb.stride(-2), eb.stride(-1));
  if (!lb.ok) {
    eb = expanded(b.contiguous(), k, n);
    lb = blas_layout(k, n, eb.stride(-2), eb.stride(-1));
  }

  GemmArgs args;
  args.dtype = a.dtype();
  args.m = m;
  args.n = n;
  args.k = k;
  args.trans_a = la.trans;
  args.trans_b = lb.trans;
  args.lda = la.ld;
  args.ldb = lb.ld;
  args.ldc = n;
  args.math_mode = math_mode();
  args.a = ea.data_ptr();
  args.b = eb.data_ptr();
  args.c = out.data_ptr();
  args.batch_ndim = static_cast<int>(batch.size());
  for (int d = 0; d < args.batch_ndim; ++d) {
    args.batch_shape[d] = batch[d];
    args.batch_stride_a[d] = batch[d] == 1 ? 0 : ea.stride(d);
    args.batch_stride_b[d] = batch[d] == 1 ? 0 : eb.stride(d);
    args.batch_stride_c[d] = batch[d] == 1 ? 0 : out.stride(d);
  }
  backend(a, "matmul").gemm(args);
  return final_shape == out_shape ? out : out.view(final_shape);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined(a, "matmul", "the first input");
  check_defined(b, "matmul", "the second input");
  if (!a.requires_grad() && !b.requires_grad()) return matmul_raw(a, b);
  Tensor out = matmul_raw(autograd_hook::raw(a), autograd_hook::raw(b));
  autograd_hook::record(out, {.kind = autograd_hook::OpKind::Matmul, .name = "matmul", .inputs = {&a, &b}});
  return out;
}

}  // namespace parity
