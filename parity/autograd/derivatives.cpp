// The backward rules of every differentiable op of the tensor layer, in one
// place (like PyTorch's derivatives.yaml or tinygrad's gradient table).
//
// For each op kind reported through parity/tensor/autograd_hook.h this file says two
// things, next to each other: what the node saves when the op is recorded
// (only what the formula reads, and only for inputs that need a gradient), and
// the formula. Formulas are written with the public tensor ops, so they run on
// every backend; they run with grad mode off, so they record nothing.
//
// Note [Gradients at ties and kinks] (what the formulas pick where the
// derivative is not defined; gradcheck tests stay away from these points):
//   relu'(0) = 0; abs'(0) = sign(0) = 0; sign' = 0 everywhere.
//   clamp(x, lo, hi): the gradient passes where lo <= x <= hi (bounds included).
//   maximum/minimum(a, b) with a == b: each side gets half the gradient.
//   max/min reductions: the gradient is split evenly among the elements equal
//   to the result (all ties share it); NaN inputs get none.
//   pow(a, b): d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0.
#include "parity/autograd/derivatives.h"

#include <algorithm>
#include <cmath>

#include "parity/autograd/node.h"
#include "parity/tensor/conv.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"
#include "parity/tensor/pool.h"

namespace parity::autograd {

using autograd_hook::OpKind;
using autograd_hook::OpRecord;

namespace {

// ---- helpers ----

// g summed over the dims along which `shape` was broadcast to g's shape.
Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int lead = g.dim() - static_cast<int>(shape.size());
  std::vector<std::int64_t> dims;
  for (int d = 0; d < lead; ++d) dims.push_back(d);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1 && g.size(lead + static_cast<std::int64_t>(i)) != 1)
      dims.push_back(lead + static_cast<int>(i));
  }
  const Tensor summed = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return summed.reshape(shape);
}

Tensor zero_like_scalar(const Tensor& like) {
  return scalar_tensor(0, {.dtype = like.dtype(), .device = like.device()});
}

// The input's shape with the reduced dims kept as 1.
Shape kept_shape(const Shape& in, const std::vector<std::int64_t>& dims) {
  Shape kept = in;
  for (std::int64_t d : dims) kept[d] = 1;
  return kept;
}

// Where mask holds, g; elsewhere 0.
Tensor masked(const Tensor& mask, const Tensor& g) { return where(mask, g, zero_like_scalar(g)); }

enum class Needs : std::uint8_t { Nothing, Input, Output };

constexpr Needs unary_needs(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
    case UnaryOp::Sign:
      return Needs::Nothing;
    case UnaryOp::Abs:
    case UnaryOp::Log:
    case UnaryOp::Square:
      return Needs::Input;
    default:
      return Needs::Output;  // exp, sqrt, rsqrt, reciprocal, relu, sigmoid, tanh
  }
}

// ---- the node ----

