// cuBLAS's functions as Parity calls them, each opening libcublas.so on first
// use (Note [CUDA libraries load on first use], lazy_library.h). The names are
// the exported ones (cublas_v2.h maps cublasCreate to cublasCreate_v2); the
// prototypes are cublas_api.h's: a mismatch is a compile error.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <string>

#include "parity/cuda/lazy_library.h"
#include "parity/cuda/lazy_stub.h"

namespace parity::cuda::detail {

namespace {

std::string cublas_built_version() {
  return std::to_string(CUBLAS_VER_MAJOR) + "." + std::to_string(CUBLAS_VER_MINOR) + "." +
         std::to_string(CUBLAS_VER_PATCH);
}

// cuBLAS keeps its ABI within a major version: the loaded one must share the
// headers' major version.
std::string check_cublas_version(void* handle) {
  using GetProperty = cublasStatus_t (*)(libraryPropertyType, int*);
  const auto get_property = reinterpret_cast<GetProperty>(dlsym(handle, "cublasGetProperty"));
  if (get_property == nullptr) return "it has no cublasGetProperty";
  int major = -1, minor = -1, patch = -1;
  if (get_property(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      get_property(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      get_property(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS) {
    return "cublasGetProperty failed";
  }
  if (major == CUBLAS_VER_MAJOR) return "";
  return "version " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch) +
         " was loaded";
}

}  // namespace

LazyLibrary& cublas_library() {
  static LazyLibrary library("cuBLAS", "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR),
                             std::to_string(CUBLAS_VER_MAJOR) + ".x (built with " + cublas_built_version() + ")",
                             cuda_library_fallback_dirs(), check_cublas_version);
  return library;
}

}  // namespace parity::cuda::detail

// clang-format off
PARITY_LAZY_FUNCTION(cublas, cublasStatus_t, cublasCreate_v2, (cublasHandle_t* handle), (handle))
PARITY_LAZY_FUNCTION(cublas, cublasStatus_t, cublasGemmEx, (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B, cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo), (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo))
PARITY_LAZY_FUNCTION(cublas, cublasStatus_t, cublasGemmStridedBatchedEx, (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda, long long int strideA, const void* B, cudaDataType Btype, int ldb, long long int strideB, const void* beta, void* C, cudaDataType Ctype, int ldc, long long int strideC, int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo), (handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo))
PARITY_LAZY_FUNCTION(cublas, const char*, cublasGetStatusName, (cublasStatus_t status), (status))
PARITY_LAZY_FUNCTION(cublas, const char*, cublasGetStatusString, (cublasStatus_t status), (status))
PARITY_LAZY_FUNCTION(cublas, cublasStatus_t, cublasSetPointerMode_v2, (cublasHandle_t handle, cublasPointerMode_t mode), (handle, mode))
PARITY_LAZY_FUNCTION(cublas, cublasStatus_t, cublasSetStream_v2, (cublasHandle_t handle, cudaStream_t streamId), (handle, streamId))
PARITY_LAZY_FUNCTION(cublas, cublasStatus_t, cublasSetWorkspace_v2, (cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes), (handle, workspace, workspaceSizeInBytes))
// clang-format on
