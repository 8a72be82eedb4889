// The backward rules of every differentiable op of the tensor layer, in one
// place (like PyTorch's derivatives.yaml or tinygrad's gradient table).
//
// One Rule per op (each UnaryOp, BinaryOp, scalar form, ReduceOp and the other
// kinds of parity/tensor/autograd_hook.h) holds two facts side by side: what its
// formula reads (so that exactly that is saved when the op is recorded, and
// only for the inputs whose gradient is needed) and the formula. In-place ops
// ask the same table whether the backward reads the old value
// (backward_reads_input). Formulas are written with the public tensor ops, so
// they run on every backend; they run with grad mode off, so they record nothing.
// Static checks below make a new UnaryOp or differentiable BinaryOp without a
// rule a compile error.
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
#include <variant>

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

enum class Reads : std::uint8_t {
  Never,
  Always,
  ForGrad0,  // only when input 0's gradient is needed
  ForGrad1,  // only when input 1's gradient is needed
};

// What a formula reads besides the incoming gradient.
struct Saves {
  Reads input0 = Reads::Never, input1 = Reads::Never, output = Reads::Never;
};

class OpNode;
using Grads = std::vector<Tensor>;
using Formula = Grads (*)(const OpNode& node, const Tensor& g);

struct Rule {
  constexpr Rule() = default;
  constexpr Rule(Saves s, Formula f) : saves(s), formula(f), differentiable(true) {}
  Saves saves;
  Formula formula = nullptr;
  // Set by the constructor that takes a formula. The static_asserts below read
  // this flag, not the pointer: comparing a function template's address with
  // null is not a constant expression under GCC's -fsanitize=undefined.
  bool differentiable = false;
};

// ---- the node ----

class OpNode final : public Node {
 public:
  std::string name() const override { return op_name; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    PARITY_INTERNAL_ASSERT(rule.formula != nullptr, "backward: no rule for ", op_name);
    return rule.formula(*this, grads[0]);
  }
  void release_saved() override {
    for (SavedTensor& s : saved_inputs) s.reset();
    saved_output.reset();
  }

  // What the formulas read.
  Tensor in(int i) const { return saved_inputs[i].unpack(op_name); }
  Tensor out() const { return saved_output.unpack(op_name); }
  const Shape& in_shape(int i) const { return input_meta_[i].shape; }
  const InputMeta& in_meta(int i) const { return input_meta_[i]; }
  bool need(int i) const { return needs_input_grad(static_cast<std::size_t>(i)); }
  template <typename A>
  const A& attr() const {
    return std::get<A>(attrs);
  }

  OpKind kind = OpKind::Unary;
  const char* op_name = "";
  autograd_hook::OpAttrs attrs;  // the kind's attributes; Reduce's dims and Permute's order normalized
  Rule rule;
  SavedTensor saved_inputs[2];  // inputs 0 and 1, where the rule reads them
  SavedTensor saved_output;
};

Tensor zeros_like_grad(const Tensor& g) { return zeros(g.shape(), {.dtype = g.dtype(), .device = g.device()}); }

// ---- the rules ----
// Each case: {what the formula reads}, [](node, g) { the formula }.

