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

// Element i of an update, with the knobs of its part (body or tail).
template <class Launch>
struct UpdateAt {
  Launch l;
  __device__ void operator()(std::int64_t i) const { update_element(l, i < l.body_end ? l.body : l.tail, i); }
};

// On the device owning the parameter (an empty one has no pointer to ask).
template <class Launch>
void launch(const Launch& l) {
  if (l.n == 0) return;
  launch_indexed(device_of(l.p), l.n, UpdateAt<Launch>{l});
}

}  // namespace

void CudaBackend::adam_update(const AdamLaunch& l) { launch(l); }
void CudaBackend::adadelta_update(const AdadeltaLaunch& l) { launch(l); }
void CudaBackend::sgd_update(const SgdLaunch& l) { launch(l); }

}  // namespace parity::cuda
