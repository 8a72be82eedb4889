// PLACEHOLDER (being written by the cpu-conv helper): CPU pooling.
#include "cpu/cpu_backend.h"
#include "tensor/error.h"
namespace parity::cpu {
void CpuBackend::pool2d_forward(const Pool2dArgs&, const void*, void*) { PARITY_FAIL("pool2d: CPU kernel not written yet"); }
void CpuBackend::pool2d_backward(const Pool2dArgs&, const void*, const void*, const void*, void*) { PARITY_FAIL("pool2d: CPU kernel not written yet"); }
}  // namespace parity::cpu
