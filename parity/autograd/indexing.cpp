// gather, scatter_add, index_select, index_add (parity/autograd/indexing.h):
// each forward is a kernel of parity/tensor/indexing.h, each backward the
// other one: gather's gradient scatters, scatter_add's gathers.
#include "parity/autograd/indexing.h"

#include <memory>
#include <vector>

#include "parity/autograd/function.h"
#include "parity/autograd/grad_mode.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/indexing.h"
#include "parity/tensor/shape.h"

namespace parity {

namespace {

using indexing::IndexForm;

int checked_dim(const char* op, const Tensor& x, std::int64_t dim) {
  PARITY_CHECK(x.defined(), op, ": x is an undefined tensor");
  PARITY_CHECK(x.dim() > 0, op, ": expected x of rank 1 or more, got a scalar (shape [])");
  return wrap_dim(dim, x.dim(), op);
}

// The index as a 1-D tensor for the PerSlice ops (a scalar is one entry).
Tensor per_slice(const Tensor& index) { return index.defined() && index.dim() == 0 ? index.reshape({1}) : index; }

Tensor gather_like(const char* op, const Tensor& x, std::int64_t dim, const Tensor& index, IndexForm form) {
  const int d = checked_dim(op, x, dim);
  const std::vector<Tensor> inputs{x};
  auto ctx = std::make_shared<autograd::FunctionCtx>();
  autograd::detail::prepare_function(*ctx, op, inputs);
  std::vector<Tensor> outputs;
  {
    autograd::NoGradGuard no_grad;
    outputs.push_back(indexing::gather_values(op, x, d, index, form));
  }
  ctx->save_for_backward({index});
  const Shape x_shape = x.shape();
  autograd::BackwardFn backward = [d, form, x_shape](autograd::FunctionCtx& c, const std::vector<Tensor>& grads) {
    const Tensor& idx = c.saved_tensors()[0];
    const Tensor zero = zeros(x_shape, {.dtype = grads[0].dtype(), .device = grads[0].device()});
    const Tensor grad = form == IndexForm::PerElement ? scatter_add(zero, d, idx, grads[0])
                                                      : index_add(zero, d, idx, grads[0]);
    return std::vector<Tensor>{grad};
  };
  autograd::detail::attach_function(ctx, inputs, outputs, std::move(backward));
  return outputs[0];
}

Tensor scatter_like(const char* op, const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                    IndexForm form) {
  const int d = checked_dim(op, x, dim);
  const std::vector<Tensor> inputs{x, src};
  auto ctx = std::make_shared<autograd::FunctionCtx>();
  autograd::detail::prepare_function(*ctx, op, inputs);
  std::vector<Tensor> outputs;
  {
    autograd::NoGradGuard no_grad;
    outputs.push_back(indexing::scatter_added(op, x, d, index, src, form));
  }
  ctx->save_for_backward({index});
  autograd::BackwardFn backward = [d, form](autograd::FunctionCtx& c, const std::vector<Tensor>& grads) {
    std::vector<Tensor> result(2);
    if (c.needs_input_grad(0)) result[0] = grads[0];
    if (c.needs_input_grad(1)) {
      const Tensor& idx = c.saved_tensors()[0];
      result[1] = form == IndexForm::PerElement ? gather(grads[0], d, idx) : index_select(grads[0], d, idx);
    }
    return result;
  };
  autograd::detail::attach_function(ctx, inputs, outputs, std::move(backward));
  return outputs[0];
}

}  // namespace

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  return gather_like("gather", x, dim, index, IndexForm::PerElement);
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_like("scatter_add", x, dim, index, src, IndexForm::PerElement);
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  return gather_like("index_select", x, dim, per_slice(index), IndexForm::PerSlice);
}

Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  return scatter_like("index_add", x, dim, per_slice(index), src, IndexForm::PerSlice);
}

}  // namespace parity
