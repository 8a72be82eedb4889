// DType: the element types a Tensor can hold, and the compile-time map from a
// DType to its C++ type used by every kernel's dispatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <type_traits>

#include "parity/tensor/error.h"

namespace parity {

enum class DType : std::uint8_t { Float32, Float64, Int32, Int64, UInt8, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kBool = DType::Bool;

constexpr std::size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
    case DType::Bool: return 1;
  }
  return 0;
}

constexpr std::string_view name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType dtype) { return dtype == kFloat32 || dtype == kFloat64; }
constexpr bool is_integral(DType dtype) {
  return dtype == kInt32 || dtype == kInt64 || dtype == kUInt8;
}

inline std::ostream& operator<<(std::ostream& out, DType dtype) { return out << name(dtype); }

// The DType of a C++ element type.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = kFloat32; };
template <> struct dtype_of<double> { static constexpr DType value = kFloat64; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = kInt32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = kInt64; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = kUInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = kBool; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

// Calls fn.template operator()<T>() with T the C++ type of `dtype`:
//   dispatch_dtype(t.dtype(), [&]<typename T>() { ... });
template <typename Fn>
decltype(auto) dispatch_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    case DType::Int32: return fn.template operator()<std::int32_t>();
    case DType::Int64: return fn.template operator()<std::int64_t>();
    case DType::UInt8: return fn.template operator()<std::uint8_t>();
    case DType::Bool: return fn.template operator()<bool>();
  }
  PARITY_INTERNAL_FAIL("dispatch_dtype: unknown dtype ", static_cast<int>(dtype));
}

// The same for floating types only; other dtypes throw naming `op`.
template <typename Fn>
decltype(auto) dispatch_floating(DType dtype, const char* op, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn.template operator()<float>();
    case DType::Float64: return fn.template operator()<double>();
    default: break;
  }
  PARITY_FAIL(op, ": expected a floating dtype (float32 or float64), got ", dtype);
}

}  // namespace parity
