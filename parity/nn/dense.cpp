#include "parity/nn/dense.h"

#include "parity/nn/activation.h"
#include "parity/nn/init.h"
#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

Dense::Dense(DenseOptions options) : options_(std::move(options)) {
  PARITY_CHECK(options_.units >= 1, "Dense: units must be at least 1, got ", options_.units);
  activation_ = parse_activation(options_.activation, "Dense");
}

Shape Dense::build_impl(const Shape& input_shape, const BuildContext& context) {
  PARITY_CHECK(!input_shape.empty() && input_shape.back() >= 1, "Dense: expected inputs with a feature axis ",
               "(batch, ..., features), got ", keras_shape(input_shape));
  const std::int64_t in = input_shape.back();
  const init::Fans fans{in, options_.units};
  register_parameter("kernel", init::default_kernel({in, options_.units}, fans, context));
  if (options_.use_bias) register_parameter("bias", init::default_bias(options_.units, fans, context));
  Shape out = input_shape;
  out.back() = options_.units;
  return out;
}

Tensor Dense::forward_impl(const Tensor& x) {
  Tensor y = matmul(x, parameter("kernel"));
  if (options_.use_bias) y = add(y, parameter("bias"));
  return activation(activation_, y);
}

}  // namespace parity::nn
