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
#include "parity/tensor/macros.h"

namespace parity::optim::kernel {

// What every launch holds: the parameter and its gradient, where the body's
// knobs give way to the tail's, and the step's scalars.
template <class Elementwise, class Scalars>
struct LaunchBase {
  float* p = nullptr;
  const float* g = nullptr;
  std::int64_t n = 0, body_end = 0;
  Elementwise body, tail;
  Scalars s;
  bool cpu_simd = true;  // the CPU may take its AVX2 path (optim::cpu_simd(); the same bits either way)
};

struct AdamLaunch : LaunchBase<AdamElementwise, AdamScalars> {
  float* m = nullptr;
  float* v = nullptr;
  float* vmax = nullptr;  // AMSGrad only
};

struct AdadeltaLaunch : LaunchBase<AdadeltaElementwise, AdadeltaScalars> {
  float* a = nullptr;  // E[g^2]
  float* d = nullptr;  // E[dx^2]
};

struct SgdLaunch : LaunchBase<SgdElementwise, SgdScalars> {
  float* buf = nullptr;  // momentum buffer (null without momentum)
};

// Element i of an update with the knobs k (the launch's body or tail): load,
// the functor, store. The CPU's scalar loop and each CUDA thread run this one
// definition; the float arithmetic flushes subnormals when k.ftz.
template <class A>
PARITY_INLINE void adam_at(const AdamLaunch& l, const AdamElementwise& k, std::int64_t i) {
  float p = l.p[i], m = l.m[i], v = l.v[i];
  float vmax = l.vmax != nullptr ? l.vmax[i] : 0.0f;
  adam_element<A>(k, l.s, p, l.g[i], m, v, vmax);
  l.p[i] = p;
  l.m[i] = m;
  l.v[i] = v;
  if (l.vmax != nullptr) l.vmax[i] = vmax;
}

template <class A>
PARITY_INLINE void adadelta_at(const AdadeltaLaunch& l, const AdadeltaElementwise& k, std::int64_t i) {
  float p = l.p[i], a = l.a[i], d = l.d[i];
  adadelta_element<A>(k, l.s, p, l.g[i], a, d);
  l.p[i] = p;
  l.a[i] = a;
  l.d[i] = d;
}

template <class A>
PARITY_INLINE void sgd_at(const SgdLaunch& l, const SgdElementwise& k, std::int64_t i) {
  float p = l.p[i];
  float buf = l.buf != nullptr ? l.buf[i] : 0.0f;
  sgd_element<A>(k, l.s, p, l.g[i], buf);
  l.p[i] = p;
  if (l.buf != nullptr) l.buf[i] = buf;
}

PARITY_INLINE void update_element(const AdamLaunch& l, const AdamElementwise& k, std::int64_t i) {
  if (k.ftz)
    adam_at<Ftz<ScalarArith>>(l, k, i);
  else
    adam_at<ScalarArith>(l, k, i);
}
PARITY_INLINE void update_element(const AdadeltaLaunch& l, const AdadeltaElementwise& k, std::int64_t i) {
  if (k.ftz)
    adadelta_at<Ftz<ScalarArith>>(l, k, i);
  else
    adadelta_at<ScalarArith>(l, k, i);
}
PARITY_INLINE void update_element(const SgdLaunch& l, const SgdElementwise& k, std::int64_t i) {
  if (k.ftz)
    sgd_at<Ftz<ScalarArith>>(l, k, i);
  else
    sgd_at<ScalarArith>(l, k, i);
}

}  // namespace parity::optim::kernel
