// Internal: the argument checks every op front end shares (parity/tensor/ops.cpp,
// parity/tensor/conv.cpp, parity/tensor/pool.cpp), so their messages read the same.
#pragma once

#include <string>
#include <string_view>

#include "parity/tensor/backend.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/tensor.h"

namespace parity::detail {

inline void check_defined(const Tensor& t, const char* op, const char* what) {
  PARITY_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

inline void check_same_device(const Tensor& a, const Tensor& b, std::string_view op) {
  PARITY_CHECK(a.device() == b.device(), op, ": expected both tensors on the same device, got ",
               a.device(), " (shape ", to_string(a.shape()), ") and ", b.device(), " (shape ",
               to_string(b.shape()), ")");
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op) {
  PARITY_CHECK(a.dtype() == b.dtype(), op, ": expected both tensors of the same dtype, got ",
               a.dtype(), " (shape ", to_string(a.shape()), ") and ", b.dtype(), " (shape ",
               to_string(b.shape()), "); convert one with .to(dtype)");
}

inline void check_floating(const Tensor& t, std::string_view op, const char* what) {
  PARITY_CHECK(is_floating(t.dtype()), op, ": expected ", what, " of dtype float32 or float64, got ", t.dtype(),
               " (shape ", to_string(t.shape()), ")");
}

// a and b on one device and of one dtype.
inline void check_like(const Tensor& a, const Tensor& b, std::string_view op) {
  check_same_device(a, b, op);
  check_same_dtype(a, b, op);
}

// The two operands of a kernel: both defined, the first floating, the two alike.
inline void check_operands(const char* op, const Tensor& a, const char* a_what, const Tensor& b,
                           const char* b_what) {
  check_defined(a, op, a_what);
  check_defined(b, op, b_what);
  check_floating(a, op, a_what);
  check_like(a, b, op);
}

inline Backend& backend(const Tensor& t, std::string_view op) {
  return backend_for(t.device(), std::string(op).c_str());
}

inline Tensor new_like(const Shape& shape, DType dtype, Device device) {
  return empty(shape, {.dtype = dtype, .device = device});
}

}  // namespace parity::detail
