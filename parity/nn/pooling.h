// Pooling layers: MaxPool2D and AveragePool2D (parity/tensor/pool.h), in the model's
// image layout. Strides default to the pool size, as in Keras.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "parity/nn/module.h"
#include "parity/tensor/pool.h"

namespace parity::nn {

struct Pool2DOptions {
  std::array<std::int64_t, 2> pool{2, 2};
  std::optional<std::array<std::int64_t, 2>> strides;
  Padding padding = Padding::valid();
  bool count_include_pad = false;  // average pooling: false as Keras, true as PyTorch's default
};

class Pool2D : public Module {
 public:
  Pool2D(PoolKind kind, Pool2DOptions options);
  std::string type_name() const override { return kind_ == PoolKind::Max ? "MaxPooling2D" : "AveragePooling2D"; }
  const Pool2DOptions& options() const { return options_; }
  Pool2dOptions pool_options(Layout layout) const;

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  PoolKind kind_;
  Pool2DOptions options_;
};

class MaxPool2D : public Pool2D {
 public:
  explicit MaxPool2D(Pool2DOptions options = {}) : Pool2D(PoolKind::Max, options) {}
};

class AveragePool2D : public Pool2D {
 public:
  explicit AveragePool2D(Pool2DOptions options = {}) : Pool2D(PoolKind::Average, options) {}
};

}  // namespace parity::nn