constexpr Rule unary_rule(UnaryOp op) {
  using N = const OpNode&;
  using T = const Tensor&;
  switch (op) {
    case UnaryOp::Neg:
      return {{}, [](N, T g) -> Grads { return {neg(g)}; }};
    case UnaryOp::Abs:
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads { return {mul(g, sign(n.in(0)))}; }};
    case UnaryOp::Sign:
      return {{}, [](N, T g) -> Grads { return {zeros_like_grad(g)}; }};
    case UnaryOp::Exp:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads { return {mul(g, n.out())}; }};
    case UnaryOp::Log:
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads { return {div(g, n.in(0))}; }};
    case UnaryOp::Sqrt:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads { return {div(g, mul(n.out(), 2))}; }};
    case UnaryOp::Rsqrt:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads {
                const Tensor y = n.out();
                return {mul(mul(g, mul(square(y), y)), -0.5)};
              }};
    case UnaryOp::Square:
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads { return {mul(g, mul(n.in(0), 2))}; }};
    case UnaryOp::Reciprocal:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads { return {neg(mul(g, square(n.out())))}; }};
    case UnaryOp::Relu:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads { return {relu_backward(g, n.out())}; }};
    case UnaryOp::Sigmoid:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads {
                const Tensor y = n.out();
                return {mul(g, mul(y, sub(1, y)))};
              }};
    case UnaryOp::Tanh:
      return {{.output = Reads::Always}, [](N n, T g) -> Grads { return {mul(g, sub(1, square(n.out())))}; }};
    case UnaryOp::Softplus:  // d/dx log(1 + exp(x)) = sigmoid(x)
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads { return {mul(g, sigmoid(n.in(0)))}; }};
    case UnaryOp::Log1p:  // 1 / (1 + x)
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads { return {div(g, add(n.in(0), 1))}; }};
    case UnaryOp::Expm1:  // exp(x) = y + 1
      return {{.output = Reads::Always}, [](N n, T g) -> Grads { return {mul(g, add(n.out(), 1))}; }};
    case UnaryOp::kCount:
      break;
  }
  return {};
}

// ga and gb summed back to the inputs' shapes (they were broadcast).
Grads binary_grads(const OpNode& n, Tensor ga, Tensor gb) {
  return {ga.defined() ? sum_to(ga, n.in_shape(0)) : ga, gb.defined() ? sum_to(gb, n.in_shape(1)) : gb};
}

template <bool kMax>
Grads extreme_binary(const OpNode& n, const Tensor& g) {
  const Tensor a = n.in(0), b = n.in(1);
  const Tensor tie = eq(a, b), half = mul(g, 0.5);
  const Tensor a_wins = kMax ? gt(a, b) : lt(a, b), b_wins = kMax ? gt(b, a) : lt(b, a);
  return binary_grads(n, n.need(0) ? where(a_wins, g, masked(tie, half)) : Tensor(),
                      n.need(1) ? where(b_wins, g, masked(tie, half)) : Tensor());
}

constexpr Rule binary_rule(BinaryOp op) {
  using N = const OpNode&;
  using T = const Tensor&;
  switch (op) {
    case BinaryOp::Add:
      return {{}, [](N n, T g) { return binary_grads(n, n.need(0) ? g : Tensor(), n.need(1) ? g : Tensor()); }};
    case BinaryOp::Sub:
      return {{}, [](N n, T g) { return binary_grads(n, n.need(0) ? g : Tensor(), n.need(1) ? neg(g) : Tensor()); }};
    case BinaryOp::Mul:  // da = g*b, db = g*a
      return {{.input0 = Reads::ForGrad1, .input1 = Reads::ForGrad0}, [](N n, T g) {
                return binary_grads(n, n.need(0) ? mul(g, n.in(1)) : Tensor(), n.need(1) ? mul(g, n.in(0)) : Tensor());
              }};
    case BinaryOp::Div:  // da = g/b, db = -g*a/b^2
      return {{.input0 = Reads::ForGrad1, .input1 = Reads::Always}, [](N n, T g) {
                const Tensor b = n.in(1);
                return binary_grads(n, n.need(0) ? div(g, b) : Tensor(),
                                    n.need(1) ? neg(div(mul(g, n.in(0)), square(b))) : Tensor());
              }};
    case BinaryOp::Pow:  // da = g*b*a^(b-1), db = g*out*log(a); Note [Gradients at ties and kinks]
      return {{.input0 = Reads::Always, .input1 = Reads::Always, .output = Reads::ForGrad1}, [](N n, T g) {
                const Tensor a = n.in(0), b = n.in(1), zero = zero_like_scalar(g);
                Tensor ga, gb;
                if (n.need(0)) ga = where(eq(b, 0), zero, mul(mul(g, b), pow(a, sub(b, 1))));
                if (n.need(1)) {
                  const Tensor d = mul(g, mul(n.out(), log(a)));
                  gb = where(eq(a, 0), where(ge(b, 0), zero, d), d);
                }
                return binary_grads(n, ga, gb);
              }};
    case BinaryOp::Maximum:
      return {{.input0 = Reads::Always, .input1 = Reads::Always}, extreme_binary<true>};
    case BinaryOp::Minimum:
      return {{.input0 = Reads::Always, .input1 = Reads::Always}, extreme_binary<false>};
    case BinaryOp::ReluBackward:  // linear in the gradient a, masked by b; constant in b (almost everywhere)
      return {{.input1 = Reads::ForGrad0}, [](N n, T g) {
                return binary_grads(n, n.need(0) ? relu_backward(g, n.in(1)) : Tensor(), Tensor());
              }};
    default:
      break;  // comparisons: bool outputs, never recorded (the static_asserts below check the rest)
  }
  return {};
}

