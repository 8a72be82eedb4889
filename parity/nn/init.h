// Initializers: Keras' and PyTorch's defaults, drawn from the model's Philox
// generator (BuildContext), on the CPU, in the model's dtype. The same seed
// gives the same weights everywhere; they are not the bits Keras or PyTorch
// would draw (their generators differ): to start from a framework's exact
// weights, load them (Module::load_state_dict, parity/io/npy.h).
#pragma once

#include <cstdint>

#include "parity/nn/module.h"

namespace parity::nn::init {

// fan_in / fan_out as Keras counts them: a Dense kernel [in, out] has (in, out);
// a conv kernel has (in_channels * kh * kw, out_channels * kh * kw).
struct Fans {
  std::int64_t fan_in = 0, fan_out = 0;
};

// Uniform in [low, high).
Tensor uniform(const Shape& shape, double low, double high, const BuildContext& context);
// Keras' glorot_uniform: uniform(+-sqrt(6 / (fan_in + fan_out))).
Tensor glorot_uniform(const Shape& shape, Fans fans, const BuildContext& context);
// PyTorch's kaiming_uniform_(a, mode="fan_in", nonlinearity="leaky_relu"):
// uniform(+-gain * sqrt(3 / fan_in)), gain = sqrt(2 / (1 + a^2)).
Tensor kaiming_uniform(const Shape& shape, std::int64_t fan_in, double a, const BuildContext& context);

// A layer's kernel and bias under the model's Init (BuildOptions::init):
//   Keras:   glorot_uniform kernel, zero bias;
//   PyTorch: kaiming_uniform(a = sqrt(5)) kernel (= uniform(+-1/sqrt(fan_in))),
//            bias uniform(+-1/sqrt(fan_in)) (nn.Linear / nn.Conv2d reset_parameters).
Tensor default_kernel(const Shape& shape, Fans fans, const BuildContext& context);
Tensor default_bias(std::int64_t size, Fans fans, const BuildContext& context);

}  // namespace parity::nn::init
