// Helpers shared by the optimizers (internal to optim/).
#pragma once

#include <cstdint>

#include "parity/optim/launch.h"
#include "parity/optim/numerics.h"
#include "parity/optim/optimizer.h"
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

// A launch of one parameter's fused update, its common part filled in (the
// caller adds the optimizer's state).
template <class Launch, class Elementwise, class Scalars>
Launch launch_for(const Writable& p, const Tensor& g, std::int64_t body_end, const Elementwise& body,
                  const Elementwise& tail, const Scalars& s) {
  Launch l;
  l.p = p.data();
  l.g = g.data<float>();
  l.n = g.numel();
  l.body_end = body_end;
  l.body = body;
  l.tail = tail;
  l.s = s;
  l.cpu_simd = cpu_simd();
  return l;
}

// The state tensor `key` of a parameter, created as zeros of its shape on its device.
inline Tensor zeros_like_param(const Tensor& param) {
  return zeros(param.shape(), {.dtype = kFloat32, .device = param.device()});
}

}  // namespace parity::optim::detail