class OpNode final : public Node {
 public:
  std::string name() const override { return op_name; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;
  void release_saved() override {
    for (SavedTensor& s : saved) s.reset();
  }

  OpKind kind = OpKind::Unary;
  const char* op_name = "";
  UnaryOp unary = UnaryOp::Neg;
  BinaryOp binary = BinaryOp::Add;
  ReduceOp reduce = ReduceOp::Sum;
  Scalar s0, s1;
  bool scalar_first = false;
  std::vector<std::int64_t> dims;  // reduce: the reduced dims (normalized); permute: the order
  std::int64_t dim = 0, dim1 = 0, start = 0, end = 0, step = 1;
  Conv2dOptions conv;  // conv2d
  Pool2dOptions pool;  // pooling
  PoolKind pool_kind = PoolKind::Max;
  // saved[0], saved[1]: the inputs (as needed), saved[2]: the output.
  SavedTensor saved[3];

 private:
  Tensor in(int i) const { return saved[i].unpack(op_name); }
  Tensor out() const { return saved[2].unpack(op_name); }
  const Shape& in_shape(int i) const { return input_meta_[i].shape; }

  std::vector<Tensor> unary_backward(const Tensor& g) const;
  std::vector<Tensor> binary_backward(const Tensor& g) const;
  std::vector<Tensor> scalar_backward(const Tensor& g) const;
  std::vector<Tensor> reduce_backward(const Tensor& g) const;
  std::vector<Tensor> matmul_backward(const Tensor& g) const;
};

// ---- what each op saves ----

void save_for_backward(OpNode& node, const OpRecord& op, const Tensor& output) {
  auto save_in = [&](int i) { node.saved[i] = SavedTensor(*op.inputs[i], SavedTensor::Role::Input, i); };
  auto save_out = [&] { node.saved[2] = SavedTensor(output, SavedTensor::Role::Output, 0); };
  const bool need0 = node.needs_input_grad(0), need1 = node.needs_input_grad(1);
  switch (op.kind) {
    case OpKind::Unary:
      if (unary_needs(op.unary) == Needs::Input) save_in(0);
      if (unary_needs(op.unary) == Needs::Output) save_out();
      break;
    case OpKind::Binary:
      switch (op.binary) {
        case BinaryOp::Add:
        case BinaryOp::Sub:
          break;
        case BinaryOp::Mul:  // da = g*b, db = g*a
          if (need0) save_in(1);
          if (need1) save_in(0);
          break;
        case BinaryOp::Div:  // da = g/b, db = -g*a/b^2
          save_in(1);
          if (need1) save_in(0);
          break;
        case BinaryOp::Pow:  // da = g*b*a^(b-1), db = g*out*log(a)
          save_in(0);
          save_in(1);
          if (need1) save_out();
          break;
        default:  // maximum, minimum: masks from both
          save_in(0);
          save_in(1);
          break;
      }
      break;
    case OpKind::BinaryScalar:
      switch (op.binary) {
        case BinaryOp::Div:
          if (op.scalar_first) save_in(0);  // d(s/x) = -g*s/x^2
          break;
        case BinaryOp::Pow:
          if (op.scalar_first)
            save_out();  // d(s^x) = g*out*log(s)
          else
            save_in(0);  // d(x^s) = g*s*x^(s-1)
          break;
        case BinaryOp::Maximum:
        case BinaryOp::Minimum:
          save_in(0);
          break;
        default:
          break;  // add, sub, mul
      }
      break;
    case OpKind::Where:
      save_in(0);
      break;  // the condition
    case OpKind::Clamp:
      save_in(0);
      break;  // the mask lo <= x <= hi
    case OpKind::Reduce:
      if (op.reduce == ReduceOp::Max || op.reduce == ReduceOp::Min) {
        save_in(0);
        save_out();
      }
      break;
    case OpKind::Matmul:
      if (need0) save_in(1);
      if (need1) save_in(0);
      break;
    case OpKind::Conv2d:  // dx reads the weight, dweight reads x, dbias neither
      if (need0) save_in(1);
      if (need1) save_in(0);
      break;
    case OpKind::Pool2d:  // max pooling finds each window's winner again from x and y
      if (op.pool_kind == PoolKind::Max) {
        save_in(0);
        save_out();
      }
      break;
    default:
      break;  // views, copies, casts: shapes and attributes only
  }
}

// ---- the formulas ----

std::vector<Tensor> OpNode::unary_backward(const Tensor& g) const {
  switch (unary) {
    case UnaryOp::Neg:
      return {neg(g)};
    case UnaryOp::Abs:
      return {mul(g, sign(in(0)))};
    case UnaryOp::Sign:
      return {zeros(g.shape(), {.dtype = g.dtype(), .device = g.device()})};
    case UnaryOp::Exp:
      return {mul(g, out())};
    case UnaryOp::Log:
      return {div(g, in(0))};
    case UnaryOp::Sqrt:
      return {div(g, mul(out(), 2))};
    case UnaryOp::Rsqrt: {
      const Tensor y = out();
      return {mul(mul(g, mul(square(y), y)), -0.5)};
    }
    case UnaryOp::Square:
      return {mul(g, mul(in(0), 2))};
    case UnaryOp::Reciprocal:
      return {neg(mul(g, square(out())))};
    case UnaryOp::Relu:
      return {relu_backward(g, out())};
    case UnaryOp::Sigmoid: {
      const Tensor y = out();
      return {mul(g, mul(y, sub(1, y)))};
    }
    case UnaryOp::Tanh:
      return {mul(g, sub(1, square(out())))};
    case UnaryOp::kCount:
      break;
  }
  PARITY_INTERNAL_FAIL("backward: no rule for unary op #", static_cast<int>(unary));
}

std::vector<Tensor> OpNode::binary_backward(const Tensor& g) const {
  const bool need0 = needs_input_grad(0), need1 = needs_input_grad(1);
  Tensor ga, gb;
  switch (binary) {
    case BinaryOp::Add:
      if (need0) ga = g;
      if (need1) gb = g;
      break;
    case BinaryOp::Sub:
      if (need0) ga = g;
      if (need1) gb = neg(g);
      break;
    case BinaryOp::Mul:
      if (need0) ga = mul(g, in(1));
      if (need1) gb = mul(g, in(0));
      break;
    case BinaryOp::Div: {
      const Tensor b = in(1);
      if (need0) ga = div(g, b);
      if (need1) gb = neg(div(mul(g, in(0)), square(b)));
      break;
    }
    case BinaryOp::Pow: {
      const Tensor a = in(0), b = in(1);
      const Tensor zero = zero_like_scalar(g);
      if (need0) ga = where(eq(b, 0), zero, mul(mul(g, b), pow(a, sub(b, 1))));
      if (need1) {
        const Tensor d = mul(g, mul(out(), log(a)));
        gb = where(eq(a, 0), where(ge(b, 0), zero, d), d);
      }
      break;
    }
    case BinaryOp::Maximum:
    case BinaryOp::Minimum: {
      const Tensor a = in(0), b = in(1);
      const Tensor tie = eq(a, b);
      const Tensor half = mul(g, 0.5);
      const Tensor a_wins = binary == BinaryOp::Maximum ? gt(a, b) : lt(a, b);
      const Tensor b_wins = binary == BinaryOp::Maximum ? gt(b, a) : lt(b, a);
      if (need0) ga = where(a_wins, g, masked(tie, half));
      if (need1) gb = where(b_wins, g, masked(tie, half));
      break;
    }
    case BinaryOp::ReluBackward:  // linear in the gradient a, masked by b; constant in b (almost everywhere)
      if (need0) ga = relu_backward(g, in(1));
      break;
    default:
      PARITY_INTERNAL_FAIL("backward: ", parity::name(binary), " is not differentiable");
  }
  return {ga.defined() ? sum_to(ga, in_shape(0)) : ga, gb.defined() ? sum_to(gb, in_shape(1)) : gb};
}

std::vector<Tensor> OpNode::scalar_backward(const Tensor& g) const {
  const double s = s0.to_double();
  switch (binary) {
    case BinaryOp::Add:
      return {g};
    case BinaryOp::Sub:
      return {scalar_first ? neg(g) : g};
    case BinaryOp::Mul:
      return {mul(g, s0)};
    case BinaryOp::Div:
      if (!scalar_first) return {div(g, s0)};
      return {neg(div(mul(g, s0), square(in(0))))};
    case BinaryOp::Pow:
      if (scalar_first) {                                                                   // s^x
        if (s == 0) return {zeros(g.shape(), {.dtype = g.dtype(), .device = g.device()})};  // see the note
        return {mul(mul(g, out()), std::log(s))};
      }
      if (s == 0) return {zeros(g.shape(), {.dtype = g.dtype(), .device = g.device()})};
      return {mul(mul(g, s0), pow(in(0), s - 1))};
    case BinaryOp::Maximum:
    case BinaryOp::Minimum: {
      const Tensor x = in(0);
      const Tensor wins = binary == BinaryOp::Maximum ? gt(x, s0) : lt(x, s0);
      return {where(wins, g, masked(eq(x, s0), mul(g, 0.5)))};
    }
    case BinaryOp::ReluBackward:  // relu_backward(x, s): x or 0 by s's sign; relu_backward(s, x): constant
      if (scalar_first) return {zeros(g.shape(), {.dtype = g.dtype(), .device = g.device()})};
      return {relu_backward(g, s0)};
    default:
      PARITY_INTERNAL_FAIL("backward: ", parity::name(binary), " is not differentiable");
  }
}

std::vector<Tensor> OpNode::reduce_backward(const Tensor& g) const {
  const Shape& shape = in_shape(0);
  const Tensor g_kept = g.reshape(kept_shape(shape, dims));
  std::int64_t count = 1;
  for (std::int64_t d : dims) count *= shape[d];
  switch (reduce) {
    case ReduceOp::Sum:
      return {g_kept.expand(shape)};
    case ReduceOp::Mean:
      return {div(g_kept, static_cast<double>(count)).expand(shape)};
    case ReduceOp::Max:
    case ReduceOp::Min: {
      const Tensor x = in(0);
      const Tensor mask = eq(x, out().reshape(kept_shape(shape, dims)));
      const Tensor ties = sum(mask.to(g.dtype()), dims, /*keepdim=*/true);
      return {masked(mask, div(g_kept, ties))};
    }
    default:
      PARITY_INTERNAL_FAIL("backward: ", parity::name(reduce), " is not differentiable");
  }
}

// NumPy matmul: 1-D operands were promoted to matrices and the added dim
// removed; batch dims broadcast. Put the removed dims back into g, take the
// matrix gradients, sum over broadcast batch dims, and drop the added dims.
std::vector<Tensor> OpNode::matmul_backward(const Tensor& g) const {
  const Shape& as = in_shape(0);
  const Shape& bs = in_shape(1);
  Tensor g2 = g;
  if (bs.size() == 1) g2 = g2.unsqueeze(-1);
  if (as.size() == 1) g2 = g2.unsqueeze(-2);
  Tensor ga, gb;
  if (needs_input_grad(0)) {
    const Tensor b = in(1);
    const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    const Shape a2_shape = as.size() == 1 ? Shape{1, as[0]} : as;
    ga = sum_to(matmul(g2, b2.transpose(-1, -2)), a2_shape).reshape(as);
  }
  if (needs_input_grad(1)) {
    const Tensor a = in(0);
    const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Shape b2_shape = bs.size() == 1 ? Shape{bs[0], 1} : bs;
    gb = sum_to(matmul(a2.transpose(-1, -2), g2), b2_shape).reshape(bs);
  }
  return {ga, gb};
}

std::vector<Tensor> OpNode::apply(std::vector<Tensor>& grads) {
  const Tensor& g = grads[0];
  switch (kind) {
    case OpKind::Unary:
      return unary_backward(g);
    case OpKind::Binary:
      return binary_backward(g);
    case OpKind::BinaryScalar:
      return scalar_backward(g);
    case OpKind::Where: {
      const Tensor cond = in(0);
      const Tensor zero = zero_like_scalar(g);
      Tensor ga, gb;
      if (needs_input_grad(1)) ga = sum_to(where(cond, g, zero), in_shape(1));
      if (needs_input_grad(2)) gb = sum_to(where(cond, zero, g), in_shape(2));
      return {Tensor(), ga, gb};
    }
    case OpKind::Clamp: {
      const Tensor x = in(0);
      const Tensor zero = zero_like_scalar(g);
      return {where(ge(x, s0), where(le(x, s1), g, zero), zero)};
    }
    case OpKind::Cast:
      return {g.to(input_meta_[0].dtype)};
    case OpKind::Reduce:
      return reduce_backward(g);
    case OpKind::Matmul:
      return matmul_backward(g);
    case OpKind::Reshape:
      return {g.reshape(in_shape(0))};
    case OpKind::Permute: {
      std::vector<std::int64_t> inverse(dims.size());
      for (std::size_t i = 0; i < dims.size(); ++i) inverse[dims[i]] = static_cast<std::int64_t>(i);
      return {g.permute(inverse)};
    }
    case OpKind::Transpose:
      return {g.transpose(dim, dim1)};
    case OpKind::Slice: {
      Tensor full = zeros(in_shape(0), {.dtype = g.dtype(), .device = g.device()});
      full.slice(dim, start, end, step).copy_(g);
      return {full};
    }
    case OpKind::Select: {
      Tensor full = zeros(in_shape(0), {.dtype = g.dtype(), .device = g.device()});
      full.select(dim, start).copy_(g);
      return {full};
    }
    case OpKind::Expand:
      return {sum_to(g, in_shape(0))};
    case OpKind::Clone:
      return {g};
    case OpKind::ToDevice:
      return {g.to(input_meta_[0].device)};
    case OpKind::Conv2d: {
      std::vector<Tensor> grads(input_meta_.size());
      if (needs_input_grad(0)) grads[0] = conv2d_backward_input(g, in(1), in_shape(0), conv);
      if (needs_input_grad(1)) grads[1] = conv2d_backward_weight(in(0), g, in_shape(1), conv);
      if (grads.size() > 2 && needs_input_grad(2)) grads[2] = conv2d_backward_bias(g, conv.layout);
      return grads;
    }
    case OpKind::Pool2d:
      if (pool_kind == PoolKind::Max) return {pool2d_backward(pool_kind, in(0), out(), g, in_shape(0), pool)};
      return {pool2d_backward(pool_kind, Tensor(), Tensor(), g, in_shape(0), pool)};
    case OpKind::kCount:
      break;
  }
  PARITY_INTERNAL_FAIL("backward: no rule for ", op_name);
}

// Nodes with no inputs: an in-place op that overwrote a tensor with values that
// depend on nothing requiring grad (fill_, or copy_ from a constant). The
// tensor still requires grad, as in PyTorch; no gradient flows anywhere.
class ConstantNode final : public Node {
 public:
  explicit ConstantNode(std::string name) : Node(/*sequenced=*/true), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(std::vector<Tensor>&) override { return {}; }

