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

// Runs body(k, begin, end) over [begin, end) split at the launch's body_end.
template <class Launch, class Fn>
void for_parts(const Launch& l, std::int64_t begin, std::int64_t end, const Fn& fn) {
  const std::int64_t cut = std::min(std::max(l.body_end, begin), end);
  if (begin < cut) fn(l.body, begin, cut);
  if (cut < end) fn(l.tail, cut, end);
}

// The scalar loop over [begin, end) with one set of knobs.
template <class Launch, class Knobs>
void scalar_loop(const Launch& l, const Knobs& k, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) update_element(l, k, i);
}

// Fixed chunks in parallel; each part of a chunk through avx2 when it may, else the scalar loop.
template <class Launch, class Avx2>
void run(const Launch& l, Avx2 avx2) {
  const bool simd = l.cpu_simd && cpu_has_avx2_fma();
  parallel_for(l.n, kGrain, [&](std::int64_t begin, std::int64_t end) {
    for_parts(l, begin, end, [&](const auto& k, std::int64_t b, std::int64_t e) {
      if (simd && avx2(l, k, b, e)) return;
      scalar_loop(l, k, b, e);
    });
  });
}

}  // namespace

void CpuBackend::adam_update(const AdamLaunch& l) { run(l, adam_avx2); }
void CpuBackend::adadelta_update(const AdadeltaLaunch& l) { run(l, adadelta_avx2); }
void CpuBackend::sgd_update(const SgdLaunch& l) { run(l, sgd_avx2); }

}  // namespace parity::cpu
