// var, std, logsumexp (parity/tensor/statistics.h).
#include "parity/tensor/statistics.h"

#include <cmath>
#include <limits>
#include <string>

#include "parity/tensor/autograd_hook.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"
#include "parity/tensor/shape.h"

namespace parity {

namespace {

// The number of elements a reduction over dims takes together (x's dims
// checked and wrapped as the reduction will).
std::int64_t reduced_count(const Tensor& x, const std::vector<std::int64_t>& dims, const char* op) {
  PARITY_CHECK(x.defined(), op, ": x is an undefined tensor");
  PARITY_CHECK(is_floating(x.dtype()), op, ": expected x of dtype float32 or float64, got ", x.dtype(), " (shape ",
               to_string(x.shape()), ")");
  if (dims.empty()) return x.numel();
  std::int64_t n = 1;
  for (const std::int64_t d : dims) n *= x.size(wrap_dim(d, x.dim(), op));
  return n;
}

}  // namespace

Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) {
  const std::int64_t n = reduced_count(x, dims, "var");
  PARITY_CHECK(correction >= 0, "var: correction is ", correction, ": expected 0 or more");
  const Tensor deviation = sub(x, mean(x, dims, true));
  const Tensor squares = sum(mul(deviation, deviation), dims, keepdim);
  return div(squares, static_cast<double>(n - correction));  // n - correction <= 0: inf or NaN, as PyTorch
}

Tensor std(const Tensor& x, const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) {
  reduced_count(x, dims, "std");
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  reduced_count(x, dims, "logsumexp");
  // The shift m needs no gradient: it cancels from the result's.
  const Tensor m_raw = max(autograd_hook::raw(x), dims, true);
  const Tensor m = where(eq(abs(m_raw), std::numeric_limits<double>::infinity()), zeros_like(m_raw), m_raw);
  const Tensor shifted_sum = sum(exp(sub(x, m)), dims, keepdim);
  return add(log(shifted_sum), keepdim ? m : m.reshape(shifted_sum.shape()));
}

}  // namespace parity
