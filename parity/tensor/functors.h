// The math of every elementwise op, written once.
//
// Note [One formula, two backends]: each functor below is the whole definition
// of its op. The CPU loop (parity/cpu/elementwise.h) and the CUDA launcher
// (parity/cuda/elementwise.cuh) instantiate the same functor, so the backends cannot
// drift apart. add/sub/mul/div/sqrt are single IEEE operations and give the same
// bits on both; exp, expm1, log, log1p, tanh, sigmoid and softplus are parity/tensor/
// portable_math.h's, which give the same bits too (Note [Same bits on every
// device]); pow still calls each platform's libm and may differ in the last place.
//
// Traits on each functor say which dtypes it accepts; the tensor layer checks
// them before dispatch and the backends never instantiate the rest.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "parity/tensor/macros.h"
#include "parity/tensor/op_kinds.h"
#include "parity/tensor/portable_math.h"

namespace parity::functors {

// Which element types an op accepts.
enum class Accepts : std::uint8_t {
  Floating,  // float32, float64
  Numeric,   // floating and integral (int32, int64, uint8)
  All,       // numeric and bool
};

template <typename T>
constexpr bool accepts(Accepts accepts) {
  if constexpr (std::is_same_v<T, bool>) return accepts == Accepts::All;
  else if constexpr (std::is_floating_point_v<T>) return true;
  else return accepts != Accepts::Floating;
}

namespace math {
#if PARITY_DEVICE_CODE
PARITY_FORCE_INLINE float pow(float x, float y) { return ::powf(x, y); }
PARITY_FORCE_INLINE double pow(double x, double y) { return ::pow(x, y); }
PARITY_FORCE_INLINE float sqrt(float x) { return __fsqrt_rn(x); }
PARITY_FORCE_INLINE double sqrt(double x) { return __dsqrt_rn(x); }
#else
PARITY_FORCE_INLINE float pow(float x, float y) { return std::pow(x, y); }
PARITY_FORCE_INLINE double pow(double x, double y) { return std::pow(x, y); }
PARITY_FORCE_INLINE float sqrt(float x) { return std::sqrt(x); }
PARITY_FORCE_INLINE double sqrt(double x) { return std::sqrt(x); }
#endif
template <typename T>
PARITY_FORCE_INLINE bool isnan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  else return false;
}
}  // namespace math

// ---- unary: T -> T ----
#define PARITY_UNARY_FUNCTOR(Name, accepts_, expr)              \
  struct Name {                                                 \
    static constexpr Accepts kAccepts = Accepts::accepts_;      \
    template <typename T>                                       \
    PARITY_FORCE_INLINE T operator()(T x) const { return expr; }      \
  };

PARITY_UNARY_FUNCTOR(Neg, Numeric, static_cast<T>(-x))
// abs(-0.0) is +0.0 (IEEE 754 abs clears the sign); abs(NaN) is NaN.
PARITY_UNARY_FUNCTOR(Abs, Numeric,
                     std::is_unsigned_v<T> ? x
                                           : (x < T(0) ? static_cast<T>(-x) : (x == T(0) ? T(0) : x)))
// sign(NaN) is NaN; sign(+-0) is 0.
PARITY_UNARY_FUNCTOR(Sign, Numeric,
                     math::isnan(x) ? x : static_cast<T>(T(x > T(0)) - T(x < T(0))))
PARITY_UNARY_FUNCTOR(Exp, Floating, pmath::exp(x))
PARITY_UNARY_FUNCTOR(Log, Floating, pmath::log(x))
PARITY_UNARY_FUNCTOR(Sqrt, Floating, math::sqrt(x))
// 1/sqrt(x) as two rounded operations (not the device's approximate rsqrt), so
// both backends agree.
PARITY_UNARY_FUNCTOR(Rsqrt, Floating, T(1) / math::sqrt(x))
PARITY_UNARY_FUNCTOR(Square, Numeric, static_cast<T>(x * x))
PARITY_UNARY_FUNCTOR(Reciprocal, Floating, T(1) / x)
// relu(NaN) is NaN (x < 0 is false for NaN).
PARITY_UNARY_FUNCTOR(Relu, Numeric, x < T(0) ? T(0) : x)
PARITY_UNARY_FUNCTOR(Sigmoid, Floating, pmath::sigmoid(x))
PARITY_UNARY_FUNCTOR(Tanh, Floating, pmath::tanh(x))
PARITY_UNARY_FUNCTOR(Softplus, Floating, pmath::softplus(x))
PARITY_UNARY_FUNCTOR(Log1p, Floating, pmath::log1p(x))
PARITY_UNARY_FUNCTOR(Expm1, Floating, pmath::expm1(x))
#undef PARITY_UNARY_FUNCTOR

// ---- binary: (T, T) -> T, or bool for comparisons ----
#define PARITY_BINARY_FUNCTOR(Name, accepts_, Result, expr)                \
  struct Name {                                                            \
    static constexpr Accepts kAccepts = Accepts::accepts_;                 \
    template <typename T>                                                  \
    using result_t = Result;                                               \
    template <typename T>                                                  \
    PARITY_FORCE_INLINE Result operator()(T a, T b) const { return expr; }       \
  };

