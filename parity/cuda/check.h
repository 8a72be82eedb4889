// Checked CUDA calls (internal to cuda/; includes the CUDA runtime header).
//
// Every CUDA runtime and cuBLAS call in Parity goes through one of these, and
// every kernel launch is followed by PARITY_CUDA_LAUNCH_CHECK(): a failure
// throws parity::Error naming the call, the CUDA error, the file and the line
// (docs/ARCHITECTURE.md, principle 5; ggml's CUDA_CHECK, tiny-cuda-nn's CUDA_CHECK_THROW).
// An allocation failure throws parity::OutOfMemoryError. Destructors and other
// noexcept paths use PARITY_CUDA_CHECK_NOTHROW, which reports and continues.
#pragma once

#include <cuda_runtime.h>

namespace parity::cuda::detail {

[[noreturn]] void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(int status, const char* call, const char* file, int line);
void warn_cuda_error(cudaError_t error, const char* call, const char* file, int line) noexcept;

}  // namespace parity::cuda::detail

#define PARITY_CUDA_CHECK(call)                                                                \
  do {                                                                                         \
    const cudaError_t parity_cuda_error_ = (call);                                             \
    if (parity_cuda_error_ != cudaSuccess) [[unlikely]] {                                      \
      ::parity::cuda::detail::throw_cuda_error(parity_cuda_error_, #call, __FILE__, __LINE__); \
    }                                                                                          \
  } while (0)

// After every kernel launch: a bad configuration or a sticky error from an
// earlier kernel surfaces here, at the launch that saw it.
#define PARITY_CUDA_LAUNCH_CHECK() PARITY_CUDA_CHECK(cudaGetLastError())

#define PARITY_CUBLAS_CHECK(call)                                                                          \
  do {                                                                                                     \
    const auto parity_cublas_status_ = (call);                                                             \
    if (parity_cublas_status_ != 0) [[unlikely]] {                                                         \
      ::parity::cuda::detail::throw_cublas_error(static_cast<int>(parity_cublas_status_), #call, __FILE__, \
                                                 __LINE__);                                                \
    }                                                                                                      \
  } while (0)

// For noexcept paths (destructors, frees): prints the error to stderr once per
// call site kind and goes on. Errors while the process exits (the runtime
// already unloaded) are ignored silently.
#define PARITY_CUDA_CHECK_NOTHROW(call)                                                       \
  do {                                                                                        \
    const cudaError_t parity_cuda_error_ = (call);                                            \
    if (parity_cuda_error_ != cudaSuccess) [[unlikely]] {                                     \
      ::parity::cuda::detail::warn_cuda_error(parity_cuda_error_, #call, __FILE__, __LINE__); \
    }                                                                                         \
  } while (0)
