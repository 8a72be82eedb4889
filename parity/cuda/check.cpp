// The error paths of parity/cuda/check.h: what a failed CUDA or cuBLAS call throws.
#include "parity/cuda/check.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "parity/tensor/error.h"

namespace parity::cuda::detail {

namespace {

std::string location(const char* file, int line) {
  const char* rel = std::strstr(file, "/cuda/");
  return std::string(rel ? rel + 1 : file) + ":" + std::to_string(line);
}

std::string describe(cudaError_t error, const char* call) {
  return std::string("CUDA error: ") + cudaGetErrorString(error) + " (" + cudaGetErrorName(error) + ", " +
         std::to_string(static_cast<int>(error)) + ") in " + call;
}

}  // namespace

void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  // Allocation failures are not sticky: clear the runtime's last error so the
  // next launch check does not report this one again.
  if (error == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw OutOfMemoryError(describe(error, call) + " (" + location(file, line) + ")");
  }
  throw Error(describe(error, call) + " (" + location(file, line) + ")");
}

void warn_cuda_error(cudaError_t error, const char* call, const char* file, int line) noexcept {
  // At exit the runtime may be torn down before the last tensors are freed.
  if (error == cudaErrorCudartUnloading || error == cudaErrorContextIsDestroyed) {
    (void)cudaGetLastError();
    return;
  }
  static std::atomic<int> reported{0};
  if (reported.fetch_add(1) < 8) {
    std::fprintf(stderr, "parity: warning: %s (%s)\n", describe(error, call).c_str(),
                 location(file, line).c_str());
  }
  (void)cudaGetLastError();
}

}  // namespace parity::cuda::detail