PARITY_BINARY_FUNCTOR(Add, Numeric, T, static_cast<T>(a + b))
PARITY_BINARY_FUNCTOR(Sub, Numeric, T, static_cast<T>(a - b))
PARITY_BINARY_FUNCTOR(Mul, Numeric, T, static_cast<T>(a * b))
PARITY_BINARY_FUNCTOR(Div, Floating, T, a / b)
PARITY_BINARY_FUNCTOR(Pow, Floating, T, math::pow(a, b))
// maximum/minimum propagate NaN from either side.
PARITY_BINARY_FUNCTOR(Maximum, Numeric, T,
                      math::isnan(a) ? a : (math::isnan(b) ? b : (a < b ? b : a)))
PARITY_BINARY_FUNCTOR(Minimum, Numeric, T,
                      math::isnan(a) ? a : (math::isnan(b) ? b : (b < a ? b : a)))
// ReLU's backward in one pass: the gradient a where the output b is positive, +0
// elsewhere (relu'(0) = 0; a NaN output passes nothing). The same bits as
// where(b > 0, a, 0), without the mask tensor, and a select of equal-width
// operands, which the CPU loop vectorizes.
PARITY_BINARY_FUNCTOR(ReluBackward, Floating, T, b > T(0) ? a : T(0))
PARITY_BINARY_FUNCTOR(Eq, All, bool, a == b)
PARITY_BINARY_FUNCTOR(Ne, All, bool, a != b)
PARITY_BINARY_FUNCTOR(Lt, All, bool, a < b)
PARITY_BINARY_FUNCTOR(Le, All, bool, a <= b)
PARITY_BINARY_FUNCTOR(Gt, All, bool, a > b)
PARITY_BINARY_FUNCTOR(Ge, All, bool, a >= b)
#undef PARITY_BINARY_FUNCTOR

// f(x, s) or f(s, x) with the scalar bound at construction.
template <typename F, typename T, bool kScalarFirst>
struct BindScalar {
  F f;
  T s;
  PARITY_FORCE_INLINE auto operator()(T x) const { return kScalarFirst ? f(s, x) : f(x, s); }
};

// clamp(NaN) is NaN; bounds are inclusive.
template <typename T>
struct Clamp {
  T lo, hi;
  PARITY_FORCE_INLINE T operator()(T x) const { return x < lo ? lo : (hi < x ? hi : x); }
};

struct Where {
  template <typename T>
  PARITY_FORCE_INLINE T operator()(bool c, T a, T b) const { return c ? a : b; }
};

template <typename To>
struct Cast {
  template <typename From>
  PARITY_FORCE_INLINE To operator()(From x) const {
    if constexpr (std::is_same_v<To, bool>) return x != From(0);
    else return static_cast<To>(x);
  }
};

// Calls fn(Functor{}) for the functor of `op`.
template <typename Fn>
PARITY_HOST_DEVICE constexpr decltype(auto) visit(UnaryOp op, Fn&& fn) {
  switch (op) {
    case UnaryOp::Neg: return fn(Neg{});
    case UnaryOp::Abs: return fn(Abs{});
    case UnaryOp::Sign: return fn(Sign{});
    case UnaryOp::Exp: return fn(Exp{});
    case UnaryOp::Log: return fn(Log{});
    case UnaryOp::Sqrt: return fn(Sqrt{});
    case UnaryOp::Rsqrt: return fn(Rsqrt{});
    case UnaryOp::Square: return fn(Square{});
    case UnaryOp::Reciprocal: return fn(Reciprocal{});
    case UnaryOp::Relu: return fn(Relu{});
    case UnaryOp::Sigmoid: return fn(Sigmoid{});
    case UnaryOp::Tanh: return fn(Tanh{});
    case UnaryOp::Softplus: return fn(Softplus{});
    case UnaryOp::Log1p: return fn(Log1p{});
    case UnaryOp::Expm1: return fn(Expm1{});
    case UnaryOp::kCount: break;
  }
  return fn(Neg{});  // unreachable: the tensor layer validated op
}

template <typename Fn>
PARITY_HOST_DEVICE constexpr decltype(auto) visit(BinaryOp op, Fn&& fn) {
  switch (op) {
    case BinaryOp::Add: return fn(Add{});
    case BinaryOp::Sub: return fn(Sub{});
    case BinaryOp::Mul: return fn(Mul{});
    case BinaryOp::Div: return fn(Div{});
    case BinaryOp::Pow: return fn(Pow{});
    case BinaryOp::Maximum: return fn(Maximum{});
    case BinaryOp::Minimum: return fn(Minimum{});
    case BinaryOp::ReluBackward: return fn(ReluBackward{});
    case BinaryOp::Eq: return fn(Eq{});
    case BinaryOp::Ne: return fn(Ne{});
    case BinaryOp::Lt: return fn(Lt{});
    case BinaryOp::Le: return fn(Le{});
    case BinaryOp::Gt: return fn(Gt{});
    case BinaryOp::Ge: return fn(Ge{});
    case BinaryOp::kCount: break;
  }
  return fn(Add{});  // unreachable: the tensor layer validated op
}

constexpr Accepts accepts_of(UnaryOp op) {
  return visit(op, [](auto f) { return decltype(f)::kAccepts; });
}
constexpr Accepts accepts_of(BinaryOp op) {
  return visit(op, [](auto f) { return decltype(f)::kAccepts; });
}

}  // namespace parity::functors
