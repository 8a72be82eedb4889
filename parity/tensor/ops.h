// The tensor ops: elementwise math with NumPy broadcasting, reductions, matmul.
//
// Binary ops take two tensors of the same dtype on the same device (no implicit
// type promotion: a mismatch throws naming both), or a tensor and a Scalar,
// which is converted to the tensor's dtype. Comparisons return bool tensors.
// Results are new contiguous tensors; in-place forms are Tensor methods.
#pragma once

#include <cstdint>
#include <vector>

#include "parity/tensor/op_kinds.h"
#include "parity/tensor/tensor.h"

namespace parity {

// ---- unary ----
Tensor unary(UnaryOp op, const Tensor& x);
inline Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::Abs, x); }
inline Tensor sign(const Tensor& x) { return unary(UnaryOp::Sign, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
inline Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::Rsqrt, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::Square, x); }
inline Tensor reciprocal(const Tensor& x) { return unary(UnaryOp::Reciprocal, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
// log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)): finite for every finite x.
inline Tensor softplus(const Tensor& x) { return unary(UnaryOp::Softplus, x); }
// log(1 + x), accurate where 1 + x would round x away (|x| small).
inline Tensor log1p(const Tensor& x) { return unary(UnaryOp::Log1p, x); }
// exp(x) - 1, accurate where exp(x) rounds to about 1.
inline Tensor expm1(const Tensor& x) { return unary(UnaryOp::Expm1, x); }

// ---- binary ----
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor binary(BinaryOp op, const Tensor& a, Scalar b);
Tensor binary(BinaryOp op, Scalar a, const Tensor& b);

#define PARITY_DECLARE_BINARY(fn, Op)                                                     \
  inline Tensor fn(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Op, a, b); } \
  inline Tensor fn(const Tensor& a, Scalar b) { return binary(BinaryOp::Op, a, b); }        \
  inline Tensor fn(Scalar a, const Tensor& b) { return binary(BinaryOp::Op, a, b); }
PARITY_DECLARE_BINARY(add, Add)
PARITY_DECLARE_BINARY(sub, Sub)
PARITY_DECLARE_BINARY(mul, Mul)
PARITY_DECLARE_BINARY(div, Div)
PARITY_DECLARE_BINARY(pow, Pow)
PARITY_DECLARE_BINARY(maximum, Maximum)
PARITY_DECLARE_BINARY(minimum, Minimum)
// relu_backward(grad, output): grad where output > 0, else 0 (PyTorch's threshold_backward).
PARITY_DECLARE_BINARY(relu_backward, ReluBackward)
PARITY_DECLARE_BINARY(eq, Eq)
PARITY_DECLARE_BINARY(ne, Ne)
PARITY_DECLARE_BINARY(lt, Lt)
PARITY_DECLARE_BINARY(le, Le)
PARITY_DECLARE_BINARY(gt, Gt)
PARITY_DECLARE_BINARY(ge, Ge)
#undef PARITY_DECLARE_BINARY

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
inline Tensor operator+(Scalar a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
inline Tensor operator-(Scalar a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
inline Tensor operator*(Scalar a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
inline Tensor operator/(Scalar a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- selection ----
// cond (bool) ? a : b, all three broadcast together; a and b share a dtype.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// Inclusive bounds; NaN stays NaN. Requires lo <= hi.
Tensor clamp(const Tensor& x, Scalar lo, Scalar hi);

// ---- casts and copies ----
Tensor cast(const Tensor& x, DType dtype);  // always a new tensor

// ---- reductions ----
// Over all elements (dims empty) or the given dims; keepdim keeps them as size 1.
// Note [Summation order]: sums are deterministic. The CPU sums a reduced extent
// in blocks of 1024 elements (8 interleaved partial sums each, combined in a
// fixed tree), then combines the blocks' sums pairwise in index order; a reduced
// dim that is not innermost is summed sequentially along it. The order depends
// on the shape and layout, never on the thread count. Float accumulation is in
// the tensor's dtype; integer sums are int64.
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
// max/min propagate NaN.
Tensor max(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
// Index (int64) of the first maximum/minimum along dim, or in the flattened
// tensor when dim is absent. A NaN counts as the maximum (and the minimum).
Tensor argmax(const Tensor& x);
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);

// ---- linear algebra ----
// NumPy matmul: 1-D operands are promoted to matrices and the added dim removed;
// leading (batch) dims broadcast. float32 and float64. Transposed operands are
// passed to the BLAS as such, without copies, when their strides allow it.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace parity
