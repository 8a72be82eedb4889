// The reverse pass: walks the tape backwards from the outputs.
//
// 1. Discover the nodes the outputs depend on (an explicit stack: no recursion).
// 2. Order them by decreasing sequence number, a topological order (Note [Tape
//    order] in parity/autograd/node.h): when a node's turn comes, every node that
//    sends it a gradient has run, so its incoming gradients are complete.
// 3. Run each node's backward, check the gradients it returns against its
//    inputs' shapes, dtypes and devices, add them into the buffers of the
//    nodes they flow to, free the node's buffer and (without retain_graph) its
//    saved tensors.
// Leaves accumulate in their AccumulateGrad node; retain_grad() tensors take
// their gradient when their node's turn comes; grad() captures gradients at
// the inputs' edges instead, running only the nodes that lead to them.
#include "parity/autograd/engine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "parity/autograd/anomaly.h"
#include "parity/autograd/grad_mode.h"
#include "parity/autograd/node.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::autograd {

namespace {

struct Root {
  Edge edge;
  Tensor grad;
};

std::vector<Root> make_roots(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                             const char* api) {
  PARITY_CHECK(!outputs.empty(), api, ": expected at least one output");
  PARITY_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), api, ": got ", outputs.size(),
               " outputs and ", grad_outputs.size(), " gradients for them");
  std::vector<Root> roots;
  roots.reserve(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    PARITY_CHECK(out.defined(), api, ": output ", i, " is an undefined tensor");
    PARITY_CHECK(out.requires_grad(), api, ": output ", i, " (shape ", to_string(out.shape()),
                 ") does not require grad: nothing on the tape leads to it (was it computed under a "
                 "NoGradGuard, or only from tensors that do not require grad?)");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      PARITY_CHECK(out.numel() == 1, api,
                   ": a gradient can be implied only for a one-element output; output ", i, " has shape ",
                   to_string(out.shape()), ". Pass one of the same shape (tensor.backward(gradient))");
      g = ones(out.shape(), {.dtype = out.dtype(), .device = out.device()});
    } else {
      PARITY_CHECK(g.shape() == out.shape(), api, ": the gradient for output ", i, " has shape ",
                   to_string(g.shape()), ", expected the output's shape ", to_string(out.shape()));
      PARITY_CHECK(g.dtype() == out.dtype() && g.device() == out.device(), api, ": the gradient for output ",
                   i, " is ", g.dtype(), " on ", g.device(), ", expected ", out.dtype(), " on ",
                   out.device());
      g = g.detach();
    }
    roots.push_back({detail::gradient_edge(out), std::move(g)});
  }
  return roots;
}

void check_input_grads(const Node& node, const std::vector<Tensor>& grads) {
  const std::vector<Edge>& edges = node.next_edges();
  PARITY_CHECK(grads.size() == edges.size(), "backward of ", node.name(), ": returned ", grads.size(),
               " gradients, expected ", edges.size(), " (one per input)");
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!edges[i].valid() || !grads[i].defined()) continue;
    const InputMeta& expected = node.input_meta_[i];
    const Tensor& g = grads[i];
    PARITY_CHECK(g.shape() == expected.shape, "backward of ", node.name(), ": the gradient for input ", i,
                 " has shape ", to_string(g.shape()), ", expected the input's shape ",
                 to_string(expected.shape));
    PARITY_CHECK(g.dtype() == expected.dtype && g.device() == expected.device, "backward of ", node.name(),
                 ": the gradient for input ", i, " is ", g.dtype(), " on ", g.device(), ", expected ",
                 expected.dtype, " on ", expected.device, " (the input's)");
  }
}

// The gradient hooks (parity/autograd/hooks.h) on what arrived at `node`: a
// non-leaf's by output number, a leaf's (accumulate: its AccumulateGrad, else
// null) on its one.
void run_hooks(const Node& node, const AccumulateGrad* accumulate, std::vector<Tensor>& grads) {
  if (accumulate != nullptr) {
    const AutogradMeta* m = detail::meta_or_null(accumulate->variable());
    if (m != nullptr && m->leaf_hooks) {
      m->leaf_hooks->run_grad_hooks(
          0, grads[0], [&] { return "a leaf of shape " + to_string(accumulate->variable().shape()); });
    }
  } else if (node.hooks_) {
    for (std::uint32_t k = 0; k < grads.size(); ++k) {
      node.hooks_->run_grad_hooks(k, grads[k], [&] { return "output " + std::to_string(k) + " of " + node.name(); });
    }
  }
}

