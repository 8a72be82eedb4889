// CPU matmul through CBLAS (OpenBLAS), one GEMM call per batch index; under
// MathMode::TF32 on copies of the operands rounded to TF32 (Note [TF32 on the CPU]).
#include <cblas.h>

#include <cstdio>
#include <mutex>

#include "parity/cpu/blas.h"
#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/tf32.h"
#include "parity/tensor/error.h"

namespace parity::cpu {

std::string blas_core() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "";
}

namespace detail {

void warn_once_if_generic_blas_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string core = blas_core();
    if (core != "Prescott" || !__builtin_cpu_supports("avx2")) return;
    const char* best = __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell";
    std::fprintf(stderr,
                 "parity: warning: OpenBLAS runs its generic Prescott kernels on this CPU, which has AVX2%s: it "
                 "does not know the CPU's model. Matmul and im2col convolutions run several times slower and round "
                 "differently from its %s kernels; set OPENBLAS_CORETYPE=%s before the program starts "
                 "(docs/NUMERICS.md, \"The CPU's GEMM kernels\")\n",
                 __builtin_cpu_supports("avx512f") ? " and AVX-512" : "", best, best);
  });
}

}  // namespace detail

void CpuBackend::gemm(const GemmArgs& g) {
  detail::warn_once_if_generic_blas_kernels();
  std::int64_t batch = 1;
  for (int d = 0; d < g.batch_ndim; ++d) batch *= g.batch_shape[d];
  const auto ta = g.trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = g.trans_b ? CblasTrans : CblasNoTrans;
  const std::int64_t esize = g.dtype == kFloat32 ? 4 : 8;
  for (std::int64_t b = 0; b < batch; ++b) {
    std::int64_t oa = 0, ob = 0, oc = 0, rest = b;
    for (int d = g.batch_ndim - 1; d >= 0; --d) {
      const std::int64_t i = rest % g.batch_shape[d];
      rest /= g.batch_shape[d];
      oa += i * g.batch_stride_a[d];
      ob += i * g.batch_stride_b[d];
      oc += i * g.batch_stride_c[d];
    }
    const char* a = static_cast<const char*>(g.a) + oa * esize;
    const char* bm = static_cast<const char*>(g.b) + ob * esize;
    char* c = static_cast<char*>(g.c) + oc * esize;
    if (g.dtype == kFloat32 && g.math_mode == MathMode::TF32) {  // Note [TF32 on the CPU]
      const std::int64_t ra = g.trans_a ? g.k : g.m, ca = g.trans_a ? g.m : g.k;
      const std::int64_t rb = g.trans_b ? g.n : g.k, cb = g.trans_b ? g.k : g.n;
      const Tf32Copy ta32(reinterpret_cast<const float*>(a), ra, ca, g.lda);
      const Tf32Copy tb32(reinterpret_cast<const float*>(bm), rb, cb, g.ldb);
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, 1.0f, ta32.get(), ca, tb32.get(), cb, 0.0f,
                  reinterpret_cast<float*>(c), g.ldc);
    } else if (g.dtype == kFloat32) {
      cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, 1.0f, reinterpret_cast<const float*>(a), g.lda,
                  reinterpret_cast<const float*>(bm), g.ldb, 0.0f, reinterpret_cast<float*>(c), g.ldc);
    } else if (g.dtype == kFloat64) {
      cblas_dgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, 1.0, reinterpret_cast<const double*>(a), g.lda,
                  reinterpret_cast<const double*>(bm), g.ldb, 0.0, reinterpret_cast<double*>(c), g.ldc);
    } else {
      PARITY_FAIL("gemm: unsupported dtype ", g.dtype);
    }
  }
}

}  // namespace parity::cpu
