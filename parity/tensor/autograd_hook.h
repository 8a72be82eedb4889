// The seam between the tensor layer and autograd (Note [Autograd hook]).
//
// The tensor layer must not include autograd/ (docs/ARCHITECTURE.md, "Layers"), yet every
// public op (parity/tensor/ops.h) and every Tensor view/copy method must record itself
// on the tape when one of its inputs requires grad. So the tensor layer calls
// through this small table of function pointers, which the autograd layer
// fills in when it is first needed (parity/autograd/record.cpp installs it at static
// initialization and again from Tensor::requires_grad_, the only way a tensor
// comes to require grad, so a static library cannot drop it).
//
// Note [Autograd hook]: the cost for tensors that need no grad is one load of
// the requires_grad flag per input. Each op calls
//   if (x.requires_grad()) autograd_hook::record(out, {...});
// after its forward ran, describing itself with an OpRecord (its kind, its
// inputs and its attributes: dims, keepdim, scalars, slice parameters). The
// recorder checks the thread's grad mode, decides what backward needs saved
// and attaches the tape node to `out`; the backward formulas live in one place,
// parity/autograd/derivatives.cpp. In-place ops call autograd_hook::inplace() before
// running: when grad mode is on and an operand requires grad, autograd either
// throws a clear error (a leaf that requires grad, a view) or runs the op in a
// way it can differentiate and rebases the tensor's history; when grad mode is
// off it returns false and the op runs as usual.
//
// Ops that call other public ops internally pass autograd_hook::raw(x), an
// alias of x that does not require grad, so only the outer op records.
#pragma once

#include <atomic>
#include <cstdint>
#include <variant>
#include <vector>

#include "parity/tensor/conv.h"
#include "parity/tensor/op_kinds.h"
#include "parity/tensor/pool.h"
#include "parity/tensor/scalar.h"
#include "parity/tensor/tensor.h"

namespace parity::autograd_hook {

// The differentiable op kinds the tensor layer reports. parity/autograd/derivatives.cpp
// has one backward rule per kind (and per UnaryOp/BinaryOp/ReduceOp within one).
// Each kind carries its own attributes (below); the comment says which.
enum class OpKind : std::uint8_t {
  Unary,         // unary: inputs {x}; UnaryAttrs
  Binary,        // binary: inputs {a, b}; BinaryAttrs
  BinaryScalar,  // binary with a scalar: inputs {x}; ScalarAttrs
  Where,         // inputs {cond, a, b}
  Clamp,         // inputs {x}; ClampAttrs
  Cast,          // inputs {x}; the output's dtype is the target
  Reduce,        // sum/mean/max/min: inputs {x}; ReduceAttrs
  Matmul,        // inputs {a, b}
  Reshape,       // view, reshape, squeeze, unsqueeze (flatten goes through reshape): inputs {x}
  Permute,       // inputs {x}; PermuteAttrs
  Transpose,     // inputs {x}; TransposeAttrs
  Slice,         // inputs {x}; SliceAttrs
  Select,        // inputs {x}; SelectAttrs
  Expand,        // inputs {x}
  Clone,         // clone, contiguous: inputs {x}
  ToDevice,      // to(Device): inputs {x}
  Conv2d,        // inputs {x, weight, bias or null}; Conv2dAttrs
  Pool2d,        // inputs {x}; Pool2dAttrs
  kCount
};

// The attributes of each kind: what its backward needs besides the tensors.
struct NoAttrs {};
struct UnaryAttrs {
  UnaryOp op;
};
struct BinaryAttrs {
  BinaryOp op;
};
struct ScalarAttrs {
  BinaryOp op;
  Scalar scalar;
  bool scalar_first;  // op(scalar, x) rather than op(x, scalar)
};
struct ClampAttrs {
  Scalar lo, hi;
};
struct ReduceAttrs {
  ReduceOp op;
  std::vector<std::int64_t> dims;  // as given (the recorder normalizes them; empty: all)
  bool keepdim;
};
struct PermuteAttrs {
  std::vector<std::int64_t> order;  // as given
};
struct TransposeAttrs {
  std::int64_t dim0, dim1;  // normalized
};
struct SliceAttrs {
  std::int64_t dim, start, end, step;  // normalized: 0 <= start <= end <= size
};
struct SelectAttrs {
  std::int64_t dim, index;  // normalized
};
struct Conv2dAttrs {
  Conv2dOptions options;
};
struct Pool2dAttrs {
  PoolKind kind;
  Pool2dOptions options;
};
using OpAttrs = std::variant<NoAttrs, UnaryAttrs, BinaryAttrs, ScalarAttrs, ClampAttrs, ReduceAttrs, PermuteAttrs,
                             TransposeAttrs, SliceAttrs, SelectAttrs, Conv2dAttrs, Pool2dAttrs>;

// What an op tells the recorder. Built on the caller's stack; the recorder
// keeps the attributes.
struct OpRecord {
  OpKind kind = OpKind::Unary;
  const char* name = "";  // the public op's name, for grad_fn names and messages
  const Tensor* inputs[3] = {nullptr, nullptr, nullptr};
  OpAttrs attrs{};  // the kind's attributes (NoAttrs for the kinds that have none)
};

// The in-place forms (Tensor::add_, ...), described for autograd.
enum class InplaceKind : std::uint8_t { Fill, Copy, Unary, Binary, BinaryScalar, Clamp };

struct InplaceRecord {
  InplaceKind kind = InplaceKind::Fill;
  const char* name = "";          // the op without its trailing underscore: "add", "copy"
  const Tensor* other = nullptr;  // Copy: the source; Binary: the other operand
  UnaryOp unary = UnaryOp::Neg;
  BinaryOp binary = BinaryOp::Add;
  Scalar scalar{}, scalar2{};  // Fill: the value; BinaryScalar: the scalar; Clamp: lo, hi
};

struct Hooks {
  // Called after the forward of an op some input of which requires grad.
  void (*record)(const OpRecord& op, Tensor& output) = nullptr;
  // Called before an in-place op when self or its operand requires grad. Returns
  // true when it ran the op itself (recording it), false when the caller
  // should run it as usual (grad mode is off).
  bool (*inplace)(const InplaceRecord& op, Tensor& self) = nullptr;
};

// Set by the autograd layer; null until a tensor first requires grad.
inline std::atomic<const Hooks*> g_hooks{nullptr};

inline void record(Tensor& output, const OpRecord& op) {
  if (const Hooks* hooks = g_hooks.load(std::memory_order_acquire)) hooks->record(op, output);
}

inline bool inplace(Tensor& self, const InplaceRecord& op) {
  const Hooks* hooks = g_hooks.load(std::memory_order_acquire);
  return hooks != nullptr && hooks->inplace(op, self);
}

// x itself when it needs no grad, else an alias of it (same storage, offset,
// shape and strides) that neither requires grad nor records: what ops that are
// built from other ops use internally.
inline Tensor raw(const Tensor& x) {
  if (!x.defined() || !x.requires_grad()) return x;
  return make_tensor(x.storage(), x.offset(), x.shape(), x.strides(), x.dtype());
}

}  // namespace parity::autograd_hook
