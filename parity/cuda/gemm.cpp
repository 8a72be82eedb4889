// CUDA matmul through cuBLAS.
//
// Row-major to column-major: a row-major [r, c] matrix with leading dimension
// ld is, to cuBLAS, the column-major [c, r] matrix with the same ld, i.e. its
// transpose. So C = op(A) op(B) in row-major is computed as the column-major
// C^T = op(B)^T op(A)^T: cuBLAS gets (B, A) swapped, m and n swapped, and each
// operand's transpose flag as given.
//
// Batches: dims of the batch that are uniformly strided for A, B and C alike are
// merged; the innermost merged dim becomes one cublasGemmStridedBatchedEx call
// (stride 0 broadcasts an operand), and any remaining outer dims are looped over.
//
// Math: MathMode::StrictFP32 (parity/tensor/context.h) computes float32 products with
// CUBLAS_COMPUTE_32F (no TF32); MathMode::TF32 with
// CUBLAS_COMPUTE_32F_FAST_TF32; float64 with CUBLAS_COMPUTE_64F.
//
// Determinism: one handle per device, bound to the calling thread's current
// stream, with a fixed workspace of its own per (device, stream) set through
// cublasSetWorkspace, so cuBLAS never picks a different internal buffer
// between calls; cuBLAS is then bit-for-bit reproducible on one GPU model
// (cuBLAS docs, "Results reproducibility"). cublasSetStream resets the
// workspace, so the workspace is set again after every stream change.
#include <cublas_v2.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/cuda/cuda_backend.h"
#include "parity/tensor/context.h"
#include "parity/tensor/error.h"

