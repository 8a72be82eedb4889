// The fused optimizer updates as the backends receive them: one pass over a
// parameter, its gradient and its state per step, dispatched through the
// Backend interface (Backend::adam_update, adadelta_update, sgd_update) and run
// by each backend's own loop: parity/cpu/optim_update.cpp (cpu::parallel_for,
// with an AVX2 path in parity/cpu/optim_update_avx2.cpp) and
// parity/cuda/optim_update.cu (cuda::launch_indexed). Both run the functors of
// parity/optim/update.h (Note [One formula, two backends]).
//
// This header, update.h and numerics.h are the optimizers' math: header-only,
// including nothing of parity/ but the tensor layer, and so visible to the
// backends (cmake/ParityLayers.cmake gives the backends these three files of
// optim/, not the folder).
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
  bool cpu_simd = true;  // the CPU may take its AVX2 path (optim::cpu_simd(); the same bits either way)
};

struct AdadeltaLaunch {
  float* p = nullptr;
  const float* g = nullptr;
  float* a = nullptr;  // E[g^2]
  float* d = nullptr;  // E[dx^2]
  std::int64_t n = 0, body_end = 0;
  AdadeltaElementwise body, tail;
  AdadeltaScalars s;
  bool cpu_simd = true;
};

struct SgdLaunch {
  float* p = nullptr;
  const float* g = nullptr;
  float* buf = nullptr;  // momentum buffer (null without momentum)
  std::int64_t n = 0, body_end = 0;
  SgdElementwise body, tail;
  SgdScalars s;
  bool cpu_simd = true;
};

}  // namespace parity::optim::kernel
