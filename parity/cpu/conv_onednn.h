// CPU 2-D convolution through oneDNN (Debian's libdnnl, the library PyTorch's
// CPU convolutions run on): float32, every layout, kernel layout, conv mode,
// stride, dilation and padding that conv2d accepts. parity/cpu/conv.cpp calls it when
// the context selects CpuConvAlgorithm::OneDnn (the default where Parity is
// built with oneDNN); float64, which oneDNN does not compute, stays on
// im2col + GEMM (cpu_conv_algorithm_used() says which ran).
//
// Note [oneDNN convolution]:
// - The bias is not passed to oneDNN: parity/cpu/conv.cpp adds it after the sums, as
//   the im2col path, TensorFlow's BiasAdd and cuDNN do; its gradient is the
//   fixed-order float64 sum of parity/cpu/conv.cpp. oneDNN computes the three sums.
// - oneDNN computes cross-correlation; ConvMode::Convolution runs on a
//   spatially flipped copy of the kernel (and flips the weight gradient back).
// - Layouts: with NHWC activations, the forward and the weight gradient run
//   oneDNN's kernels for NHWC itself (the layout PyTorch's channels_last asks
//   for), and the input gradient runs on oneDNN's blocked layout (format_tag::any),
//   reordered from and to NHWC. Measured on the seed's second layer (Intel Xeon
//   model 207, 2 threads, bench_conv): the weight gradient 1.6x faster in NHWC
//   at batch 8 and 1.1x at batch 64 than blocked plus reorders, the forward 1.1x;
//   the input gradient's blocked kernel 1.5x faster than its NHWC one at
//   batch 64 (23 ms against 35 ms), though slower at batch 8. Weights, and
//   NCHW activations, go in the layout oneDNN chooses, reordered where they differ.
// - Primitives are cached per (direction, shape, layouts); creating one costs
//   more than running a small one.
// - Determinism: oneDNN's jit kernels split work by a rule of the shape and the
//   OpenMP thread count, and reduce the weight gradient in a fixed order: the
//   same bits run to run at a fixed thread count (tests/test_conv.cpp). With
//   another thread count the weight gradient's sums may be split differently.
#pragma once

#include <string>

#include "parity/tensor/backend.h"

namespace parity::cpu::onednn {

// y = conv(x, w), without the bias.
void conv2d_forward(const Conv2dArgs& args, const float* x, const float* w, float* y);
void conv2d_backward_input(const Conv2dArgs& args, const float* dy, const float* w, float* dx);
void conv2d_backward_weight(const Conv2dArgs& args, const float* x, const float* dy, float* dw);

// "oneDNN 2.6.3 (cpu_isa ...)": the library's version and the kernel it runs
// for a forward pass of `args`.
std::string implementation(const Conv2dArgs& args);

}  // namespace parity::cpu::onednn
