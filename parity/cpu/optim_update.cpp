// The CPU backend's fused optimizer updates (Backend::adam_update, ...): one
// pass over param, grad and state.
//
// Each tensor is split into fixed chunks (parity/cpu/parallel.h); a chunk runs the
// AVX2 path (parity/cpu/optim_update_avx2.cpp) when the CPU has AVX2 and FMA, else
// the scalar loop below. Both instantiate the same functor of parity/optim/update.h
// with correctly rounded operations only, so they give the same bits
// (Note [One formula, two backends]); chunking cannot change results either,
// because the update is elementwise.
#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/optim_update_avx2.h"
#include "parity/cpu/parallel.h"
#include "parity/optim/launch.h"
#include "parity/tensor/cpu_features.h"

namespace parity::cpu {

using namespace optim;
using namespace optim::kernel;

namespace {

// Grain of the parallel loop: large enough that a chunk streams a few hundred KiB.
constexpr std::int64_t kGrain = std::int64_t{1} << 16;

template <class Launch>
bool use_simd(const Launch& l) {
  return l.cpu_simd && cpu_has_avx2_fma();
}

// Runs body(k, begin, end) over [begin, end) split at the launch's body_end.
template <class Launch, class Fn>
void for_parts(const Launch& l, std::int64_t begin, std::int64_t end, const Fn& fn) {
  const std::int64_t cut = std::min(std::max(l.body_end, begin), end);
  if (begin < cut) fn(l.body, begin, cut);
  if (cut < end) fn(l.tail, cut, end);
}

template <class A>
void adam_scalar(const AdamLaunch& l, const AdamElementwise& k, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) {
    float p = l.p[i], m = l.m[i], v = l.v[i];
    float vmax = l.vmax != nullptr ? l.vmax[i] : 0.0f;
    adam_element<A>(k, l.s, p, l.g[i], m, v, vmax);
    l.p[i] = p;
    l.m[i] = m;
    l.v[i] = v;
    if (l.vmax != nullptr) l.vmax[i] = vmax;
  }
}

template <class A>
void adadelta_scalar(const AdadeltaLaunch& l, const AdadeltaElementwise& k, std::int64_t begin,
                     std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) {
    float p = l.p[i], a = l.a[i], d = l.d[i];
    adadelta_element<A>(k, l.s, p, l.g[i], a, d);
    l.p[i] = p;
    l.a[i] = a;
    l.d[i] = d;
  }
}

template <class A>
void sgd_scalar(const SgdLaunch& l, const SgdElementwise& k, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) {
    float p = l.p[i];
    float buf = l.buf != nullptr ? l.buf[i] : 0.0f;
    sgd_element<A>(k, l.s, p, l.g[i], buf);
    l.p[i] = p;
    if (l.buf != nullptr) l.buf[i] = buf;
  }
}

}  // namespace

void CpuBackend::adam_update(const AdamLaunch& l) {
  const bool simd = use_simd(l);
  parallel_for(l.n, kGrain, [&](std::int64_t begin, std::int64_t end) {
    for_parts(l, begin, end, [&](const AdamElementwise& k, std::int64_t b, std::int64_t e) {
      if (simd && adam_avx2(l, k, b, e)) return;
      if (k.ftz)
        adam_scalar<Ftz<ScalarArith>>(l, k, b, e);
      else
        adam_scalar<ScalarArith>(l, k, b, e);
    });
  });
}

void CpuBackend::adadelta_update(const AdadeltaLaunch& l) {
  const bool simd = use_simd(l);
  parallel_for(l.n, kGrain, [&](std::int64_t begin, std::int64_t end) {
    for_parts(l, begin, end, [&](const AdadeltaElementwise& k, std::int64_t b, std::int64_t e) {
      if (simd && adadelta_avx2(l, k, b, e)) return;
      if (k.ftz)
        adadelta_scalar<Ftz<ScalarArith>>(l, k, b, e);
      else
        adadelta_scalar<ScalarArith>(l, k, b, e);
    });
  });
}

void CpuBackend::sgd_update(const SgdLaunch& l) {
  const bool simd = use_simd(l);
  parallel_for(l.n, kGrain, [&](std::int64_t begin, std::int64_t end) {
    for_parts(l, begin, end, [&](const SgdElementwise& k, std::int64_t b, std::int64_t e) {
      if (simd && sgd_avx2(l, k, b, e)) return;
      if (k.ftz)
        sgd_scalar<Ftz<ScalarArith>>(l, k, b, e);
      else
        sgd_scalar<ScalarArith>(l, k, b, e);
    });
  });
}

}  // namespace parity::cpu