template <bool kMax>
Grads extreme_scalar(const OpNode& n, const Tensor& g) {
  const Tensor x = n.in(0);
  const Scalar s = n.attr<autograd_hook::ScalarAttrs>().scalar;
  const Tensor wins = kMax ? gt(x, s) : lt(x, s);
  return {where(wins, g, masked(eq(x, s), mul(g, 0.5)))};
}

// op(x, s), or op(s, x) when scalar_first.
constexpr Rule scalar_rule(BinaryOp op, bool scalar_first) {
  using N = const OpNode&;
  using T = const Tensor&;
  using A = autograd_hook::ScalarAttrs;
  switch (op) {
    case BinaryOp::Add:
      return {{}, [](N, T g) -> Grads { return {g}; }};
    case BinaryOp::Sub:
      if (scalar_first) return {{}, [](N, T g) -> Grads { return {neg(g)}; }};
      return {{}, [](N, T g) -> Grads { return {g}; }};
    case BinaryOp::Mul:
      return {{}, [](N n, T g) -> Grads { return {mul(g, n.attr<A>().scalar)}; }};
    case BinaryOp::Div:
      if (scalar_first) {  // d(s/x) = -g*s/x^2
        return {{.input0 = Reads::Always},
                [](N n, T g) -> Grads { return {neg(div(mul(g, n.attr<A>().scalar), square(n.in(0))))}; }};
      }
      return {{}, [](N n, T g) -> Grads { return {div(g, n.attr<A>().scalar)}; }};
    case BinaryOp::Pow:  // Note [Gradients at ties and kinks]: 0 where the base or exponent is 0
      if (scalar_first) {  // d(s^x) = g*out*log(s)
        return {{.output = Reads::Always}, [](N n, T g) -> Grads {
                  const double s = n.attr<A>().scalar.to_double();
                  if (s == 0) return {zeros_like_grad(g)};
                  return {mul(mul(g, n.out()), std::log(s))};
                }};
      }
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads {  // d(x^s) = g*s*x^(s-1)
                const Scalar s = n.attr<A>().scalar;
                if (s.to_double() == 0) return {zeros_like_grad(g)};
                return {mul(mul(g, s), pow(n.in(0), s.to_double() - 1))};
              }};
    case BinaryOp::Maximum:
      return {{.input0 = Reads::Always}, extreme_scalar<true>};
    case BinaryOp::Minimum:
      return {{.input0 = Reads::Always}, extreme_scalar<false>};
    case BinaryOp::ReluBackward:  // relu_backward(x, s): x or 0 by s's sign; relu_backward(s, x): constant
      if (scalar_first) return {{}, [](N, T g) -> Grads { return {zeros_like_grad(g)}; }};
      return {{}, [](N n, T g) -> Grads { return {relu_backward(g, n.attr<A>().scalar)}; }};
    default:
      break;  // comparisons
  }
  return {};
}