// Anomaly mode (parity/autograd/anomaly.h): a NaN or an infinity in what a
// backward rule returned is an error naming the rule and where its op was recorded.
void check_finite(const Node& node, const std::vector<Tensor>& input_grads) {
  for (std::size_t k = 0; k < input_grads.size(); ++k) {
    const Tensor& g = input_grads[k];
    if (!g.defined() || !is_floating(g.dtype()) || g.numel() == 0) continue;
    const double largest = max(abs(g)).item<double>();  // max propagates NaN
    if (std::isfinite(largest)) continue;
    PARITY_FAIL("anomaly mode: the backward of ", node.name(), " returned ", std::isnan(largest) ? "NaN" : "infinity",
                " in the gradient of its input ", k, " (shape ", to_string(g.shape()), ", ", g.dtype(), "). ",
                node.recorded_at_ ? "The forward op " + node.name() + " was recorded at:\n" + *node.recorded_at_
                                  : "The forward op " + node.name() +
                                        " was recorded outside anomaly mode; record the forward under a "
                                        "DetectAnomalyGuard too to see where");
  }
}

// Runs the reverse pass. With `captures`, stores the gradient arriving at each
// captured edge into (*captured)[k] and runs only the nodes that lead to one;
// without, runs every node the roots depend on (accumulating into leaves).
void run_backward(const std::vector<Root>& roots, bool retain_graph, const std::vector<Edge>* captures,
                  std::vector<Tensor>* captured) {
  NoGradGuard no_grad;

  // 1. The nodes the roots depend on.
  std::unordered_map<Node*, std::size_t> index;
  std::vector<Node*> nodes;
  std::vector<Node*> stack;
  auto visit = [&](Node* node) {
    if (index.emplace(node, 0).second) {
      nodes.push_back(node);
      stack.push_back(node);
    }
  };
  for (const Root& root : roots) visit(root.edge.node.get());
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->next_edges()) {
      if (edge.node) visit(edge.node.get());
    }
  }

  // 2. Reverse tape order.
  std::stable_sort(nodes.begin(), nodes.end(),
                   [](const Node* a, const Node* b) { return a->sequence_nr() > b->sequence_nr(); });
  for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i]] = i;

  std::vector<std::vector<Tensor>> buffers(nodes.size());
  auto add_grad = [&](Node* node, std::uint32_t input_nr, Tensor g) {
    std::vector<Tensor>& buffer = buffers[index.at(node)];
    if (buffer.empty()) buffer.resize(node->num_outputs());
    Tensor& slot = buffer.at(input_nr);
    slot = slot.defined() ? add(slot, g) : std::move(g);
  };
  for (const Root& root : roots) add_grad(root.edge.node.get(), root.edge.input_nr, root.grad);

  std::vector<char> run(nodes.size(), 1);
  if (captures != nullptr) {
    std::vector<char> target(nodes.size(), 0);
    for (const Edge& edge : *captures) {
      if (!edge.node) continue;
      if (auto it = index.find(edge.node.get()); it != index.end()) target[it->second] = 1;
    }
    for (std::size_t i = nodes.size(); i-- > 0;) {  // inputs before consumers
      char needed = 0;
      for (const Edge& edge : nodes[i]->next_edges()) {
        if (!edge.node) continue;
        const std::size_t j = index.at(edge.node.get());
        if (target[j] || run[j]) needed = 1;
      }
      run[i] = needed;
    }
  }

  // 3. Run.
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    Node* node = nodes[i];
    std::vector<Tensor> grads = std::move(buffers[i]);
    if (grads.empty()) grads.resize(node->num_outputs());
    const auto* accumulate = dynamic_cast<const AccumulateGrad*>(node);  // leaves: hooks, never released
    run_hooks(*node, accumulate, grads);
    if (captures != nullptr) {
      for (std::size_t k = 0; k < captures->size(); ++k) {
        const Edge& edge = (*captures)[k];
        if (edge.node.get() == node && edge.input_nr < grads.size()) (*captured)[k] = grads[edge.input_nr];
      }
    } else {
      for (const auto& [output_nr, weak] : node->retained_) {
        std::shared_ptr<TensorImpl> impl = weak.lock();
        if (impl && impl->autograd && output_nr < grads.size() && grads[output_nr].defined()) {
          detail::accumulate_grad(*impl->autograd, grads[output_nr]);
        }
      }
    }
    if (!run[i]) continue;
    if (std::none_of(grads.begin(), grads.end(), [](const Tensor& g) { return g.defined(); })) continue;
    PARITY_CHECK(!node->released(),
                 "backward: trying to backward through the graph a second time: the tape "
                 "entry of ",
                 node->name(),
                 " already ran and freed its saved tensors. Pass retain_graph = "
                 "true to the first backward() (or autograd::grad) to run backward through a graph twice, "
                 "or recompute the forward");
    std::vector<Tensor> input_grads = node->apply(grads);
    grads.clear();
    check_input_grads(*node, input_grads);
    if (anomaly_mode_enabled()) check_finite(*node, input_grads);
    const std::vector<Edge>& edges = node->next_edges();
    for (std::size_t k = 0; k < edges.size(); ++k) {
      if (edges[k].node && input_grads[k].defined()) {
        add_grad(edges[k].node.get(), edges[k].input_nr, std::move(input_grads[k]));
      }
    }
    if (!retain_graph && accumulate == nullptr) node->release(/*drop_edges=*/false);
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              BackwardOptions options) {
  run_backward(make_roots(outputs, grad_outputs, "backward"), options.retain_graph, nullptr, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, GradOptions options) {
  std::vector<Root> roots = make_roots(outputs, grad_outputs, "autograd::grad");
  std::vector<Edge> captures;
  captures.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    PARITY_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "autograd::grad: input ", i,
                 inputs[i].defined() ? " does not require grad" : " is an undefined tensor");
    captures.push_back(detail::gradient_edge(inputs[i]));
  }
  std::vector<Tensor> result(inputs.size());
  run_backward(roots, options.retain_graph, &captures, &result);
  if (!options.allow_unused) {
    for (std::size_t i = 0; i < result.size(); ++i) {
      PARITY_CHECK(result[i].defined(), "autograd::grad: input ", i, " (shape ", to_string(inputs[i].shape()),
                   ") is not used to compute the outputs; pass allow_unused = true to get an undefined "
                   "tensor for it instead");
    }
  }
  return result;
}

