// PLACEHOLDER (being written by the cudnn helper): CUDA convolution.
#include "cuda/cuda_backend.h"
#include "tensor/error.h"
namespace parity::cuda {
void CudaBackend::conv2d_forward(const Conv2dArgs&, const void*, const void*, const void*, void*) { PARITY_FAIL("conv2d: cuDNN path not written yet"); }
void CudaBackend::conv2d_backward_input(const Conv2dArgs&, const void*, const void*, void*) { PARITY_FAIL("conv2d: cuDNN path not written yet"); }
void CudaBackend::conv2d_backward_weight(const Conv2dArgs&, const void*, const void*, void*) { PARITY_FAIL("conv2d: cuDNN path not written yet"); }
void CudaBackend::conv2d_backward_bias(const Conv2dArgs&, const void*, void*) { PARITY_FAIL("conv2d: cuDNN path not written yet"); }
}  // namespace parity::cuda
