// Gradient clipping before an optimizer step, as torch.nn.utils names it:
// clip_grad_norm scales every gradient together so that their joint norm is at
// most max_norm; clip_grad_value clamps each gradient element into
// [-clip_value, clip_value]. Parameters without a gradient are skipped. Both
// work in place on the gradients, on any device.
#pragma once

#include <vector>

#include "parity/tensor/tensor.h"

namespace parity::optim {

// The joint norm of the gradients (the p-norm of all their elements together,
// p = norm_type >= 1, or infinity for the largest |element|), accumulated in
// float64. When it exceeds max_norm, each gradient is multiplied by
// max_norm / (norm + 1e-6), PyTorch's clip coefficient, rounded to the
// gradient's dtype. Returns the norm before clipping (NaN or infinity when a
// gradient holds one: the gradients are then left as they are and the caller
// decides, where PyTorch's error_if_nonfinite=false would scale them by NaN).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Each gradient element clamped into [-clip_value, clip_value] (clip_value >= 0).
void clip_grad_value(const std::vector<Tensor>& params, double clip_value);

}  // namespace parity::optim