std::vector<Tensor> jacobian(const Tensor& output, const std::vector<Tensor>& inputs) {
  PARITY_CHECK(output.defined(), "autograd::jacobian: the output is an undefined tensor");
  PARITY_CHECK(is_floating(output.dtype()), "autograd::jacobian: expected a floating output, got ", output.dtype());
  const std::int64_t n = output.numel();
  std::vector<Tensor> result;
  for (const Tensor& input : inputs) {
    PARITY_CHECK(input.defined(), "autograd::jacobian: an input is an undefined tensor");
    Shape shape = output.shape();
    shape.insert(shape.end(), input.shape().begin(), input.shape().end());
    result.push_back(zeros(shape, {.dtype = output.dtype(), .device = output.device()}));
  }
  for (std::int64_t k = 0; k < n; ++k) {
    Tensor one_hot = zeros(output.shape(), {.dtype = output.dtype(), .device = output.device()});
    one_hot.reshape({n}).narrow(0, k, 1).fill_(1.0);
    const std::vector<Tensor> rows =
        grad({output}, inputs, {one_hot}, {.retain_graph = k + 1 < n, .allow_unused = true});
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!rows[i].defined()) continue;
      NoGradGuard no_grad;
      result[i].reshape({n, inputs[i].numel()}).narrow(0, k, 1).copy_(rows[i].reshape({1, inputs[i].numel()}));
    }
  }
  return result;
}

}  // namespace parity::autograd
