// Internal: building tape nodes for the ops the tensor layer reports
// (parity/autograd/derivatives.cpp holds the backward rules).
#pragma once

#include <memory>
#include <string>

#include "parity/tensor/autograd_hook.h"

namespace parity::autograd {

class Node;

// A node for `op`, with its inputs' edges and what its backward needs saved.
std::shared_ptr<Node> make_op_node(const autograd_hook::OpRecord& op, const Tensor& output);
// Whether the backward of the out-of-place form of an in-place op may read the
// tensor's old value (then the in-place op runs on a clone of it): the rules' own answer.
bool backward_reads_input(const autograd_hook::InplaceRecord& op);
// A node with no inputs (an in-place op that made a tensor constant).
std::shared_ptr<Node> make_constant_node(std::string name);

}  // namespace parity::autograd
