#include "parity/nn/activation.h"

#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

Tensor softmax(const Tensor& x, std::int64_t dim) {
  // The max is a constant shift: detached so its (zero) gradient is not spread over ties.
  const Tensor shifted = sub(x, max(x, {dim}, /*keepdim=*/true).detach());
  const Tensor e = exp(shifted);
  return div(e, sum(e, {dim}, /*keepdim=*/true));
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  const Tensor shifted = sub(x, max(x, {dim}, /*keepdim=*/true).detach());
  return sub(shifted, log(sum(exp(shifted), {dim}, /*keepdim=*/true)));
}

ActivationKind parse_activation(std::string_view name, std::string_view who) {
  if (name == "linear") return ActivationKind::Linear;
  if (name == "relu") return ActivationKind::Relu;
  if (name == "sigmoid") return ActivationKind::Sigmoid;
  if (name == "tanh") return ActivationKind::Tanh;
  if (name == "softmax") return ActivationKind::Softmax;
  PARITY_FAIL(who, ": unknown activation \"", name, "\"; expected linear, relu, sigmoid, tanh or softmax");
}

void check_activation_name(std::string_view name, std::string_view who) { parse_activation(name, who); }

Tensor activation(ActivationKind kind, const Tensor& x) {
  switch (kind) {
    case ActivationKind::Linear:
      return x;
    case ActivationKind::Relu:
      return relu(x);
    case ActivationKind::Sigmoid:
      return sigmoid(x);
    case ActivationKind::Tanh:
      return tanh(x);
    case ActivationKind::Softmax:
      return softmax(x, -1);
  }
  PARITY_INTERNAL_FAIL("activation: unknown ActivationKind ", static_cast<int>(kind));
}

Tensor activation(std::string_view name, const Tensor& x) {
  return activation(parse_activation(name, "activation"), x);
}

Tensor ReLU::forward_impl(const Tensor& x) { return relu(x); }
Shape ReLU::build_impl(const Shape& input_shape, const BuildContext&) { return input_shape; }

Activation::Activation(std::string name)
    : function_(std::move(name)), kind_(parse_activation(function_, "Activation")) {}
Tensor Activation::forward_impl(const Tensor& x) { return activation(kind_, x); }
Shape Activation::build_impl(const Shape& input_shape, const BuildContext&) { return input_shape; }

}  // namespace parity::nn
