// PLACEHOLDER (being written by the cudnn helper): CUDA pooling.
#include "cuda/cuda_backend.h"
#include "tensor/error.h"
namespace parity::cuda {
void CudaBackend::pool2d_forward(const Pool2dArgs&, const void*, void*) { PARITY_FAIL("pool2d: cuDNN path not written yet"); }
void CudaBackend::pool2d_backward(const Pool2dArgs&, const void*, const void*, const void*, void*) { PARITY_FAIL("pool2d: cuDNN path not written yet"); }
}  // namespace parity::cuda
