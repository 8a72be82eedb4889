#include "parity/nn/activation.h"

#include "parity/nn/losses.h"
#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

void check_activation_name(std::string_view name, std::string_view who) {
  PARITY_CHECK(name == "linear" || name == "relu" || name == "sigmoid" || name == "tanh" || name == "softmax", who,
               ": unknown activation \"", name, "\"; expected linear, relu, sigmoid, tanh or softmax");
}

Tensor activation(std::string_view name, const Tensor& x) {
  if (name == "linear") return x;
  if (name == "relu") return relu(x);
  if (name == "sigmoid") return sigmoid(x);
  if (name == "tanh") return tanh(x);
  if (name == "softmax") return softmax(x, -1);
  check_activation_name(name, "activation");
  return x;  // unreachable: the check throws
}

Tensor ReLU::forward_impl(const Tensor& x) { return relu(x); }
Shape ReLU::build_impl(const Shape& input_shape, const BuildContext&) { return input_shape; }

Activation::Activation(std::string name) : function_(std::move(name)) {
  check_activation_name(function_, "Activation");
}
Tensor Activation::forward_impl(const Tensor& x) { return activation(function_, x); }
Shape Activation::build_impl(const Shape& input_shape, const BuildContext&) { return input_shape; }

}  // namespace parity::nn
