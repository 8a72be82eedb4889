// The tape's entries: nodes, the edges between them, the tensors they save,
// and the autograd metadata a tensor carries once it is part of a graph.
//
// Each recorded op is a Node. Its next_edges point, one per input, at the node
// that produced that input (or, for a leaf, at the leaf's AccumulateGrad node);
// an input that needs no gradient has an empty edge. An output tensor holds its
// node through its AutogradMeta (grad_fn), so a graph lives exactly as long as
// the tensors computed from it (or until backward or a TapeScope releases it).
//
// Note [Tape order]: every node gets a sequence number from one process-wide
// counter when it is created, after its inputs' nodes; so a node's number is
// larger than those of all the nodes it points at, and running nodes in
// decreasing sequence order is a topological order (AccumulateGrad nodes, which
// point nowhere, all get 0 and run last). That is the tape: backward walks it
// in reverse from the output, visiting only the nodes the output depends on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parity/autograd/hooks.h"
#include "parity/tensor/tensor.h"

namespace parity::autograd {

class Node;

// The hooks of one node's outputs (a non-leaf's, by output number) or of one
// leaf (parity/autograd/hooks.h). Shared with the handles, weakly.
struct HookRegistry {
  struct Grad {
    std::uint64_t id;
    std::uint32_t output_nr;
    GradHook hook;
  };
  struct PostAccumulate {
    std::uint64_t id;
    PostAccumulateGradHook hook;
  };
  std::vector<Grad> grad;
  std::vector<PostAccumulate> post_accumulate;
  std::uint64_t next_id = 1;

  // Runs the gradient hooks of output_nr on g in order; a defined return
  // replaces g. `owner` names the hooked tensor, for an error only.
  void run_grad_hooks(std::uint32_t output_nr, Tensor& g, const std::function<std::string()>& owner) const;
  void remove(std::uint64_t id);
};

// Where a gradient flows: into output `input_nr` of `node`.
struct Edge {
  std::shared_ptr<Node> node;  // null: that input needs no gradient
  std::uint32_t input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// What a gradient for an input must look like.
struct InputMeta {
  Shape shape;
  DType dtype = kFloat32;
  Device device = Device::cpu();
};

// A tensor a node keeps for its backward, with the storage version it had when
// saved. unpack() throws a parity::Error naming the op that saved it and the
// in-place op that modified it since (Note [Saved tensors]).
class SavedTensor {
 public:
  enum class Role : std::uint8_t { Input, Output, Custom };

  SavedTensor() = default;
  // An op's output is kept as an alias without autograd metadata (the output
  // holds the node, so holding the output back would be a cycle); so is any
  // tensor that has a grad_fn, so that a saved tensor never holds a graph.
  SavedTensor(const Tensor& tensor, Role role, int index);

  bool defined() const { return data_.defined(); }
  Tensor unpack(std::string_view saved_by) const;
  void reset() { data_ = Tensor(); }

 private:
  Tensor data_;
  std::uint64_t version_ = 0;
  Role role_ = Role::Input;
  int index_ = 0;
};

class Node {
 public:
  // sequence_nr 0 is for nodes that point nowhere (AccumulateGrad, constants).
  explicit Node(bool sequenced = true);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The op's name ("mul", "reshape", a custom function's name, "AccumulateGrad").
  virtual std::string name() const = 0;
  // grads: one per output (undefined where no gradient reached it; the engine
  // skips a node none reached). Returns one gradient per input, undefined where
  // the input needs none.
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grads) = 0;
  // Frees what backward saved; afterwards apply() must not run again.
  virtual void release_saved() {}

  std::uint64_t sequence_nr() const { return sequence_nr_; }
  std::uint32_t num_outputs() const { return num_outputs_; }
  const std::vector<Edge>& next_edges() const { return next_edges_; }
  bool needs_input_grad(std::size_t i) const { return i < next_edges_.size() && next_edges_[i].valid(); }
  bool released() const { return released_; }
  // Marks the node as run-and-freed (backward without retain_graph); with
  // drop_edges also lets go of the nodes it points at (TapeScope).
  void release(bool drop_edges);

  // ---- filled when the node is recorded; read by the engine ----
  std::vector<Edge> next_edges_;       // one per input
  std::vector<InputMeta> input_meta_;  // one per input
  std::uint32_t num_outputs_ = 1;
  // Outputs whose tensors asked for retain_grad(): (output_nr, tensor).
  std::vector<std::pair<std::uint32_t, std::weak_ptr<TensorImpl>>> retained_;
  std::shared_ptr<HookRegistry> hooks_;              // gradient hooks on its outputs (register_hook)
  std::shared_ptr<const std::string> recorded_at_;  // the call stack of its forward op (anomaly mode)

 private:
  std::uint64_t sequence_nr_;
  bool released_ = false;
};

// The AutogradMeta of a tensor (TensorImpl::autograd), created lazily: tensors
// that need no gradient never get one.
struct AutogradMeta {
  std::shared_ptr<Node> grad_fn;         // the node that produced it; null for leaves
  std::uint32_t output_nr = 0;           // which output of grad_fn it is
  std::weak_ptr<Node> grad_accumulator;  // leaves: their AccumulateGrad node, while a graph uses it
  Tensor grad;                           // accumulated gradient
  bool retains_grad = false;
  // Views recorded from a tensor that requires grad (Note [In-place and views]).
  bool is_view = false;
  std::weak_ptr<TensorImpl> base;
  std::vector<std::weak_ptr<TensorImpl>> views;  // live views of this (non-leaf) tensor
  std::shared_ptr<HookRegistry> leaf_hooks;       // a leaf's gradient and post-accumulate hooks
};

// Leaves: adds the incoming gradient into the tensor's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(Tensor variable);
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;
  const Tensor& variable() const { return variable_; }

 private:
  Tensor variable_;
};

// The number of tape nodes alive in the process (tests use it to show that the
// tape does not grow across training steps).
std::int64_t live_node_count();

// Makes the tensor layer call into autograd (parity/tensor/autograd_hook.h).
// Idempotent; called at static initialization and by Tensor::requires_grad_.
void install_hooks();

namespace detail {

AutogradMeta* meta_or_null(const Tensor& t);
AutogradMeta& meta(const Tensor& t);  // creates it when absent
// The edge a gradient for `t` flows along: its grad_fn, its accumulator (a
// leaf that requires grad), or none.
Edge gradient_edge(const Tensor& t);
std::shared_ptr<Node> grad_accumulator(const Tensor& t);
// Makes `t` the output `output_nr` of `node`: it now requires grad.
void set_history(const Tensor& t, std::shared_ptr<Node> node, std::uint32_t output_nr);
// Appends an input to a node being recorded: its edge and its metadata.
void add_input(Node& node, const Tensor& input);
// Registers a freshly created node with the thread's innermost TapeScope.
void on_node_created(const std::shared_ptr<Node>& node);
std::string recording_stack();  // the caller's call stack, one frame a line (parity/autograd/anomaly.cpp)
// A new handle on the same storage, offset, shape and strides, with no autograd metadata.
Tensor alias(const Tensor& t);
// Adds g into a tensor's accumulated gradient (the engine; retain_grad).
void accumulate_grad(AutogradMeta& meta, Tensor g);

template <typename T, typename... Args>
std::shared_ptr<T> make_node(Args&&... args) {
  auto node = std::make_shared<T>(std::forward<Args>(args)...);
  on_node_created(node);
  return node;
}

}  // namespace detail
}  // namespace parity::autograd
