// Gradient clipping (parity/optim/clip.h).
#include "parity/optim/clip.h"

#include <cmath>
#include <limits>

#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::optim {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  PARITY_CHECK(max_norm >= 0.0, "clip_grad_norm: max_norm is ", max_norm, ": expected a value >= 0");
  const bool inf_norm = std::isinf(norm_type) && norm_type > 0;
  PARITY_CHECK(inf_norm || norm_type >= 1.0, "clip_grad_norm: norm_type is ", norm_type,
               ": expected a value >= 1 or infinity");
  double total = 0.0;  // max |g| (inf_norm) or sum |g|^p
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    const Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    const Tensor g64 = abs(g.to(kFloat64));
    if (inf_norm) {
      if (g64.numel() > 0) total = std::max(total, max(g64).item<double>());
    } else {
      total += sum(norm_type == 2.0 ? mul(g64, g64) : pow(g64, norm_type)).item<double>();
    }
    grads.push_back(g);
  }
  const double norm = inf_norm ? total : (norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type));
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (Tensor& g : grads) g.mul_(coef);
  }
  return norm;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  PARITY_CHECK(clip_value >= 0.0, "clip_grad_value: clip_value is ", clip_value, ": expected a value >= 0");
  for (const Tensor& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

}  // namespace parity::optim
