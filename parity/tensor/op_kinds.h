// The op kinds a backend implements. Each enum is pinned to its name table by a
// static_assert, so adding an op without naming it fails to compile.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace parity {

enum class UnaryOp : std::uint8_t {
  Neg, Abs, Sign, Exp, Log, Sqrt, Rsqrt, Square, Reciprocal, Relu, Sigmoid, Tanh, Softplus, Log1p, Expm1,
  kCount
};
inline constexpr std::array<std::string_view, static_cast<int>(UnaryOp::kCount)> kUnaryOpNames = {
    "neg", "abs", "sign", "exp", "log", "sqrt", "rsqrt", "square", "reciprocal", "relu",
    "sigmoid", "tanh", "softplus", "log1p", "expm1"};
static_assert(kUnaryOpNames.size() == static_cast<std::size_t>(UnaryOp::kCount));

enum class BinaryOp : std::uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, ReluBackward, Eq, Ne, Lt, Le, Gt, Ge,
  kCount
};
inline constexpr std::array<std::string_view, static_cast<int>(BinaryOp::kCount)> kBinaryOpNames = {
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "relu_backward", "eq", "ne", "lt", "le", "gt", "ge"};
static_assert(kBinaryOpNames.size() == static_cast<std::size_t>(BinaryOp::kCount));

enum class ReduceOp : std::uint8_t { Sum, Mean, Max, Min, ArgMax, ArgMin, kCount };
inline constexpr std::array<std::string_view, static_cast<int>(ReduceOp::kCount)> kReduceOpNames = {
    "sum", "mean", "max", "min", "argmax", "argmin"};
static_assert(kReduceOpNames.size() == static_cast<std::size_t>(ReduceOp::kCount));

enum class RandomKind : std::uint8_t { Uniform, Normal, Integer };

constexpr std::string_view name(UnaryOp op) { return kUnaryOpNames[static_cast<int>(op)]; }
constexpr std::string_view name(BinaryOp op) { return kBinaryOpNames[static_cast<int>(op)]; }
constexpr std::string_view name(ReduceOp op) { return kReduceOpNames[static_cast<int>(op)]; }

constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

}  // namespace parity