constexpr Rule reduce_rule(ReduceOp op) {
  using N = const OpNode&;
  using T = const Tensor&;
  using A = autograd_hook::ReduceAttrs;
  switch (op) {
    case ReduceOp::Sum:
      return {{}, [](N n, T g) -> Grads {
                const Shape& shape = n.in_shape(0);
                return {g.reshape(kept_shape(shape, n.attr<A>().dims)).expand(shape)};
              }};
    case ReduceOp::Mean:
      return {{}, [](N n, T g) -> Grads {
                const Shape& shape = n.in_shape(0);
                std::int64_t count = 1;
                for (std::int64_t d : n.attr<A>().dims) count *= shape[d];
                return {div(g.reshape(kept_shape(shape, n.attr<A>().dims)), static_cast<double>(count)).expand(shape)};
              }};
    case ReduceOp::Max:
    case ReduceOp::Min:  // Note [Gradients at ties and kinks]: ties share the gradient
      return {{.input0 = Reads::Always, .output = Reads::Always}, [](N n, T g) -> Grads {
                const Shape kept = kept_shape(n.in_shape(0), n.attr<A>().dims);
                const Tensor mask = eq(n.in(0), n.out().reshape(kept));
                const Tensor ties = sum(mask.to(g.dtype()), n.attr<A>().dims, /*keepdim=*/true);
                return {masked(mask, div(g.reshape(kept), ties))};
              }};
    case ReduceOp::ArgMax:
    case ReduceOp::ArgMin:
    case ReduceOp::kCount:
      break;  // integer outputs, never recorded
  }
  return {};
}

// NumPy matmul: 1-D operands were promoted to matrices and the added dim
// removed; batch dims broadcast. Put the removed dims back into g, take the
// matrix gradients, sum over broadcast batch dims, and drop the added dims.
Grads matmul_backward(const OpNode& n, const Tensor& g) {
  const Shape& as = n.in_shape(0);
  const Shape& bs = n.in_shape(1);
  Tensor g2 = g;
  if (bs.size() == 1) g2 = g2.unsqueeze(-1);
  if (as.size() == 1) g2 = g2.unsqueeze(-2);
  Tensor ga, gb;
  if (n.need(0)) {
    const Tensor b = n.in(1);
    const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
    const Shape a2_shape = as.size() == 1 ? Shape{1, as[0]} : as;
    ga = sum_to(matmul(g2, b2.transpose(-1, -2)), a2_shape).reshape(as);
  }
  if (n.need(1)) {
    const Tensor a = n.in(0);
    const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
    const Shape b2_shape = bs.size() == 1 ? Shape{bs[0], 1} : bs;
    gb = sum_to(matmul(a2.transpose(-1, -2), g2), b2_shape).reshape(bs);
  }
  return {ga, gb};
}

