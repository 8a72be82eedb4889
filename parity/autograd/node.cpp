// Nodes, saved tensors, autograd metadata and leaf accumulation.
#include "parity/autograd/node.h"

#include <algorithm>
#include <atomic>

#include "parity/autograd/anomaly.h"
#include "parity/autograd/grad_mode.h"
#include "parity/autograd/tape.h"
#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::autograd {

namespace {

std::atomic<std::uint64_t> g_next_sequence_nr{1};
std::atomic<std::int64_t> g_live_nodes{0};

// Note [Iterative graph teardown]: a chain of N nodes is held node to node by
// next_edges, so destroying its head would destroy the next one from inside the
// destructor, N frames deep: a long chain would overflow the stack. Instead the
// outermost destructor on a thread collects the nodes it lets go of and frees
// them one at a time in a loop; inner destructors only hand theirs over.
thread_local std::vector<std::shared_ptr<Node>>* t_pending_teardown = nullptr;

std::string role_text(SavedTensor::Role role, int index, std::string_view op) {
  switch (role) {
    case SavedTensor::Role::Input:
      return "input " + std::to_string(index) + " of " + std::string(op);
    case SavedTensor::Role::Output:
      return "the output of " + std::string(op);
    case SavedTensor::Role::Custom:
      return "saved tensor " + std::to_string(index) + " of " + std::string(op);
  }
  return "a tensor saved by " + std::string(op);
}

}  // namespace

// ---- Node ----

Node::Node(bool sequenced)
    : sequence_nr_(sequenced ? g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed) : 0) {
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() {
  g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
  if (t_pending_teardown != nullptr) {
    for (Edge& edge : next_edges_) {
      if (edge.node) t_pending_teardown->push_back(std::move(edge.node));
    }
    return;
  }
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& edge : next_edges_) {
    if (edge.node) pending.push_back(std::move(edge.node));
  }
  if (pending.empty()) return;
  t_pending_teardown = &pending;
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    node.reset();  // when it was the last owner, its destructor appends its own edges
  }
  t_pending_teardown = nullptr;
}

void Node::release(bool drop_edges) {
  release_saved();
  released_ = true;
  if (drop_edges) {
    std::vector<Edge> edges = std::move(next_edges_);
    next_edges_.clear();
    // `edges` dies here; the teardown above keeps even a long chain iterative.
  }
}

std::int64_t live_node_count() { return g_live_nodes.load(std::memory_order_relaxed); }

// ---- saved tensors ----
//
// Note [Saved tensors]: a node keeps only what its backward formula reads, each
// with the storage's version counter at the time. Every in-place op bumps the
// counter of the storage it writes (and names itself there), so if a saved
// tensor, or any view of its storage, was modified after the op recorded it,
// unpacking it at backward throws, naming the op that saved it and the in-place
// op: never a silently wrong gradient.

SavedTensor::SavedTensor(const Tensor& tensor, Role role, int index) : role_(role), index_(index) {
  if (!tensor.defined()) return;
  const AutogradMeta* m = detail::meta_or_null(tensor);
  const bool holds_graph = m != nullptr && m->grad_fn != nullptr;
  data_ = (role == Role::Input && !holds_graph) ? tensor : detail::alias(tensor);
  version_ = tensor.version();
}

Tensor SavedTensor::unpack(std::string_view saved_by) const {
  PARITY_CHECK(data_.defined(), "backward of ", saved_by, ": its saved tensors were already freed (",
               role_text(role_, index_, saved_by),
               "); backward through a graph a second time needs retain_graph = true in the first call");
  const std::uint64_t now = data_.version();
  if (now != version_) {
    const char* writer = data_.storage()->last_writer();
    PARITY_FAIL("backward of ", saved_by, ": a tensor it saved for backward (",
                role_text(role_, index_, saved_by), ", shape ", to_string(data_.shape()), ", ", data_.dtype(),
                ") has been modified by an in-place operation (",
                writer != nullptr ? std::string(writer) + "_" : std::string("unknown"), ") since ", saved_by,
                " recorded it (version ", version_, ", now ", now,
                "); its gradient would be wrong. Use the out-of-place op, or modify a clone() of the tensor");
  }
  return data_;
}

// ---- leaves ----

AccumulateGrad::AccumulateGrad(Tensor variable) : Node(/*sequenced=*/false), variable_(std::move(variable)) {}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grads) {
  if (!grads.at(0).defined()) return {};
  AutogradMeta& m = detail::meta(variable_);
  detail::accumulate_grad(m, std::move(grads[0]));
  if (const std::shared_ptr<HookRegistry> hooks = m.leaf_hooks) {
    NoGradGuard no_grad;
    for (const HookRegistry::PostAccumulate& entry : hooks->post_accumulate) entry.hook(variable_);
  }
  return {};
}

// ---- hooks ----

