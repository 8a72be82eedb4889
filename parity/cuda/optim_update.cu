// The CUDA backend's fused optimizer updates (Backend::adam_update, ...): one
// grid-stride pass over param, grad and state (cuda::launch_indexed), each
// thread running the float instantiation of the functors of
// parity/optim/update.h (Note [One formula, two backends]): the same rounded
// operations as the CPU (rn:: maps to __fadd_rn, __fmul_rn, __fdiv_rn,
// __fsqrt_rn, __fmaf_rn; the CUDA sources are compiled with --fmad=false), so
// a CUDA step gives the CPU's bits for every preset whose knobs it can run.
// The hardware rsqrt estimate of RsqrtMode::EigenAvx* has no CUDA counterpart;
// the optimizers refuse it on a CUDA tensor before launching.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/optim/launch.h"

namespace parity::cuda {

using namespace optim;
using namespace optim::kernel;

namespace {

// Element i of each update, with the knobs of its part (body or tail).
struct AdamAt {
  AdamLaunch l;
  template <class A>
  __device__ __forceinline__ void run(const AdamElementwise& k, std::int64_t i) const {
    float p = l.p[i], m = l.m[i], v = l.v[i];
    float vmax = l.vmax != nullptr ? l.vmax[i] : 0.0f;
    adam_element<A>(k, l.s, p, l.g[i], m, v, vmax);
    l.p[i] = p;
    l.m[i] = m;
    l.v[i] = v;
    if (l.vmax != nullptr) l.vmax[i] = vmax;
  }
  __device__ void operator()(std::int64_t i) const {
    const AdamElementwise& k = i < l.body_end ? l.body : l.tail;
    if (k.ftz)
      run<Ftz<ScalarArith>>(k, i);
    else
      run<ScalarArith>(k, i);
  }
};

struct AdadeltaAt {
  AdadeltaLaunch l;
  template <class A>
  __device__ __forceinline__ void run(const AdadeltaElementwise& k, std::int64_t i) const {
    float p = l.p[i], a = l.a[i], d = l.d[i];
    adadelta_element<A>(k, l.s, p, l.g[i], a, d);
    l.p[i] = p;
    l.a[i] = a;
    l.d[i] = d;
  }
  __device__ void operator()(std::int64_t i) const {
    const AdadeltaElementwise& k = i < l.body_end ? l.body : l.tail;
    if (k.ftz)
      run<Ftz<ScalarArith>>(k, i);
    else
      run<ScalarArith>(k, i);
  }
};

struct SgdAt {
  SgdLaunch l;
  template <class A>
  __device__ __forceinline__ void run(const SgdElementwise& k, std::int64_t i) const {
    float p = l.p[i];
    float buf = l.buf != nullptr ? l.buf[i] : 0.0f;
    sgd_element<A>(k, l.s, p, l.g[i], buf);
    l.p[i] = p;
    if (l.buf != nullptr) l.buf[i] = buf;
  }
  __device__ void operator()(std::int64_t i) const {
    const SgdElementwise& k = i < l.body_end ? l.body : l.tail;
    if (k.ftz)
      run<Ftz<ScalarArith>>(k, i);
    else
      run<ScalarArith>(k, i);
  }
};

// On the device owning the parameter (an empty one has no pointer to ask).
template <class At>
void launch(const At& at) {
  if (at.l.n == 0) return;
  launch_indexed(device_of(at.l.p), at.l.n, at);
}

}  // namespace

void CudaBackend::adam_update(const AdamLaunch& l) { launch(AdamAt{l}); }
void CudaBackend::adadelta_update(const AdadeltaLaunch& l) { launch(AdadeltaAt{l}); }
void CudaBackend::sgd_update(const SgdLaunch& l) { launch(SgdAt{l}); }

}  // namespace parity::cuda
