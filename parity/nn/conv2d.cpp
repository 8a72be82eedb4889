#include "parity/nn/conv2d.h"

#include "parity/nn/activation.h"
#include "parity/nn/init.h"
#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

Conv2D::Conv2D(Conv2DOptions options) : options_(std::move(options)) {
  PARITY_CHECK(options_.filters >= 1, "Conv2D: filters must be at least 1, got ", options_.filters);
  PARITY_CHECK(options_.kernel[0] >= 1 && options_.kernel[1] >= 1, "Conv2D: the kernel must be at least 1x1, got ",
               options_.kernel[0], "x", options_.kernel[1]);
  activation_ = parse_activation(options_.activation, "Conv2D");
}

Conv2dOptions Conv2D::conv_options_for(const BuildOptions& model) const {
  return {.stride = options_.strides,
          .padding = options_.padding,
          .dilation = options_.dilation,
          .layout = model.layout,
          .kernel_layout = model.layout == Layout::NHWC ? KernelLayout::HWIO : KernelLayout::OIHW,
          .mode = options_.mode.value_or(model.conv_mode)};
}

Conv2dOptions Conv2D::conv_options() const { return conv_options_for(build_options()); }

Shape Conv2D::build_impl(const Shape& input_shape, const BuildContext& context) {
  const bool nhwc = context.options.layout == Layout::NHWC;
  PARITY_CHECK(input_shape.size() == 3, "Conv2D: expected ", nhwc ? "(height, width, channels)" : "(channels, height, width)",
               " per sample (", context.options.layout, " model), got input ", keras_shape(input_shape));
  const std::int64_t in = nhwc ? input_shape[2] : input_shape[0];
  const auto [kh, kw] = options_.kernel;
  const Shape kernel_shape = nhwc ? Shape{kh, kw, in, options_.filters} : Shape{options_.filters, in, kh, kw};
  // The output shape (and every shape error) comes from the op's own rules.
  Shape batch_shape{1};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  const Shape out = conv2d_output_shape(batch_shape, kernel_shape, conv_options_for(context.options));
  const init::Fans fans{in * kh * kw, options_.filters * kh * kw};
  register_parameter("kernel", init::default_kernel(kernel_shape, fans, context));
  if (options_.use_bias) register_parameter("bias", init::default_bias(options_.filters, fans, context));
  return Shape(out.begin() + 1, out.end());
}

Tensor Conv2D::forward_impl(const Tensor& x) {
  const Tensor bias = options_.use_bias ? parameter("bias") : Tensor();
  return activation(activation_, conv2d(x, parameter("kernel"), bias, conv_options()));
}

}  // namespace parity::nn
