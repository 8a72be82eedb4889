// Recording: what the tensor layer's hook calls (parity/tensor/autograd_hook.h).
//
// record(): after an op ran on inputs one of which requires grad, and grad
// mode is on, attach a tape node to its output (parity/autograd/derivatives.cpp makes
// it). inplace(): before an in-place op that touches a tensor requiring grad.
//
// Note [In-place and views]: an in-place op under recording is supported when
// autograd can give the modified tensor a correct new history:
//  - a leaf that requires grad: refused (PyTorch's "a leaf Variable that
//    requires grad is being used in an in-place operation"); an optimizer step
//    runs under NoGradGuard, where in-place ops are plain writes.
//  - a non-leaf: the op is computed out of place from the tensor's current value
//    (a clone of it when the formula reads it), written back into its storage,
//    and the tensor's grad_fn becomes the new node ("rebase"). Tensors that
//    saved the old value detect the write through the version counter.
//  - a tensor that needs no grad, modified with one that does (acc.add_(w)):
//    the same, when no other tensor shares its storage.
//  - views: a view recorded from a tensor that requires grad, or a tensor with
//    live recorded views, is refused: the other side's history would go stale
//    (PyTorch rewrites it; Parity says so instead of computing a wrong gradient).
#include <algorithm>
#include <string>

#include "parity/autograd/derivatives.h"
#include "parity/autograd/grad_mode.h"
#include "parity/autograd/node.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::autograd {

using autograd_hook::InplaceKind;
using autograd_hook::InplaceRecord;
using autograd_hook::OpKind;
using autograd_hook::OpRecord;

namespace {

constexpr bool is_view_kind(OpKind kind) {
  switch (kind) {
    case OpKind::Reshape:
    case OpKind::Permute:
    case OpKind::Transpose:
    case OpKind::Slice:
    case OpKind::Select:
    case OpKind::Expand:
      return true;
    default:
      return false;
  }
}

void prune(std::vector<std::weak_ptr<TensorImpl>>& views) {
  std::erase_if(views, [](const std::weak_ptr<TensorImpl>& v) { return v.expired(); });
}

// `out` is a view of `in`: remember it on both sides.
void mark_view(const Tensor& out, const Tensor& in) {
  AutogradMeta& out_meta = detail::meta(out);
  out_meta.is_view = true;
  const AutogradMeta* in_meta = detail::meta_or_null(in);
  std::shared_ptr<TensorImpl> base;
  if (in_meta != nullptr && in_meta->is_view) base = in_meta->base.lock();
  if (!base) base = in.impl_ptr();  // `in` is the base (or a view whose base died)
  out_meta.base = base;
  AutogradMeta* base_meta = base->autograd.get();
  if (base_meta == nullptr || !base_meta->grad_fn) return;  // leaves can't be modified in place anyway
  std::vector<std::weak_ptr<TensorImpl>>& views = base_meta->views;
  if (views.size() == views.capacity() && views.size() >= 8) prune(views);
  views.push_back(out.impl_ptr());
}

void record_hook(const OpRecord& op, Tensor& output) {
  if (!GradMode::is_enabled() || !is_floating(output.dtype())) return;  // comparisons, casts to integers
  detail::set_history(output, make_op_node(op, output), 0);
  if (is_view_kind(op.kind)) mark_view(output, *op.inputs[0]);
}

void check_inplace_allowed(const std::string& op_name, const Tensor& self) {
  if (!self.requires_grad()) {
    PARITY_CHECK(
        self.storage().use_count() == 1, op_name,
        ": this in-place operation would make a tensor that does not require grad (shape ",
        to_string(self.shape()),
        ") depend on one that does, but other tensors (views) share its "
        "storage and their history cannot follow. Use the out-of-place op, or apply it to a clone()");
    return;
  }
  AutogradMeta* m = detail::meta_or_null(self);
  PARITY_CHECK(
      m != nullptr && m->grad_fn, op_name, ": a leaf tensor that requires grad (shape ",
      to_string(self.shape()), ", ", self.dtype(),
      ") is being used in an in-place operation while gradients are recorded. Modify parameters "
      "inside a parity::autograd::NoGradGuard (as an optimizer step does), or use the out-of-place op");
  if (m->is_view) {
    PARITY_CHECK(
        m->base.expired() && self.storage().use_count() == 1, op_name,
        ": in-place operation on a view (shape ", to_string(self.shape()), ", made by ", m->grad_fn->name(),
        ") of a tensor that requires grad is not supported while gradients are "
        "recorded: its base's history would go stale. Use the out-of-place op, or clone() the view first");
  }
  prune(m->views);
  PARITY_CHECK(m->views.empty(), op_name, ": in-place operation on a tensor (shape ", to_string(self.shape()),
               ", computed by ", m->grad_fn->name(), ") that has ", m->views.size(),
               " live view(s) recorded from it is not supported while gradients are recorded: the views' "
               "history would go stale. Use the out-of-place op, or take the views after modifying it");
}

void rebase_history(const Tensor& self, std::shared_ptr<Node> node, std::uint32_t output_nr) {
  AutogradMeta& m = detail::meta(self);
  if (m.retains_grad && m.grad_fn) {
    std::erase_if(m.grad_fn->retained_, [&](const auto& entry) {
      return entry.first == m.output_nr && entry.second.lock().get() == self.impl();
    });
  }
  if (m.retains_grad) node->retained_.emplace_back(output_nr, self.impl_ptr());
  detail::set_history(self, std::move(node), output_nr);
}

bool inplace_hook(const InplaceRecord& op, Tensor& self) {
  if (!GradMode::is_enabled()) return false;
  const std::string op_name = std::string(op.name) + "_";
  check_inplace_allowed(op_name, self);

  // The new value, computed out of place and recorded.
  Tensor result;
  {
    const Tensor old = backward_reads_input(op) ? self.clone() : self;
    switch (op.kind) {
      case InplaceKind::Fill:
        break;
      case InplaceKind::Copy: {
        const Tensor& src = *op.other;
        result = src.to(self.dtype()).to(self.device()).expand(self.shape()).clone();
        break;
      }
      case InplaceKind::Unary:
        result = unary(op.unary, old);
        break;
      case InplaceKind::Binary:
        result = binary(op.binary, old, *op.other);
        break;
      case InplaceKind::BinaryScalar:
        result = binary(op.binary, old, op.scalar);
        break;
      case InplaceKind::Clamp:
        result = clamp(old, op.scalar, op.scalar2);
        break;
    }
  }
  {
    NoGradGuard no_grad;  // the write itself is not an op of the graph
    if (op.kind == InplaceKind::Fill)
      self.fill_(op.scalar);
    else
      self.copy_(result);
  }
  self.storage()->bump_version(op.name);

  if (result.defined() && result.requires_grad()) {
    const AutogradMeta* rm = detail::meta_or_null(result);
    rebase_history(self, rm->grad_fn, rm->output_nr);
  } else {
    rebase_history(self, make_constant_node(op_name), 0);
  }
  return true;
}

constexpr autograd_hook::Hooks kHooks{&record_hook, &inplace_hook};

// Installs the hooks at static initialization too: a user who builds
// tensors that require grad through requires_grad_ installs them anyway.
[[maybe_unused]] const bool g_installed = [] {
  install_hooks();
  return true;
}();

}  // namespace

void install_hooks() { autograd_hook::g_hooks.store(&kHooks, std::memory_order_release); }

}  // namespace parity::autograd
