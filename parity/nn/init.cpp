#include "parity/nn/init.h"

#include <cmath>

#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"

namespace parity::nn::init {

Tensor uniform(const Shape& shape, double low, double high, const BuildContext& context) {
  return rand(shape, {.dtype = context.options.dtype, .device = Device::cpu()}, low, high, &context.generator);
}

Tensor glorot_uniform(const Shape& shape, Fans fans, const BuildContext& context) {
  PARITY_CHECK(fans.fan_in + fans.fan_out > 0, "glorot_uniform: fans must not both be 0 (shape ", to_string(shape), ")");
  const double limit = std::sqrt(6.0 / static_cast<double>(fans.fan_in + fans.fan_out));
  return uniform(shape, -limit, limit, context);
}

Tensor kaiming_uniform(const Shape& shape, std::int64_t fan_in, double a, const BuildContext& context) {
  PARITY_CHECK(fan_in > 0, "kaiming_uniform: fan_in must be positive (shape ", to_string(shape), ")");
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in));
  return uniform(shape, -bound, bound, context);
}

Tensor default_kernel(const Shape& shape, Fans fans, const BuildContext& context) {
  if (context.options.init == Init::Keras) return glorot_uniform(shape, fans, context);
  return kaiming_uniform(shape, fans.fan_in, std::sqrt(5.0), context);
}

Tensor default_bias(std::int64_t size, Fans fans, const BuildContext& context) {
  if (context.options.init == Init::Keras) {
    return zeros({size}, {.dtype = context.options.dtype, .device = Device::cpu()});
  }
  const double bound = 1.0 / std::sqrt(static_cast<double>(fans.fan_in));
  return uniform({size}, -bound, bound, context);
}

}  // namespace parity::nn::init
