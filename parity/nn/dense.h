// Dense: y = activation(x @ kernel + bias), over the last axis of x.
// The kernel is [in_features, units] (Keras' layout; PyTorch's nn.Linear
// stores its transpose, [out, in]).
#pragma once

#include <cstdint>
#include <string>

#include "parity/nn/activation.h"
#include "parity/nn/module.h"

namespace parity::nn {

struct DenseOptions {
  std::int64_t units = 0;
  bool use_bias = true;
  std::string activation = "linear";
};

class Dense : public Module {
 public:
  explicit Dense(DenseOptions options);
  std::string type_name() const override { return "Dense"; }
  const DenseOptions& options() const { return options_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  DenseOptions options_;
  ActivationKind activation_ = ActivationKind::Linear;  // options_.activation, parsed once
};

}  // namespace parity::nn
