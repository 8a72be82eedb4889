// backward() and grad(): the reverse pass over the tape.
//
// Both walk the graph from the given outputs in decreasing sequence order
// (Note [Tape order] in parity/autograd/node.h), visiting only the nodes the outputs
// depend on, with an explicit work list (no recursion: a graph of any depth is
// fine). Backward formulas run with grad mode off: they record nothing, so
// double backward (create_graph) is not supported. Gradient hooks
// (parity/autograd/hooks.h) run on a node's incoming gradients before it runs;
// in anomaly mode (parity/autograd/anomaly.h) every rule's results are checked.
//
// Lifetime: without retain_graph, each node frees its saved tensors right
// after it ran, and running it again throws a parity::Error that says so.
#pragma once

#include <vector>

#include "parity/tensor/tensor.h"

namespace parity::autograd {

struct BackwardOptions {
  bool retain_graph = false;  // keep saved tensors to backward through the graph again
};

// Accumulates d(sum_i <outputs[i], grad_outputs[i]>)/d(leaf) into the .grad of
// every leaf the outputs depend on (and of non-leaves that retain_grad()).
// grad_outputs may be empty, or hold undefined tensors, for one-element outputs
// (an implicit 1).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              BackwardOptions options = {});

struct GradOptions {
  bool retain_graph = false;
  bool allow_unused = false;  // an input the outputs don't depend on gets an undefined tensor, not an error
};

// The gradients of the outputs with respect to `inputs` (leaves or not),
// returned rather than accumulated: no .grad is touched.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});

// The Jacobian of `output` with respect to each input, by reverse mode: one
// backward pass per element of output (torch.autograd.functional.jacobian's
// default), so for small outputs. result[i] has shape output.shape +
// inputs[i].shape, of output's dtype, on its device; d output[k] / d input[j]
// is result[i][k..., j...]. An input the output does not depend on gets zeros.
// The graph is kept (retain_graph) until the last pass.
std::vector<Tensor> jacobian(const Tensor& output, const std::vector<Tensor>& inputs);

}  // namespace parity::autograd
