// LayerNorm and Dropout: the layers a model adds after its first dense stack.
//
// LayerNorm normalizes each sample over its last `axes` dimensions:
// y = (x - mean) * rsqrt(var + eps) * gamma + beta, var the population
// variance (PyTorch's nn.LayerNorm and Keras' LayerNormalization compute
// this function; the rounding of this form is PyTorch's, not checked against
// a trace of either). eps defaults to PyTorch's 1e-5; Keras' is 1e-3.
//
// Dropout zeroes each element with probability `rate` while training and
// scales the rest by 1 / (1 - rate); in eval() it is the identity. Its mask
// comes from its own Philox generator: uniform draws keyed by element index
// and by the call (each training forward advances it), so a CPU and a GPU
// model with the same seed drop the same elements.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "parity/nn/module.h"
#include "parity/tensor/generator.h"

namespace parity::nn {

struct LayerNormOptions {
  std::int64_t axes = 1;   // the trailing dimensions normalized together (PyTorch's normalized_shape's length)
  double eps = 1e-5;       // PyTorch's default; Keras' LayerNormalization uses 1e-3
  bool affine = true;      // learnable gamma (ones) and beta (zeros) of the normalized shape
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(LayerNormOptions options = {});
  std::string type_name() const override { return "LayerNormalization"; }
  const LayerNormOptions& options() const { return options_; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  LayerNormOptions options_;
  std::vector<std::int64_t> dims_;  // -axes .. -1
};

struct DropoutOptions {
  double rate = 0.5;                   // Keras' name; PyTorch's p. In [0, 1).
  std::optional<std::uint64_t> seed;  // unset: drawn from the model's generator at build
};

class Dropout : public Module {
 public:
  explicit Dropout(DropoutOptions options = {});
  std::string type_name() const override { return "Dropout"; }
  const DropoutOptions& options() const { return options_; }
  // The mask generator's position (one step per training forward), e.g. to
  // checkpoint and resume it.
  Generator& generator();

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  DropoutOptions options_;
  std::unique_ptr<Generator> generator_;
};

}  // namespace parity::nn
