// The fused optimizer kernels: one pass over a parameter, its gradient and its
// state per step, on the CPU (parity/optim/cpu_kernels.cpp, with an AVX2 fast path in
// parity/optim/cpu_kernels_avx2.cpp) and on CUDA (parity/optim/cuda_kernels.cu), all running
// the functors of parity/optim/update.h.
//
// A launch covers one contiguous float32 tensor of n elements. Elements before
// body_end use the `body` knobs, the rest the `tail` knobs (position split,
// AdamNumerics::vec_width); body_end = n when the preset has no split.
#pragma once

#include <cstdint>

#include "parity/optim/update.h"

namespace parity::optim::kernel {

struct AdamLaunch {
  float* p = nullptr;
  const float* g = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  float* vmax = nullptr;  // AMSGrad only
  std::int64_t n = 0, body_end = 0;
  AdamElementwise body, tail;
  AdamScalars s;
};

struct AdadeltaLaunch {
  float* p = nullptr;
  const float* g = nullptr;
  float* a = nullptr;  // E[g^2]
  float* d = nullptr;  // E[dx^2]
  std::int64_t n = 0, body_end = 0;
  AdadeltaElementwise body, tail;
  AdadeltaScalars s;
};

struct SgdLaunch {
  float* p = nullptr;
  const float* g = nullptr;
  float* buf = nullptr;  // momentum buffer (null without momentum)
  std::int64_t n = 0, body_end = 0;
  SgdElementwise body, tail;
  SgdScalars s;
};

// CPU: parallel over fixed chunks (parity/cpu/parallel.h); elementwise, so the result
// does not depend on the thread count or on the SIMD path.
void adam_cpu(const AdamLaunch& launch);
void adadelta_cpu(const AdadeltaLaunch& launch);
void sgd_cpu(const SgdLaunch& launch);

// CUDA: enqueued on the current stream of the tensor's device (defined only in
// builds with the CUDA backend).
void adam_cuda(const AdamLaunch& launch);
void adadelta_cuda(const AdadeltaLaunch& launch);
void sgd_cuda(const SgdLaunch& launch);

// The CPU's 8-lane AVX2+FMA path (parity/optim/cpu_kernels_avx2.cpp) over [begin, end)
// with one set of knobs. Return false when the build or the CPU lacks AVX2/FMA.
bool adam_avx2(const AdamLaunch& launch, const AdamElementwise& k, std::int64_t begin, std::int64_t end);
bool adadelta_avx2(const AdadeltaLaunch& launch, const AdadeltaElementwise& k, std::int64_t begin,
                   std::int64_t end);
bool sgd_avx2(const SgdLaunch& launch, const SgdElementwise& k, std::int64_t begin, std::int64_t end);
bool avx2_available();
bool avx512f_available();  // selects XLA's CPU forms (RsqrtMode::XlaCpu)

}  // namespace parity::optim::kernel

namespace parity::optim {
// Whether the CPU kernels may take their AVX2 path (default true; a test switch:
// both paths give the same bits, and the tests show it).
void set_cpu_simd(bool enabled);
bool cpu_simd();
}  // namespace parity::optim