// The kinds without sub-ops; Unary, Binary, BinaryScalar and Reduce go to their tables.
Rule kind_rule(OpKind kind, const autograd_hook::OpAttrs& attrs) {
  using N = const OpNode&;
  using T = const Tensor&;
  namespace h = autograd_hook;
  switch (kind) {
    case OpKind::Unary:
      return unary_rule(std::get<h::UnaryAttrs>(attrs).op);
    case OpKind::Binary:
      return binary_rule(std::get<h::BinaryAttrs>(attrs).op);
    case OpKind::BinaryScalar: {
      const auto& a = std::get<h::ScalarAttrs>(attrs);
      return scalar_rule(a.op, a.scalar_first);
    }
    case OpKind::Reduce:
      return reduce_rule(std::get<h::ReduceAttrs>(attrs).op);
    case OpKind::Where:  // input 0 is the condition
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads {
                const Tensor cond = n.in(0), zero = zero_like_scalar(g);
                Tensor ga, gb;
                if (n.need(1)) ga = sum_to(where(cond, g, zero), n.in_shape(1));
                if (n.need(2)) gb = sum_to(where(cond, zero, g), n.in_shape(2));
                return {Tensor(), ga, gb};
              }};
    case OpKind::Clamp:  // the gradient passes where lo <= x <= hi
      return {{.input0 = Reads::Always}, [](N n, T g) -> Grads {
                const auto& a = n.attr<h::ClampAttrs>();
                const Tensor x = n.in(0), zero = zero_like_scalar(g);
                return {where(ge(x, a.lo), where(le(x, a.hi), g, zero), zero)};
              }};
    case OpKind::Cast:
      return {{}, [](N n, T g) -> Grads { return {g.to(n.in_meta(0).dtype)}; }};
    case OpKind::Matmul:
      return {{.input0 = Reads::ForGrad1, .input1 = Reads::ForGrad0}, matmul_backward};
    case OpKind::Reshape:
      return {{}, [](N n, T g) -> Grads { return {g.reshape(n.in_shape(0))}; }};
    case OpKind::Permute:
      return {{}, [](N n, T g) -> Grads {
                const std::vector<std::int64_t>& order = n.attr<h::PermuteAttrs>().order;
                std::vector<std::int64_t> inverse(order.size());
                for (std::size_t i = 0; i < order.size(); ++i) inverse[order[i]] = static_cast<std::int64_t>(i);
                return {g.permute(inverse)};
              }};
    case OpKind::Transpose:
      return {{}, [](N n, T g) -> Grads {
                const auto& a = n.attr<h::TransposeAttrs>();
                return {g.transpose(a.dim0, a.dim1)};
              }};
    case OpKind::Slice:
      return {{}, [](N n, T g) -> Grads {
                const auto& a = n.attr<h::SliceAttrs>();
                Tensor full = zeros(n.in_shape(0), {.dtype = g.dtype(), .device = g.device()});
                full.slice(a.dim, a.start, a.end, a.step).copy_(g);
                return {full};
              }};
    case OpKind::Select:
      return {{}, [](N n, T g) -> Grads {
                const auto& a = n.attr<h::SelectAttrs>();
                Tensor full = zeros(n.in_shape(0), {.dtype = g.dtype(), .device = g.device()});
                full.select(a.dim, a.index).copy_(g);
                return {full};
              }};
    case OpKind::Expand:
      return {{}, [](N n, T g) -> Grads { return {sum_to(g, n.in_shape(0))}; }};
    case OpKind::Clone:
      return {{}, [](N, T g) -> Grads { return {g}; }};
    case OpKind::ToDevice:
      return {{}, [](N n, T g) -> Grads { return {g.to(n.in_meta(0).device)}; }};
    case OpKind::Conv2d:  // dx reads the weight, dweight reads x, dbias neither
      return {{.input0 = Reads::ForGrad1, .input1 = Reads::ForGrad0}, [](N n, T g) -> Grads {
                const Conv2dOptions& o = n.attr<h::Conv2dAttrs>().options;
                Grads grads(n.input_meta_.size());
                if (n.need(0)) grads[0] = conv2d_backward_input(g, n.in(1), n.in_shape(0), o);
                if (n.need(1)) grads[1] = conv2d_backward_weight(n.in(0), g, n.in_shape(1), o);
                if (grads.size() > 2 && n.need(2)) grads[2] = conv2d_backward_bias(g, o.layout);
                return grads;
              }};
    case OpKind::Pool2d: {
      if (std::get<h::Pool2dAttrs>(attrs).kind == PoolKind::Max) {  // finds each window's winner again from x and y
        return {{.input0 = Reads::Always, .output = Reads::Always}, [](N n, T g) -> Grads {
                  const auto& a = n.attr<h::Pool2dAttrs>();
                  return {pool2d_backward(a.kind, n.in(0), n.out(), g, n.in_shape(0), a.options)};
                }};
      }
      return {{}, [](N n, T g) -> Grads {
                const auto& a = n.attr<h::Pool2dAttrs>();
                return {pool2d_backward(a.kind, Tensor(), Tensor(), g, n.in_shape(0), a.options)};
              }};
    }
    case OpKind::kCount:
      break;
  }
  return {};
}

