// Conv2D: y = activation(conv2d(x, kernel) + bias) (parity/tensor/conv.h).
// The kernel's layout follows the model's image layout: HWIO
// [kh, kw, in, filters] for NHWC models (Keras), OIHW [filters, in, kh, kw]
// for NCHW models (PyTorch). The conv mode is the model's
// (BuildOptions::conv_mode) unless the layer sets its own.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "parity/nn/activation.h"
#include "parity/nn/module.h"

namespace parity::nn {

struct Conv2DOptions {
  std::int64_t filters = 0;
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> strides{1, 1};
  Padding padding = Padding::valid();  // "valid", "same" or Padding::explicit_pads(...)
  std::array<std::int64_t, 2> dilation{1, 1};
  bool use_bias = true;
  std::string activation = "linear";
  std::optional<ConvMode> mode;  // the model's conv_mode when not set
};

class Conv2D : public Module {
 public:
  explicit Conv2D(Conv2DOptions options);
  std::string type_name() const override { return "Conv2D"; }
  const Conv2DOptions& options() const { return options_; }
  // The tensor-level options this layer runs conv2d with (valid once built).
  Conv2dOptions conv_options() const;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  Conv2DOptions options_;
  ActivationKind activation_ = ActivationKind::Linear;  // options_.activation, parsed once
  // The tensor-level options for a model built with `model` (the mode only
  // changes which op runs, not the output shape build_impl asks for).
  Conv2dOptions conv_options_for(const BuildOptions& model) const;
};

}  // namespace parity::nn
