// 2-D convolution: the op, its options and its gradient ops.
//
// conv2d(x, weight, bias, options) computes, for each output pixel (i, j) and
// output channel o,
//   y[n, i, j, o] = bias[o] + sum over (p, q, c) of
//                   x[n, i*sh + p*dh - pad_top, j*sw + q*dw - pad_left, c] * k[p', q', c, o]
// with k[p', q'] = k[p, q] for cross-correlation (TensorFlow, PyTorch, cuDNN's
// default) and k[kh-1-p, kw-1-q] for true convolution (Theano's conv2d flips
// the kernel). Which of the two a backend computed changes the forward pass
// itself: weights saved by one and loaded into the other give a different
// model unless the kernel is flipped on the way (Note [Conv mode] in docs/NN.md).
//
// Images are NHWC or NCHW; kernels HWIO (Keras: [kh, kw, in, out]) or OIHW
// (PyTorch: [out, in, kh, kw]); any combination is accepted. The CPU computes
// it through oneDNN (parity/cpu/conv_onednn.h) or as im2col + GEMM (parity/cpu/conv.cpp),
// as the context's CpuConvAlgorithm selects; CUDA through cuDNN (parity/cuda/conv.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "parity/tensor/context.h"
#include "parity/tensor/tensor.h"
#include "parity/tensor/window.h"

namespace parity {

enum class KernelLayout : std::uint8_t {
  HWIO,  // Keras / TensorFlow: [kh, kw, in_channels, out_channels]
  OIHW,  // PyTorch / cuDNN: [out_channels, in_channels, kh, kw]
};

enum class ConvMode : std::uint8_t {
  CrossCorrelation,  // TensorFlow, PyTorch, cuDNN's default
  Convolution,       // the kernel flipped in both spatial dims, as Theano computes
};

constexpr std::string_view name(KernelLayout layout) { return layout == KernelLayout::HWIO ? "HWIO" : "OIHW"; }
constexpr std::string_view name(ConvMode mode) {
  return mode == ConvMode::CrossCorrelation ? "cross_correlation" : "convolution";
}
inline std::ostream& operator<<(std::ostream& out, KernelLayout layout) { return out << name(layout); }
inline std::ostream& operator<<(std::ostream& out, ConvMode mode) { return out << name(mode); }

struct Conv2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};
  Padding padding = Padding::valid();
  std::array<std::int64_t, 2> dilation{1, 1};
  Layout layout = Layout::NHWC;
  KernelLayout kernel_layout = KernelLayout::HWIO;
  ConvMode mode = ConvMode::CrossCorrelation;
};

// y = conv(x, weight) + bias. x: 4-D in options.layout; weight: 4-D in
// options.kernel_layout; bias: [out_channels] or undefined. Floating dtypes,
// one device. Differentiable in all three.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

// The output's shape for these operands (validates like conv2d, computes nothing).
Shape conv2d_output_shape(const Shape& x_shape, const Shape& weight_shape, const Conv2dOptions& options = {});

// The algorithm the CPU backend computes a conv2d of `dtype` with, under the
// current setting (parity/tensor/context.h): OneDnn only for float32 in a build with
// oneDNN, Im2colGemm otherwise.
CpuConvAlgorithm cpu_conv_algorithm_used(DType dtype);

// The gradient ops conv2d's backward is made of (they record nothing).
// dL/dx for an input of x_shape, from dL/dy and the weight.
Tensor conv2d_backward_input(const Tensor& grad_output, const Tensor& weight, const Shape& x_shape,
                             const Conv2dOptions& options = {});
// dL/dweight for a weight of weight_shape, from the input and dL/dy.
Tensor conv2d_backward_weight(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape,
                              const Conv2dOptions& options = {});
// dL/dbias: dL/dy summed over batch and pixels.
Tensor conv2d_backward_bias(const Tensor& grad_output, Layout layout);

}  // namespace parity