// A new UnaryOp, or a BinaryOp that is not a comparison, without a rule does not compile.
constexpr bool every_unary_op_has_a_rule() {
  for (int i = 0; i < static_cast<int>(UnaryOp::kCount); ++i) {
    if (!unary_rule(static_cast<UnaryOp>(i)).differentiable) return false;
  }
  return true;
}
constexpr bool every_arithmetic_binary_op_has_rules() {
  for (int i = 0; i < static_cast<int>(BinaryOp::kCount); ++i) {
    const auto op = static_cast<BinaryOp>(i);
    if (is_comparison(op)) continue;
    if (!binary_rule(op).differentiable || !scalar_rule(op, false).differentiable || !scalar_rule(op, true).differentiable) {
      return false;
    }
  }
  return true;
}
static_assert(every_unary_op_has_a_rule(), "derivatives.cpp: add the new UnaryOp's rule to unary_rule");
static_assert(every_arithmetic_binary_op_has_rules(),
              "derivatives.cpp: add the new BinaryOp's rules to binary_rule and scalar_rule");

bool reads(Reads r, const OpNode& node) {
  switch (r) {
    case Reads::Never:
      return false;
    case Reads::Always:
      return true;
    case Reads::ForGrad0:
      return node.need(0);
    case Reads::ForGrad1:
      return node.need(1);
  }
  return true;
}

bool may_read(Reads r) { return r != Reads::Never; }

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
  node->attrs = op.attrs;
  const int ndim = op.inputs[0]->dim();
  if (auto* r = std::get_if<autograd_hook::ReduceAttrs>(&node->attrs)) {  // the reduced dims, normalized
    std::vector<std::int64_t> dims;
    if (r->dims.empty()) {
      for (int d = 0; d < ndim; ++d) dims.push_back(d);
    } else {
      for (std::int64_t d : r->dims) dims.push_back(wrap_dim(d, ndim, op.name));
    }
    r->dims = std::move(dims);
  } else if (auto* p = std::get_if<autograd_hook::PermuteAttrs>(&node->attrs)) {
    for (std::int64_t& d : p->order) d = wrap_dim(d, ndim, op.name);
  }
  node->rule = kind_rule(op.kind, node->attrs);
  PARITY_INTERNAL_ASSERT(node->rule.formula != nullptr, "autograd: ", op.name, " was recorded but has no backward rule");
  const Saves& saves = node->rule.saves;
  for (int i = 0; i < 2; ++i) {
    if (reads(i == 0 ? saves.input0 : saves.input1, *node)) {
      node->saved_inputs[i] = SavedTensor(*op.inputs[i], SavedTensor::Role::Input, i);
    }
  }
  if (reads(saves.output, *node)) node->saved_output = SavedTensor(output, SavedTensor::Role::Output, 0);
  return node;
}

bool backward_reads_input(const autograd_hook::InplaceRecord& op) {
  using autograd_hook::InplaceKind;
  switch (op.kind) {
    case InplaceKind::Fill:
    case InplaceKind::Copy:
      return false;
    case InplaceKind::Unary:
      return may_read(unary_rule(op.unary).saves.input0);
    case InplaceKind::Binary:
      return may_read(binary_rule(op.binary).saves.input0);
    case InplaceKind::BinaryScalar:
      return may_read(scalar_rule(op.binary, /*scalar_first=*/false).saves.input0);
    case InplaceKind::Clamp:
      return may_read(kind_rule(OpKind::Clamp, autograd_hook::ClampAttrs{}).saves.input0);
  }
  return true;
}

std::shared_ptr<Node> make_constant_node(std::string name) {
  return detail::make_node<ConstantNode>(std::move(name));
}

}  // namespace parity::autograd
