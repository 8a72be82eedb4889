// Helpers shared by the optimizers (internal to optim/).
#pragma once

#include <cstdint>
#include <type_traits>

#include "parity/optim/numerics.h"
#include "parity/tensor/device.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/tensor.h"

namespace parity::optim::detail {

// A contiguous working copy of a tensor the kernels write: the tensor itself
// when it is contiguous, else a contiguous clone that finish() copies back.
class Writable {
 public:
  explicit Writable(const Tensor& t) : orig_(t), work_(t.is_contiguous() ? t : t.contiguous()) {}
  const Tensor& tensor() const { return work_; }
  float* data() const { return work_.data<float>(); }
  void finish() const {
    if (work_.is_same(orig_)) return;
    Tensor dst = orig_;
    dst.copy_(work_);
  }

 private:
  Tensor orig_, work_;
};

// Where the split of a position-dependent preset falls in a tensor of n elements.
inline std::int64_t body_end(std::int64_t n, int vec_width) { return vec_width > 0 ? n - n % vec_width : n; }

// The state tensor `key` of a parameter, created as zeros of its shape on its device.
inline Tensor zeros_like_param(const Tensor& param) {
  return zeros(param.shape(), {.dtype = kFloat32, .device = param.device()});
}

// Runs a fused update on the parameter's device: cpu(launch), or cuda(launch)
// where the build has the CUDA backend (PARITY_OPTIM_CUDA_KERNEL names the
// kernel there and is null elsewhere, where it does not exist to link).
template <typename Launch>
void run_fused(const char* optimizer, Device device, const Launch& launch,
               std::type_identity_t<void (*)(const Launch&)> cpu,
               std::type_identity_t<void (*)(const Launch&)> cuda) {
  if (device.is_cpu()) {
    cpu(launch);
    return;
  }
  PARITY_CHECK(cuda != nullptr, optimizer, ": a ", device, " parameter, but this build has no CUDA backend");
  cuda(launch);
}

}  // namespace parity::optim::detail

#if PARITY_WITH_CUDA
#define PARITY_OPTIM_CUDA_KERNEL(kernel) (kernel)
#else
#define PARITY_OPTIM_CUDA_KERNEL(kernel) nullptr
#endif
