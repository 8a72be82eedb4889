// The autograd methods of Tensor (declared in parity/tensor/tensor.h, defined here in
// the same library, as PyTorch does for its Variable methods).
#include <algorithm>

#include "parity/autograd/engine.h"
#include "parity/autograd/node.h"
#include "parity/tensor/error.h"
#include "parity/tensor/tensor.h"

namespace parity {

using autograd::AutogradMeta;
namespace detail_ag = autograd::detail;

Tensor& Tensor::requires_grad_(bool enabled) {
  const TensorImpl& impl = checked();
  PARITY_CHECK(!enabled || is_floating(impl.dtype),
               "requires_grad_: only floating tensors can require "
               "gradients, this one is ",
               impl.dtype);
  if (const AutogradMeta* m = impl.autograd.get(); m != nullptr && m->grad_fn) {
    PARITY_CHECK(enabled,
                 "requires_grad_(false): only leaf tensors can stop requiring grad; this one was "
                 "computed by ",
                 m->grad_fn->name(), ". Use detach() for a tensor outside the graph");
    return *this;
  }
  autograd::install_hooks();
  impl_->requires_grad = enabled;
  return *this;
}

bool Tensor::is_leaf() const {
  const AutogradMeta* m = checked().autograd.get();
  return m == nullptr || !m->grad_fn;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const AutogradMeta* m = checked().autograd.get();
  return m != nullptr ? m->grad_fn : nullptr;
}

Tensor Tensor::grad() const {
  const AutogradMeta* m = checked().autograd.get();
  return m != nullptr ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  checked();
  if (grad.defined()) {
    PARITY_CHECK(grad.shape() == shape() && grad.dtype() == dtype() && grad.device() == device(),
                 "set_grad: expected a gradient of shape ", to_string(shape()), ", ", dtype(), " on ",
                 device(), ", got shape ", to_string(grad.shape()), ", ", grad.dtype(), " on ",
                 grad.device());
  }
  if (grad.defined() || impl_->autograd) detail_ag::meta(*this).grad = grad;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, {gradient}, {.retain_graph = retain_graph});
}

void Tensor::retain_grad() const {
  PARITY_CHECK(requires_grad(), "retain_grad: the tensor (shape ", to_string(shape()),
               ") does not require grad, so it gets no gradient to retain");
  if (is_leaf()) return;  // leaves keep their gradient anyway
  AutogradMeta& m = detail_ag::meta(*this);
  if (m.retains_grad) return;
  m.retains_grad = true;
  m.grad_fn->retained_.emplace_back(m.output_nr, impl_);
}

bool Tensor::retains_grad() const {
  const AutogradMeta* m = checked().autograd.get();
  return m != nullptr && m->retains_grad;
}

Tensor Tensor::detach() const { return detail_ag::alias(*this); }

}  // namespace parity
