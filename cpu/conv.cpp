// PLACEHOLDER (being written by the cpu-conv helper): CPU convolution.
#include "cpu/cpu_backend.h"
#include "tensor/error.h"
namespace parity::cpu {
void CpuBackend::conv2d_forward(const Conv2dArgs&, const void*, const void*, const void*, void*) { PARITY_FAIL("conv2d: CPU kernel not written yet"); }
void CpuBackend::conv2d_backward_input(const Conv2dArgs&, const void*, const void*, void*) { PARITY_FAIL("conv2d: CPU kernel not written yet"); }
void CpuBackend::conv2d_backward_weight(const Conv2dArgs&, const void*, const void*, void*) { PARITY_FAIL("conv2d: CPU kernel not written yet"); }
void CpuBackend::conv2d_backward_bias(const Conv2dArgs&, const void*, void*) { PARITY_FAIL("conv2d: CPU kernel not written yet"); }
}  // namespace parity::cpu
