// Moving weights between frameworks' conventions, as Keras 2 does when it
// loads weights saved by another backend (keras/utils/conv_utils.py
// convert_kernel, keras/engine/topology.py preprocess_weights_for_loading).
//
// A model trained with one image layout and conv mode computes the same
// function in another only with its weights converted:
//   - true convolution (Theano) vs cross-correlation (TensorFlow): the kernel
//     flipped in both spatial dims;
//   - HWIO (Keras/TF) vs OIHW (PyTorch/Theano) kernels: a permutation;
//   - the Dense layer after a Flatten: NHWC flattens (h, w, c), NCHW flattens
//     (c, h, w), so that kernel's rows are permuted.
// Every conversion is a permutation of elements: no rounding.
#pragma once

#include <cstdint>

#include "parity/tensor/conv.h"
#include "parity/tensor/tensor.h"

namespace parity::nn {

// The kernel with both spatial dims reversed (kernel[kh-1-i, kw-1-j]), in its layout.
Tensor flip_kernel(const Tensor& kernel, KernelLayout layout);
// HWIO [kh, kw, in, out] <-> OIHW [out, in, kh, kw].
Tensor hwio_to_oihw(const Tensor& kernel);
Tensor oihw_to_hwio(const Tensor& kernel);
// A Dense kernel [h*w*c, units] whose rows follow an NHWC flatten, reordered
// for an NCHW flatten of the same [h, w, c] feature map, and back.
Tensor dense_rows_nhwc_to_nchw(const Tensor& kernel, std::int64_t h, std::int64_t w, std::int64_t c);
Tensor dense_rows_nchw_to_nhwc(const Tensor& kernel, std::int64_t h, std::int64_t w, std::int64_t c);

}  // namespace parity::nn
