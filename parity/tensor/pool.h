// 2-D max and average pooling: the ops, their options and their gradient ops.
//
// Note [Max-pool ties]: when several elements of a window equal its maximum,
// the CPU gives the whole gradient to the first of them in row-major window
// order (top row first, left to right), as TensorFlow's CPU kernel and
// PyTorch do. cuDNN's deterministic max pooling (CUDNN_POOLING_MAX_DETERMINISTIC)
// picks one element per window too, but which one is cuDNN's; ties are where
// CPU and CUDA gradients may differ. (Theano's MaxPoolGrad gives the gradient
// to every tied element.) Padding never wins: padded positions are -infinity.
//
// Average pooling divides by the number of input elements in the window
// (count_include_pad = false: TensorFlow and Keras) or by the full window size
// (true: PyTorch's default).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "parity/tensor/tensor.h"
#include "parity/tensor/window.h"

namespace parity {

enum class PoolKind : std::uint8_t { Max, Average };
constexpr std::string_view name(PoolKind kind) { return kind == PoolKind::Max ? "max" : "average"; }
inline std::ostream& operator<<(std::ostream& out, PoolKind kind) { return out << name(kind); }

struct Pool2dOptions {
  std::array<std::int64_t, 2> pool{2, 2};
  std::optional<std::array<std::int64_t, 2>> stride;  // the pool size when not given (Keras, PyTorch)
  Padding padding = Padding::valid();
  Layout layout = Layout::NHWC;
  bool count_include_pad = false;  // average pooling only
};

// x: 4-D in options.layout, floating. Differentiable.
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options = {});
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options = {});
Tensor pool2d(PoolKind kind, const Tensor& x, const Pool2dOptions& options = {});

// The output's shape for an input of x_shape (validates, computes nothing).
Shape pool2d_output_shape(const Shape& x_shape, const Pool2dOptions& options = {});

// dL/dx from dL/dy (records nothing). Max pooling reads the forward's input
// and output; average pooling reads neither (pass undefined tensors).
Tensor pool2d_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& grad_output,
                       const Shape& x_shape, const Pool2dOptions& options = {});

}  // namespace parity