namespace parity::cuda {

namespace detail {

void throw_cublas_error(int status, const char* call, const char* file, int line) {
  const char* rel = std::strstr(file, "/cuda/");
  const auto s = static_cast<cublasStatus_t>(status);
  throw Error(std::string("cuBLAS error: ") + cublasGetStatusString(s) + " (" + cublasGetStatusName(s) +
              ", " + std::to_string(status) + ") in " + call + " (" + (rel ? rel + 1 : file) + ":" +
              std::to_string(line) + ")");
}

}  // namespace detail

namespace {

// 32 MiB: cuBLAS' recommendation for Hopper (its default workspace there).
constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;

struct DeviceBlas {
  std::mutex mutex;
  cublasHandle_t handle = nullptr;
  cudaStream_t bound_stream = nullptr;
  bool bound = false;
  std::map<cudaStream_t, void*> workspaces;  // per stream; freed when a created stream is destroyed
};

void release_stream(int device, cudaStream_t stream);

DeviceBlas& device_blas(int device) {
  static std::array<DeviceBlas, kMaxDevices>* all = [] {
    add_stream_release_hook(release_stream);
    return new std::array<DeviceBlas, kMaxDevices>;
  }();
  return (*all)[static_cast<std::size_t>(device)];
}

// A destroyed stream's workspace goes back to the driver; the handle is bound
// again at its next use.
void release_stream(int device, cudaStream_t stream) {
  DeviceBlas& blas = device_blas(device);
  std::lock_guard lock(blas.mutex);
  const auto it = blas.workspaces.find(stream);
  if (it == blas.workspaces.end()) return;
  if (blas.bound && blas.bound_stream == stream) blas.bound = false;
  PARITY_CUDA_CHECK_NOTHROW(cudaFree(it->second));
  blas.workspaces.erase(it);
}

// Binds the device's handle to `stream` with that stream's workspace. Caller holds blas.mutex.
cublasHandle_t bind(DeviceBlas& blas, cudaStream_t stream) {
  if (blas.handle == nullptr) {
    PARITY_CUBLAS_CHECK(cublasCreate(&blas.handle));
    PARITY_CUBLAS_CHECK(cublasSetPointerMode(blas.handle, CUBLAS_POINTER_MODE_HOST));
  }
  if (!blas.bound || blas.bound_stream != stream) {
    void*& workspace = blas.workspaces[stream];
    if (workspace == nullptr) PARITY_CUDA_CHECK(cudaMalloc(&workspace, kWorkspaceBytes));
    PARITY_CUBLAS_CHECK(cublasSetStream(blas.handle, stream));
    PARITY_CUBLAS_CHECK(cublasSetWorkspace(blas.handle, workspace, kWorkspaceBytes));
    blas.bound_stream = stream;
    blas.bound = true;
  }
  return blas.handle;
}

int checked_int(std::int64_t v, const char* what) {
  PARITY_CHECK(v >= 0 && v <= INT_MAX, "matmul: ", what, " = ", v, " exceeds cuBLAS' 32-bit limit");
  return static_cast<int>(v);
}

struct BatchDim {
  std::int64_t size, sa, sb, sc;
};

}  // namespace

void CudaBackend::gemm(const GemmArgs& g) {
  PARITY_INTERNAL_ASSERT(g.dtype == kFloat32 || g.dtype == kFloat64, "gemm: unsupported dtype ", g.dtype);
  const int device = device_of(g.c);
  DeviceGuard guard(device);
  cudaStream_t stream = stream_for(device);

  // Merge the batch dims that are uniformly strided in all three operands.
  std::vector<BatchDim> dims;
  for (int d = 0; d < g.batch_ndim; ++d) {
    if (g.batch_shape[d] == 1) continue;
    const BatchDim cur{g.batch_shape[d], g.batch_stride_a[d], g.batch_stride_b[d], g.batch_stride_c[d]};
    if (!dims.empty()) {
      BatchDim& prev = dims.back();
      if (prev.sa == cur.sa * cur.size && prev.sb == cur.sb * cur.size && prev.sc == cur.sc * cur.size) {
        prev = {prev.size * cur.size, cur.sa, cur.sb, cur.sc};
        continue;
      }
    }
    dims.push_back(cur);
  }
  const BatchDim inner = dims.empty() ? BatchDim{1, 0, 0, 0} : dims.back();
  if (!dims.empty()) dims.pop_back();
  std::int64_t outer_count = 1;
  for (const BatchDim& d : dims) outer_count *= d.size;

  const int m = checked_int(g.m, "m"), n = checked_int(g.n, "n"), k = checked_int(g.k, "k");
  const int lda = checked_int(g.lda, "lda"), ldb = checked_int(g.ldb, "ldb"), ldc = checked_int(g.ldc, "ldc");
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const bool f32 = g.dtype == kFloat32;
  const cudaDataType_t type = f32 ? CUDA_R_32F : CUDA_R_64F;
  const cublasComputeType_t compute =
      f32 ? (g.math_mode == MathMode::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F)
          : CUBLAS_COMPUTE_64F;
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const void* alpha = f32 ? static_cast<const void*>(&alpha_f) : static_cast<const void*>(&alpha_d);
  const void* beta = f32 ? static_cast<const void*>(&beta_f) : static_cast<const void*>(&beta_d);
  const std::size_t esize = f32 ? 4 : 8;
  // cuBLAS runs a strided batch as a grid dimension: keep each call's count in range.
  constexpr std::int64_t kMaxBatch = 65535;

  DeviceBlas& blas = device_blas(device);
  std::lock_guard lock(blas.mutex);
  cublasHandle_t handle = bind(blas, stream);

  for (std::int64_t ob = 0; ob < outer_count; ++ob) {
    std::int64_t oa = 0, obb = 0, oc = 0, rest = ob;
    for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
      const std::int64_t i = rest % dims[d].size;
      rest /= dims[d].size;
      oa += i * dims[d].sa;
      obb += i * dims[d].sb;
      oc += i * dims[d].sc;
    }
    for (std::int64_t b0 = 0; b0 < inner.size; b0 += kMaxBatch) {
      const int count = static_cast<int>(std::min(kMaxBatch, inner.size - b0));
      const char* a = static_cast<const char*>(g.a) + (oa + b0 * inner.sa) * esize;
      const char* b = static_cast<const char*>(g.b) + (obb + b0 * inner.sb) * esize;
      char* c = static_cast<char*>(g.c) + (oc + b0 * inner.sc) * esize;
      if (count == 1) {
        PARITY_CUBLAS_CHECK(cublasGemmEx(handle, op_b, op_a, n, m, k, alpha, b, type, ldb, a, type, lda, beta,
                                         c, type, ldc, compute, CUBLAS_GEMM_DEFAULT));
      } else {
        PARITY_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, n, m, k, alpha, b, type, ldb,
                                                       inner.sb, a, type, lda, inner.sa, beta, c, type, ldc,
                                                       inner.sc, count, compute, CUBLAS_GEMM_DEFAULT));
      }
    }
  }
}

}  // namespace parity::cuda
