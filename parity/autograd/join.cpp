// cat, stack, split, chunk, slice_scatter (parity/autograd/join.h).
#include "parity/autograd/join.h"

#include <memory>
#include <string>

#include "parity/autograd/function.h"
#include "parity/autograd/grad_mode.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/shape.h"

namespace parity {

namespace {

using i64 = std::int64_t;

// Every tensor defined, of tensors[0]'s dtype, device and rank, with its sizes
// but along `dim` (already wrapped).
void check_joinable(const std::vector<Tensor>& tensors, int dim, const char* op, bool same_shape) {
  const Tensor& first = tensors[0];
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    PARITY_CHECK(t.defined(), op, ": tensor ", i, " of ", tensors.size(), " is an undefined tensor");
    PARITY_CHECK(t.dtype() == first.dtype(), op, ": tensor ", i, " is ", t.dtype(), " (shape ", to_string(t.shape()),
                 ") but tensor 0 is ", first.dtype(), " (shape ", to_string(first.shape()),
                 "); convert one with .to(dtype)");
    PARITY_CHECK(t.device() == first.device(), op, ": tensor ", i, " is on ", t.device(), " (shape ",
                 to_string(t.shape()), ") but tensor 0 is on ", first.device(), "; move one with .to(device)");
    PARITY_CHECK(t.dim() == first.dim(), op, ": tensor ", i, " has shape ", to_string(t.shape()), " but tensor 0 has ",
                 to_string(first.shape()), ": expected tensors of one rank");
    for (int d = 0; d < first.dim(); ++d) {
      PARITY_CHECK((d == dim && !same_shape) || t.size(d) == first.size(d), op, ": tensor ", i, " has shape ",
                   to_string(t.shape()), " but tensor 0 has ", to_string(first.shape()),
                   same_shape ? ": expected tensors of one shape"
                              : ": expected the sizes to agree in every dimension but dim " + std::to_string(dim));
    }
  }
}

// x defined and of rank 1 or more; dim wrapped into [0, rank).
int checked_dim(const Tensor& x, std::int64_t dim, const char* op) {
  PARITY_CHECK(x.defined(), op, ": x is an undefined tensor");
  PARITY_CHECK(x.dim() > 0, op, ": expected a tensor of rank 1 or more, got a scalar (shape [])");
  return wrap_dim(dim, x.dim(), op);
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  PARITY_CHECK(!tensors.empty(), "cat: expected at least one tensor, got an empty list");
  PARITY_CHECK(tensors[0].defined(), "cat: tensor 0 of ", tensors.size(), " is an undefined tensor");
  PARITY_CHECK(tensors[0].dim() > 0, "cat: expected tensors of rank 1 or more, got a scalar (shape [])");
  const int d = wrap_dim(dim, tensors[0].dim(), "cat");
  check_joinable(tensors, d, "cat", false);

  Shape shape = tensors[0].shape();
  std::vector<i64> sizes;
  shape[static_cast<std::size_t>(d)] = 0;
  for (const Tensor& t : tensors) {
    sizes.push_back(t.size(d));
    shape[static_cast<std::size_t>(d)] += t.size(d);
  }

  auto ctx = std::make_shared<autograd::FunctionCtx>();
  autograd::detail::prepare_function(*ctx, "cat", tensors);
  std::vector<Tensor> outputs;
  {
    autograd::NoGradGuard no_grad;
    Tensor out = empty(shape, {.dtype = tensors[0].dtype(), .device = tensors[0].device()});
    i64 offset = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      if (sizes[i] > 0) out.narrow(d, offset, sizes[i]).copy_(tensors[i]);
      offset += sizes[i];
    }
    outputs.push_back(std::move(out));
  }
  // Each input's gradient is its slice of the output's.
  autograd::BackwardFn backward = [d, sizes](autograd::FunctionCtx& c, const std::vector<Tensor>& grads) {
    std::vector<Tensor> result(sizes.size());
    i64 offset = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (c.needs_input_grad(i)) result[i] = grads[0].narrow(d, offset, sizes[i]);
      offset += sizes[i];
    }
    return result;
  };
  autograd::detail::attach_function(ctx, tensors, outputs, std::move(backward));
  return outputs[0];
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  PARITY_CHECK(!tensors.empty(), "stack: expected at least one tensor, got an empty list");
  PARITY_CHECK(tensors[0].defined(), "stack: tensor 0 of ", tensors.size(), " is an undefined tensor");
  const int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  check_joinable(tensors, -1, "stack", true);
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(t.unsqueeze(d));
  return cat(expanded, d);
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t dim) {
  const int d = checked_dim(x, dim, "split_with_sizes");
  i64 total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    PARITY_CHECK(sizes[i] >= 0, "split_with_sizes: size ", i, " is ", sizes[i], ": expected sizes >= 0");
    total += sizes[i];
  }
  PARITY_CHECK(total == x.size(d), "split_with_sizes: the sizes add up to ", total, " but x (shape ",
               to_string(x.shape()), ") has ", x.size(d), " along dim ", d);
  std::vector<Tensor> pieces;
  pieces.reserve(sizes.size());
  i64 offset = 0;
  for (const i64 size : sizes) {
    pieces.push_back(x.narrow(d, offset, size));
    offset += size;
  }
  return pieces;
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  const int d = checked_dim(x, dim, "split");
  PARITY_CHECK(split_size > 0, "split: split_size is ", split_size, ": expected a positive size");
  const i64 n = x.size(d);
  std::vector<i64> sizes;
  for (i64 offset = 0; offset < n; offset += split_size) sizes.push_back(std::min(split_size, n - offset));
  if (sizes.empty()) sizes.push_back(0);  // a size-0 dim gives one empty piece, as torch.split
  return split_with_sizes(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  const int d = checked_dim(x, dim, "chunk");
  PARITY_CHECK(chunks > 0, "chunk: chunks is ", chunks, ": expected a positive count");
  const i64 n = x.size(d);
  return split(x, std::max<i64>(1, (n + chunks - 1) / chunks), d);
}