 private:
  std::string name_;
};

}  // namespace

std::shared_ptr<Node> make_op_node(const OpRecord& op, const Tensor& output) {
  auto node = detail::make_node<OpNode>();
  for (const Tensor* input : op.inputs) {
    if (input != nullptr) detail::add_input(*node, *input);
  }
  node->kind = op.kind;
  node->op_name = op.name;
  node->unary = op.unary;
  node->binary = op.binary;
  node->reduce = op.reduce;
  node->s0 = op.scalar;
  node->s1 = op.scalar2;
  node->scalar_first = op.scalar_first;
  node->dim = op.dim;
  node->dim1 = op.dim1;
  node->start = op.start;
  node->end = op.end;
  node->step = op.step;
  if (op.conv != nullptr) node->conv = *op.conv;
  if (op.pool != nullptr) node->pool = *op.pool;
  node->pool_kind = op.pool_kind;
  const int ndim = op.inputs[0]->dim();
  if (op.kind == OpKind::Reduce) {
    if (op.dims == nullptr || op.dims->empty()) {
      for (int d = 0; d < ndim; ++d) node->dims.push_back(d);
    } else {
      for (std::int64_t d : *op.dims) node->dims.push_back(wrap_dim(d, ndim, op.name));
    }
  } else if (op.kind == OpKind::Permute) {
    for (std::int64_t d : *op.dims) node->dims.push_back(wrap_dim(d, ndim, op.name));
  }
  save_for_backward(*node, op, output);
  return node;
}

std::shared_ptr<Node> make_constant_node(std::string name) {
  return detail::make_node<ConstantNode>(std::move(name));
}

}  // namespace parity::autograd
