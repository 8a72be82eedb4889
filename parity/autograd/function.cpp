// Custom functions: the node that runs a user's backward.
#include "parity/autograd/function.h"

#include <cxxabi.h>

#include <cstdlib>

#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"

namespace parity::autograd {

struct FunctionAccess {
  static std::vector<SavedTensor>& saved(FunctionCtx& ctx) { return ctx.saved_; }
  static std::string& name(FunctionCtx& ctx) { return ctx.name_; }
  static std::vector<bool>& needs(FunctionCtx& ctx) { return ctx.needs_input_grad_; }
  static std::vector<Tensor>& unpacked(FunctionCtx& ctx) { return ctx.unpacked_; }
};

void FunctionCtx::save_for_backward(const std::vector<Tensor>& tensors) {
  saved_.clear();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    saved_.emplace_back(tensors[i], SavedTensor::Role::Custom, static_cast<int>(i));
  }
}

const std::vector<Tensor>& FunctionCtx::saved_tensors() const {
  unpacked_.resize(saved_.size());  // never shrinks or moves while backward may hold references into it
  for (std::size_t i = 0; i < saved_.size(); ++i) unpacked_[i] = saved_[i].defined() ? saved_[i].unpack(name_) : Tensor();
  return unpacked_;
}

namespace {

class CustomNode final : public Node {
 public:
  CustomNode(std::shared_ptr<FunctionCtx> ctx, BackwardFn backward)
      : ctx_(std::move(ctx)), backward_(std::move(backward)) {}

  std::string name() const override { return ctx_->name(); }

  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    for (std::size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) {
        const InputMeta& m = output_meta_[i];
        grads[i] = zeros(m.shape, {.dtype = m.dtype, .device = m.device});
      }
    }
    std::vector<Tensor> result = backward_(*ctx_, grads);
    FunctionAccess::unpacked(*ctx_).clear();  // an unpacked output would hold this node: no cycle
    PARITY_CHECK(result.size() == next_edges_.size(), "backward of custom function ", name(), ": returned ",
                 result.size(), " gradients, expected ", next_edges_.size(),
                 " (one per Tensor argument of forward, undefined for none)");
    for (std::size_t i = 0; i < result.size(); ++i) {
      if (!needs_input_grad(i)) result[i] = Tensor();
    }
    return result;
  }

  void release_saved() override {
    FunctionAccess::saved(*ctx_).clear();
    FunctionAccess::unpacked(*ctx_).clear();
    ctx_->saved_data.clear();
  }

  std::vector<InputMeta> output_meta_;

 private:
  std::shared_ptr<FunctionCtx> ctx_;
  BackwardFn backward_;
};

}  // namespace

namespace detail {

namespace {
thread_local std::vector<AuditedCall>* current_audit = nullptr;
}  // namespace

std::vector<AuditedCall>* audit_log() { return current_audit; }

AuditScope::AuditScope() : previous_(current_audit) { current_audit = &calls; }

AuditScope::~AuditScope() { current_audit = previous_; }

std::string demangle(const char* name) {
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && readable != nullptr ? readable : name;
  std::free(readable);
  return out;
}

void prepare_function(FunctionCtx& ctx, std::string name, const std::vector<Tensor>& inputs) {
  FunctionAccess::name(ctx) = std::move(name);
  std::vector<bool>& needs = FunctionAccess::needs(ctx);
  needs.clear();
  const bool recording = GradMode::is_enabled();
  for (const Tensor& t : inputs) needs.push_back(recording && t.defined() && t.requires_grad());
}

void attach_function(std::shared_ptr<FunctionCtx> ctx, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>& outputs, BackwardFn backward) {
  bool any = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) any = any || ctx->needs_input_grad(i);
  if (!any) {
    ctx->saved_data.clear();
    FunctionAccess::saved(*ctx).clear();
    return;
  }
  auto node = make_node<CustomNode>(ctx, std::move(backward));
  for (const Tensor& input : inputs) {
    if (input.defined())
      add_input(*node, input);
    else {
      node->next_edges_.push_back({});
      node->input_meta_.push_back({});
    }
  }
  node->num_outputs_ = static_cast<std::uint32_t>(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Tensor& out = outputs[i];
    PARITY_CHECK(out.defined(), "custom function ", ctx->name(),
                 ": forward returned an undefined tensor (output ", i, ")");
    node->output_meta_.push_back({out.shape(), out.dtype(), out.device()});
    if (!is_floating(out.dtype())) continue;  // not differentiable: no history
    // Never rewrite the history of a tensor the caller holds: an output that is
    // an input (or already has a history) becomes an alias of it.
    bool held = out.requires_grad() || meta_or_null(out) != nullptr;
    const Tensor* viewed = nullptr;  // an input whose storage the output shares
    for (const Tensor& input : inputs) {
      held = held || out.is_same(input);
      if (input.defined() && input.storage() == out.storage()) viewed = &input;
    }
    if (held) out = alias(out);
    set_history(out, node, static_cast<std::uint32_t>(i));
    if (viewed != nullptr) {  // in-place ops on it are refused like on any view (Note [In-place and views])
      AutogradMeta& m = meta(out);
      m.is_view = true;
      m.base = viewed->impl_ptr();
    }
  }
}

}  // namespace detail
}  // namespace parity::autograd
