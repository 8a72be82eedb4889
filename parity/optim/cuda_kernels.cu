// The fused optimizer step on CUDA: one grid-stride pass over param, grad and
// state, each thread running the float instantiation of the functors of
// parity/optim/update.h (Note [One formula, two backends]): the same rounded
// operations as the CPU (rn:: maps to __fadd_rn, __fmul_rn, __fdiv_rn,
// __fsqrt_rn, __fmaf_rn; this file is compiled with --fmad=false), so a CUDA step
// gives the CPU's bits for every preset whose knobs it can run. The hardware
// rsqrt estimate of RsqrtMode::EigenAvx* has no CUDA counterpart; the
// optimizers refuse it on a CUDA tensor before launching.
#include <cuda_runtime.h>

#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/optim/kernels.h"

namespace parity::optim::kernel {

namespace {

constexpr int kThreads = 256;

template <class A>
__device__ __forceinline__ void adam_at(const AdamLaunch& l, const AdamElementwise& k, std::int64_t i) {
  float p = l.p[i], m = l.m[i], v = l.v[i];
  float vmax = l.vmax != nullptr ? l.vmax[i] : 0.0f;
  adam_element<A>(k, l.s, p, l.g[i], m, v, vmax);
  l.p[i] = p;
  l.m[i] = m;
  l.v[i] = v;
  if (l.vmax != nullptr) l.vmax[i] = vmax;
}

__global__ void __launch_bounds__(kThreads) adam_kernel(AdamLaunch l) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < l.n; i += step) {
    const AdamElementwise& k = i < l.body_end ? l.body : l.tail;
    if (k.ftz)
      adam_at<Ftz<ScalarArith>>(l, k, i);
    else
      adam_at<ScalarArith>(l, k, i);
  }
}

template <class A>
__device__ __forceinline__ void adadelta_at(const AdadeltaLaunch& l, const AdadeltaElementwise& k,
                                            std::int64_t i) {
  float p = l.p[i], a = l.a[i], d = l.d[i];
  adadelta_element<A>(k, l.s, p, l.g[i], a, d);
  l.p[i] = p;
  l.a[i] = a;
  l.d[i] = d;
}

__global__ void __launch_bounds__(kThreads) adadelta_kernel(AdadeltaLaunch l) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < l.n; i += step) {
    const AdadeltaElementwise& k = i < l.body_end ? l.body : l.tail;
    if (k.ftz)
      adadelta_at<Ftz<ScalarArith>>(l, k, i);
    else
      adadelta_at<ScalarArith>(l, k, i);
  }
}

template <class A>
__device__ __forceinline__ void sgd_at(const SgdLaunch& l, const SgdElementwise& k, std::int64_t i) {
  float p = l.p[i];
  float buf = l.buf != nullptr ? l.buf[i] : 0.0f;
  sgd_element<A>(k, l.s, p, l.g[i], buf);
  l.p[i] = p;
  if (l.buf != nullptr) l.buf[i] = buf;
}

__global__ void __launch_bounds__(kThreads) sgd_kernel(SgdLaunch l) {
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < l.n; i += step) {
    const SgdElementwise& k = i < l.body_end ? l.body : l.tail;
    if (k.ftz)
      sgd_at<Ftz<ScalarArith>>(l, k, i);
    else
      sgd_at<ScalarArith>(l, k, i);
  }
}

template <class Launch, class Kernel>
void launch(const Launch& l, Kernel kernel) {
  if (l.n == 0) return;
  const int device = cuda::device_of(l.p);
  cuda::DeviceGuard guard(device);
  const unsigned grid = cuda::grid_for(device, l.n, kThreads);
  kernel<<<grid, kThreads, 0, cuda::stream_for(device)>>>(l);
  PARITY_CUDA_LAUNCH_CHECK();
}

}  // namespace

void adam_cuda(const AdamLaunch& l) { launch(l, adam_kernel); }
void adadelta_cuda(const AdadeltaLaunch& l) { launch(l, adadelta_kernel); }
void sgd_cuda(const SgdLaunch& l) { launch(l, sgd_kernel); }

}  // namespace parity::optim::kernel
