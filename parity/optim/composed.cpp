// Composed mode: the functors of parity/optim/update.h with tensors as values.
//
// TensorArith maps each rounded scalar operation onto the tensor op that
// performs it elementwise with the same single rounding (parity::add for ⊕,
// parity::mul for ⊗, ...); a scalar operand stays a float until it meets a
// tensor, where it becomes the op's Scalar (converted back to the same float).
// Fused multiply-adds have no tensor op: a preset with an FMA site is refused
// before we get here (Adam/Adadelta/SGD::check_runnable), and fma() throws.
#include "parity/optim/composed.h"

#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::optim::composed {

namespace {

// A value of the composed computation: a tensor, or a float scalar.
struct TV {
  Tensor t;
  float s = 0.0f;
  bool is_scalar() const { return !t.defined(); }
};

struct TensorArith {
  using V = TV;
  static TV lift(TV x) { return x; }
  static TV lift(float x) { return TV{Tensor(), x}; }

  template <class Fs, class Ft>
  static TV binary(TV a, TV b, Fs scalar_op, Ft tensor_op) {
    if (a.is_scalar() && b.is_scalar()) return lift(scalar_op(a.s, b.s));
    if (a.is_scalar()) return TV{tensor_op(Scalar(a.s), b.t)};
    if (b.is_scalar()) return TV{tensor_op(a.t, Scalar(b.s))};
    return TV{tensor_op(a.t, b.t)};
  }

  // One rounded binary operation: the scalar path's on two floats, the tensor op otherwise.
  template <BinaryOp Op, class X, class Y>
  static TV rounded(X a, Y b, float (*scalar_op)(float, float)) {
    return binary(lift(a), lift(b), scalar_op, [](auto x, auto y) { return parity::binary(Op, x, y); });
  }
  template <class X, class Y> static TV add(X a, Y b) { return rounded<BinaryOp::Add>(a, b, kernel::ScalarArith::add); }
  template <class X, class Y> static TV sub(X a, Y b) { return rounded<BinaryOp::Sub>(a, b, kernel::ScalarArith::sub); }
  template <class X, class Y> static TV mul(X a, Y b) { return rounded<BinaryOp::Mul>(a, b, kernel::ScalarArith::mul); }
  template <class X, class Y> static TV div(X a, Y b) { return rounded<BinaryOp::Div>(a, b, kernel::ScalarArith::div); }
  template <class X, class Y, class Z>
  static TV fma(X, Y, Z) {
    PARITY_FAIL(
        "optimizer (composed mode): the preset has a fused multiply-add site, which no tensor op "
        "computes; use Execution::Fused");
  }
  static TV sqrt(TV a) {
    return a.is_scalar() ? lift(kernel::ScalarArith::sqrt(a.s)) : TV{parity::sqrt(a.t)};
  }
  static TV neg(TV a) { return a.is_scalar() ? lift(-a.s) : TV{parity::neg(a.t)}; }
  static TV copy(TV a) { return a; }
  static TV load(TV a) { return a; }
  static TV flush(TV a) {
    if (a.is_scalar()) return lift(kernel::ScalarArith::flush(a.s));
    return TV{where(lt(parity::abs(a.t), kernel::kFloatMinNormal), parity::mul(a.t, 0.0f), a.t)};
  }
  static TV max(TV a, TV b) { return rounded<BinaryOp::Maximum>(a, b, kernel::ScalarArith::max); }
  static TV rsqrt(TV a, RsqrtMode mode) {
    if (a.is_scalar()) return lift(kernel::ScalarArith::rsqrt(a.s, mode));
    switch (mode) {
      case RsqrtMode::Exact:  // 1/sqrt in double, rounded once
        return TV{cast(parity::div(Scalar(1.0), parity::sqrt(cast(a.t, kFloat64))), kFloat32)};
      case RsqrtMode::OneOverSqrt:
        return TV{parity::div(Scalar(1.0f), parity::sqrt(a.t))};
      default:
        break;
    }
    PARITY_FAIL(
        "optimizer (composed mode): the preset uses the CPU's rsqrt estimate (RsqrtMode::EigenAvx*), "
        "which no tensor op computes; use Execution::Fused");
  }
};

using FtzTensorArith = kernel::Ftz<TensorArith>;

// The [begin, end) part of a flat view.
Tensor part(const Tensor& t, std::int64_t begin, std::int64_t end) {
  return t.reshape({t.numel()}).narrow(0, begin, end - begin);
}

template <class Fn>
void for_parts(std::int64_t n, std::int64_t body_end, const Fn& fn) {
  if (body_end > 0) fn(true, 0, std::min(body_end, n));
  if (body_end < n) fn(false, body_end, n);
}

void store(Tensor dst, const TV& value) {
  if (value.is_scalar())
    dst.fill_(value.s);
  else
    dst.copy_(value.t);
}

}  // namespace

void adam(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& vmax,
          std::int64_t body_end, const AdamElementwise& body, const AdamElementwise& tail,
          const kernel::AdamScalars& s) {
  for_parts(p.numel(), body_end, [&](bool is_body, std::int64_t b, std::int64_t e) {
    const AdamElementwise& k = is_body ? body : tail;
    TV P{part(p, b, e)}, G{part(g, b, e)}, M{part(m, b, e)}, Vv{part(v, b, e)};
    TV VM = vmax.defined() ? TV{part(vmax, b, e)} : TV{Tensor(), 0.0f};
    if (k.ftz)
      kernel::adam_element<FtzTensorArith>(k, s, P, G, M, Vv, VM);
    else
      kernel::adam_element<TensorArith>(k, s, P, G, M, Vv, VM);
    store(part(m, b, e), M);
    store(part(v, b, e), Vv);
    if (vmax.defined()) store(part(vmax, b, e), VM);
    store(part(p, b, e), P);
  });
}

void adadelta(const Tensor& p, const Tensor& g, const Tensor& a, const Tensor& d, std::int64_t body_end,
              const AdadeltaElementwise& body, const AdadeltaElementwise& tail,
              const kernel::AdadeltaScalars& s) {
  for_parts(p.numel(), body_end, [&](bool is_body, std::int64_t b, std::int64_t e) {
    const AdadeltaElementwise& k = is_body ? body : tail;
    TV P{part(p, b, e)}, G{part(g, b, e)}, A{part(a, b, e)}, D{part(d, b, e)};
    if (k.ftz)
      kernel::adadelta_element<FtzTensorArith>(k, s, P, G, A, D);
    else
      kernel::adadelta_element<TensorArith>(k, s, P, G, A, D);
    store(part(a, b, e), A);
    store(part(d, b, e), D);
    store(part(p, b, e), P);
  });
}

void sgd(const Tensor& p, const Tensor& g, const Tensor& buf, std::int64_t body_end,
         const SgdElementwise& body, const SgdElementwise& tail, const kernel::SgdScalars& s) {
  for_parts(p.numel(), body_end, [&](bool is_body, std::int64_t b, std::int64_t e) {
    const SgdElementwise& k = is_body ? body : tail;
    TV P{part(p, b, e)}, G{part(g, b, e)};
    TV B = buf.defined() ? TV{part(buf, b, e)} : TV{Tensor(), 0.0f};
    if (k.ftz)
      kernel::sgd_element<FtzTensorArith>(k, s, P, G, B);
    else
      kernel::sgd_element<TensorArith>(k, s, P, G, B);
    if (buf.defined()) store(part(buf, b, e), B);
    store(part(p, b, e), P);
  });
}

}  // namespace parity::optim::composed
