// Hooks on gradients as they flow, as PyTorch's Tensor.register_hook and
// register_post_accumulate_grad_hook:
//
//   auto handle = autograd::register_hook(h, [](const Tensor& g) { return mul(g, 0.5); });
//   loss.backward();   // h's gradient is halved before it flows on
//   handle.remove();
//
// A gradient hook sees the tensor's whole gradient (summed over every use)
// once per backward pass, and may replace it by returning a tensor of the same
// shape, dtype and device (an undefined return keeps it). On a non-leaf the
// replacement is what flows on into its grad_fn; on a leaf it is what is
// accumulated into .grad (and what autograd::grad returns for it). Hooks run
// in the order registered, with grad mode off. A post-accumulate hook runs on
// a leaf after its .grad was updated (an optimizer step fused into backward).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "parity/tensor/tensor.h"

namespace parity::autograd {

using GradHook = std::function<Tensor(const Tensor& grad)>;
using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

// Removes its hook; a no-op once removed or when what held the hook is gone.
class HookHandle {
 public:
  HookHandle() = default;
  explicit HookHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  void remove() {
    if (!remover_) return;
    const std::function<void()> remover = std::move(remover_);
    remover_ = nullptr;
    remover();
  }

 private:
  std::function<void()> remover_;
};

// t must require grad. On a non-leaf the hook belongs to the graph that made
// t (it lives as long as t's grad_fn does).
HookHandle register_hook(const Tensor& t, GradHook hook);
// leaf must be a leaf that requires grad.
HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);

}  // namespace parity::autograd