Tensor slice_scatter(const Tensor& x, const Tensor& src, std::int64_t dim, std::int64_t start, std::int64_t end,
                     std::int64_t step) {
  PARITY_CHECK(x.defined(), "slice_scatter: x is an undefined tensor");
  PARITY_CHECK(src.defined(), "slice_scatter: src is an undefined tensor");
  PARITY_CHECK(x.dim() > 0, "slice_scatter: expected x of rank 1 or more, got a scalar (shape [])");
  const int d = wrap_dim(dim, x.dim(), "slice_scatter");
  const Shape slot = x.slice(d, start, end, step).shape();  // checks start, end and step as slice does
  PARITY_CHECK(src.shape() == slot, "slice_scatter: src has shape ", to_string(src.shape()), " but x (shape ",
               to_string(x.shape()), ") sliced along dim ", d, " from ", start, " to ", end, " by ", step, " has ",
               to_string(slot), ": expected the same shape (no broadcasting)");
  PARITY_CHECK(src.dtype() == x.dtype(), "slice_scatter: src is ", src.dtype(), " but x is ", x.dtype(),
               "; convert one with .to(dtype)");
  PARITY_CHECK(src.device() == x.device(), "slice_scatter: src is on ", src.device(), " but x is on ", x.device(),
               "; move one with .to(device)");

  const std::vector<Tensor> inputs{x, src};
  auto ctx = std::make_shared<autograd::FunctionCtx>();
  autograd::detail::prepare_function(*ctx, "slice_scatter", inputs);
  std::vector<Tensor> outputs;
  {
    autograd::NoGradGuard no_grad;
    Tensor out = x.clone();
    out.slice(d, start, end, step).copy_(src);
    outputs.push_back(std::move(out));
  }
  // x's gradient is the output's with the slice zeroed; src's is the slice.
  autograd::BackwardFn backward = [=](autograd::FunctionCtx& c, const std::vector<Tensor>& grads) {
    std::vector<Tensor> result(2);
    if (c.needs_input_grad(0)) {
      result[0] = grads[0].clone();
      result[0].slice(d, start, end, step).zero_();
    }
    if (c.needs_input_grad(1)) result[1] = grads[0].slice(d, start, end, step);
    return result;
  };
  autograd::detail::attach_function(ctx, inputs, outputs, std::move(backward));
  return outputs[0];
}

}  // namespace parity