void HookRegistry::run_grad_hooks(std::uint32_t output_nr, Tensor& g,
                                  const std::function<std::string()>& owner) const {
  if (!g.defined()) return;
  NoGradGuard no_grad;
  const std::vector<Grad> entries = grad;  // a hook may register or remove hooks
  for (const Grad& entry : entries) {
    if (entry.output_nr != output_nr) continue;
    Tensor replaced = entry.hook(g);
    if (!replaced.defined()) continue;
    PARITY_CHECK(replaced.shape() == g.shape() && replaced.dtype() == g.dtype() && replaced.device() == g.device(),
                 "register_hook: the hook on ", owner(), " returned a gradient of shape ", to_string(replaced.shape()),
                 ", ", replaced.dtype(), " on ", replaced.device(), "; expected the gradient's shape ",
                 to_string(g.shape()), ", ", g.dtype(), " on ", g.device(), " (or an undefined tensor to keep it)");
    g = std::move(replaced);
  }
}

void HookRegistry::remove(std::uint64_t id) {
  std::erase_if(grad, [id](const Grad& e) { return e.id == id; });
  std::erase_if(post_accumulate, [id](const PostAccumulate& e) { return e.id == id; });
}

namespace {

HookHandle handle_for(const std::shared_ptr<HookRegistry>& registry, std::uint64_t id) {
  return HookHandle([weak = std::weak_ptr<HookRegistry>(registry), id] {
    if (const std::shared_ptr<HookRegistry> r = weak.lock()) r->remove(id);
  });
}

}  // namespace

HookHandle register_hook(const Tensor& t, GradHook hook) {
  PARITY_CHECK(t.defined(), "register_hook: an undefined tensor");
  PARITY_CHECK(t.requires_grad(), "register_hook: the tensor (shape ", to_string(t.shape()),
               ") does not require grad, so no gradient will reach a hook on it");
  PARITY_CHECK(hook != nullptr, "register_hook: an empty hook");
  AutogradMeta& m = detail::meta(t);
  std::shared_ptr<HookRegistry>* slot = m.grad_fn ? &m.grad_fn->hooks_ : &m.leaf_hooks;
  if (!*slot) *slot = std::make_shared<HookRegistry>();
  HookRegistry& registry = **slot;
  const std::uint64_t id = registry.next_id++;
  registry.grad.push_back({id, m.grad_fn ? m.output_nr : 0, std::move(hook)});
  return handle_for(*slot, id);
}

HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  PARITY_CHECK(leaf.defined(), "register_post_accumulate_grad_hook: an undefined tensor");
  AutogradMeta* existing = detail::meta_or_null(leaf);
  PARITY_CHECK(leaf.requires_grad() && (existing == nullptr || !existing->grad_fn),
               "register_post_accumulate_grad_hook: expected a leaf that requires grad (a parameter), got a tensor ",
               leaf.requires_grad() ? "computed by an op" : "that does not require grad", " (shape ",
               to_string(leaf.shape()), ")");
  PARITY_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: an empty hook");
  AutogradMeta& m = detail::meta(leaf);
  if (!m.leaf_hooks) m.leaf_hooks = std::make_shared<HookRegistry>();
  const std::uint64_t id = m.leaf_hooks->next_id++;
  m.leaf_hooks->post_accumulate.push_back({id, std::move(hook)});
  return handle_for(m.leaf_hooks, id);
}

namespace detail {

AutogradMeta* meta_or_null(const Tensor& t) { return t.impl()->autograd.get(); }

AutogradMeta& meta(const Tensor& t) {
  TensorImpl* impl = t.impl();
  if (!impl->autograd) impl->autograd = std::make_shared<AutogradMeta>();
  return *impl->autograd;
}

std::shared_ptr<Node> grad_accumulator(const Tensor& t) {
  AutogradMeta& m = meta(t);
  if (auto existing = m.grad_accumulator.lock()) return existing;
  auto node = std::make_shared<AccumulateGrad>(t);
  node->input_meta_.push_back({t.shape(), t.dtype(), t.device()});
  m.grad_accumulator = node;
  return node;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  const AutogradMeta* m = meta_or_null(t);
  if (m != nullptr && m->grad_fn) return {m->grad_fn, m->output_nr};
  return {grad_accumulator(t), 0};
}

void set_history(const Tensor& t, std::shared_ptr<Node> node, std::uint32_t output_nr) {
  AutogradMeta& m = meta(t);
  m.grad_fn = std::move(node);
  m.output_nr = output_nr;
  t.impl()->requires_grad = true;
}

void add_input(Node& node, const Tensor& input) {
  node.next_edges_.push_back(gradient_edge(input));
  node.input_meta_.push_back({input.shape(), input.dtype(), input.device()});
}

void on_node_created(const std::shared_ptr<Node>& node) {
  if (TapeScope* scope = TapeScope::current()) scope->add_entry(node);
  if (anomaly_mode_enabled()) node->recorded_at_ = std::make_shared<const std::string>(recording_stack());
}

Tensor alias(const Tensor& t) {
  return make_tensor(t.storage(), t.offset(), t.shape(), t.strides(), t.dtype());
}

void accumulate_grad(AutogradMeta& m, Tensor g) {
  NoGradGuard no_grad;
  if (!m.grad.defined()) {
    // Keep the gradient itself when nothing else can see or write it; else a
    // private dense copy (a gradient may be an expanded view of a scalar, or a
    // tensor the caller passed to backward).
    const bool exclusive = g.is_contiguous() && g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1;
    m.grad = exclusive ? std::move(g) : g.clone();
  } else {
    m.grad.add_(g);
  }
}

}  // namespace detail
}  // namespace parity::autograd
