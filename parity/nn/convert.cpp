#include "parity/nn/convert.h"

#include "parity/autograd/grad_mode.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"

namespace parity::nn {

Tensor flip_kernel(const Tensor& kernel, KernelLayout layout) {
  PARITY_CHECK(kernel.defined() && kernel.dim() == 4, "flip_kernel: expected a 4-D kernel (", layout, "), got ",
               kernel.defined() ? to_string(kernel.shape()) : "an undefined tensor");
  autograd::NoGradGuard no_grad;
  const Tensor k = kernel.detach();
  const std::int64_t dh = layout == KernelLayout::HWIO ? 0 : 2;  // the two spatial dims: dh, dh + 1
  const std::int64_t kh = k.size(dh), kw = k.size(dh + 1);
  Tensor out = empty(k.shape(), {.dtype = k.dtype(), .device = k.device()});
  for (std::int64_t i = 0; i < kh; ++i) {
    for (std::int64_t j = 0; j < kw; ++j) {
      out.select(dh, kh - 1 - i).select(dh, kw - 1 - j).copy_(k.select(dh, i).select(dh, j));
    }
  }
  return out;
}

Tensor hwio_to_oihw(const Tensor& kernel) {
  PARITY_CHECK(kernel.defined() && kernel.dim() == 4, "hwio_to_oihw: expected a 4-D kernel");
  return kernel.detach().permute({3, 2, 0, 1}).contiguous();
}

Tensor oihw_to_hwio(const Tensor& kernel) {
  PARITY_CHECK(kernel.defined() && kernel.dim() == 4, "oihw_to_hwio: expected a 4-D kernel");
  return kernel.detach().permute({2, 3, 1, 0}).contiguous();
}

namespace {
void check_dense(const char* op, const Tensor& kernel, std::int64_t h, std::int64_t w, std::int64_t c) {
  PARITY_CHECK(kernel.defined() && kernel.dim() == 2 && kernel.size(0) == h * w * c, op,
               ": expected a Dense kernel of ", h * w * c, " rows (", h, "x", w, "x", c, " features), got ",
               kernel.defined() ? to_string(kernel.shape()) : "an undefined tensor");
}
}  // namespace

Tensor dense_rows_nhwc_to_nchw(const Tensor& kernel, std::int64_t h, std::int64_t w, std::int64_t c) {
  check_dense("dense_rows_nhwc_to_nchw", kernel, h, w, c);
  const std::int64_t units = kernel.size(1);
  return kernel.detach().reshape({h, w, c, units}).permute({2, 0, 1, 3}).contiguous().reshape({h * w * c, units});
}

Tensor dense_rows_nchw_to_nhwc(const Tensor& kernel, std::int64_t h, std::int64_t w, std::int64_t c) {
  check_dense("dense_rows_nchw_to_nhwc", kernel, h, w, c);
  const std::int64_t units = kernel.size(1);
  return kernel.detach().reshape({c, h, w, units}).permute({1, 2, 0, 3}).contiguous().reshape({h * w * c, units});
}

}  // namespace parity::nn
