#include "parity/nn/normalization.h"

#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

LayerNorm::LayerNorm(LayerNormOptions options) : options_(options) {
  PARITY_CHECK(options_.axes >= 1, "LayerNorm: axes must be at least 1, got ", options_.axes);
  PARITY_CHECK(options_.eps >= 0.0, "LayerNorm: eps must be >= 0, got ", options_.eps);
  for (std::int64_t d = -options_.axes; d < 0; ++d) dims_.push_back(d);
}

Shape LayerNorm::build_impl(const Shape& input_shape, const BuildContext& context) {
  const auto axes = static_cast<std::size_t>(options_.axes);
  PARITY_CHECK(input_shape.size() >= axes, "LayerNorm: normalizing the last ", options_.axes,
               " axes needs inputs with at least that many besides the batch, got ", keras_shape(input_shape));
  if (options_.affine) {
    const Shape normalized(input_shape.end() - static_cast<std::ptrdiff_t>(axes), input_shape.end());
    const TensorOptions o{.dtype = context.options.dtype, .device = context.options.device};
    register_parameter("gamma", ones(normalized, o));
    register_parameter("beta", zeros(normalized, o));
  }
  return input_shape;
}

Tensor LayerNorm::forward_impl(const Tensor& x) {
  const Tensor deviation = sub(x, mean(x, dims_, true));
  const Tensor variance = mean(mul(deviation, deviation), dims_, true);
  Tensor y = mul(deviation, rsqrt(add(variance, options_.eps)));
  if (options_.affine) y = add(mul(y, parameter("gamma")), parameter("beta"));
  return y;
}

Dropout::Dropout(DropoutOptions options) : options_(options) {
  PARITY_CHECK(options_.rate >= 0.0 && options_.rate < 1.0, "Dropout: rate must be in [0, 1), got ", options_.rate);
}

Shape Dropout::build_impl(const Shape& input_shape, const BuildContext& context) {
  // Without a seed of its own, one draw of the model's generator: each Dropout
  // layer of a model gets its own stream (and the layers built after it see
  // the generator one step on, as after any layer that draws).
  std::uint64_t seed = 0;
  if (options_.seed) {
    seed = *options_.seed;
  } else {
    const std::uint64_t step = context.generator.next_offset();
    seed = context.generator.seed() ^ (0x9E3779B97F4A7C15ULL * (step + 1));
  }
  generator_ = std::make_unique<Generator>(seed);
  return input_shape;
}

Generator& Dropout::generator() {
  PARITY_CHECK(generator_ != nullptr, "Dropout: build the model first (the generator is made at build)");
  return *generator_;
}

Tensor Dropout::forward_impl(const Tensor& x) {
  if (!is_training() || options_.rate == 0.0) return x;
  const Tensor u = rand(x.shape(), {.dtype = x.dtype(), .device = x.device()}, 0.0, 1.0, &generator());
  const Tensor keep = ge(u, options_.rate).to(x.dtype());
  return mul(mul(x, keep), 1.0 / (1.0 - options_.rate));
}

}  // namespace parity::nn
