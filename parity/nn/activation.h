// Activation functions (softmax, and the ones layers know by Keras name) and
// activations as layers: ReLU, and Activation by Keras name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parity/nn/module.h"

namespace parity::nn {

// softmax and log_softmax along `dim` (max-subtracted, so large logits are safe).
Tensor softmax(const Tensor& x, std::int64_t dim = -1);
Tensor log_softmax(const Tensor& x, std::int64_t dim = -1);

// The activation functions layers know by name: "linear" (identity), "relu",
// "sigmoid", "tanh", "softmax" (over the last axis).
enum class ActivationKind : std::uint8_t { Linear, Relu, Sigmoid, Tanh, Softmax };

// The function `name` stands for; throws naming `who` for another name. Layers
// parse their option once, when constructed, not on every forward.
ActivationKind parse_activation(std::string_view name, std::string_view who);
Tensor activation(ActivationKind kind, const Tensor& x);
// activation(parse_activation(name, "activation"), x).
Tensor activation(std::string_view name, const Tensor& x);
// Throws naming `who` unless `name` is one of the above.
void check_activation_name(std::string_view name, std::string_view who);

class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;
};

class Activation : public Module {
 public:
  explicit Activation(std::string name);
  std::string type_name() const override { return "Activation"; }
  const std::string& function() const { return function_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  std::string function_;
  ActivationKind kind_;
};

}  // namespace parity::nn
