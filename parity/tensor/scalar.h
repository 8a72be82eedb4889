// Scalar: a number passed to an op (fill value, the `2` of `x * 2`, clamp
// bounds). Integers stay exact up to int64; floats are held as double and
// converted to the tensor's dtype by the kernel.
#pragma once

#include <concepts>
#include <cstdint>
#include <ostream>

#include "parity/tensor/macros.h"

namespace parity {

class Scalar {
 public:
  Scalar() = default;
  template <std::floating_point T>
  Scalar(T value) : is_integral_(false), f_(static_cast<double>(value)) {}  // NOLINT: implicit by design
  template <std::integral T>
  Scalar(T value)  // NOLINT: implicit by design
      : is_integral_(true), i_(static_cast<std::int64_t>(value)), f_(static_cast<double>(value)) {}

  bool is_integral() const { return is_integral_; }
  double to_double() const { return f_; }
  std::int64_t to_int64() const { return is_integral_ ? i_ : static_cast<std::int64_t>(f_); }

  // The value as element type T (what a kernel computes with).
  template <typename T>
  T to() const {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(f_);
    else if constexpr (std::is_same_v<T, bool>) return is_integral_ ? i_ != 0 : f_ != 0.0;
    else return static_cast<T>(to_int64());
  }

  friend std::ostream& operator<<(std::ostream& out, const Scalar& s) {
    return s.is_integral_ ? out << s.i_ : out << s.f_;
  }

 private:
  bool is_integral_ = false;
  std::int64_t i_ = 0;
  double f_ = 0.0;
};

}  // namespace parity
