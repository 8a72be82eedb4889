// Shapes and strides: the layout arithmetic every view and kernel relies on.
//
// Strides are in elements, not bytes. A tensor has at most kMaxDims dimensions:
// kernels carry shapes and strides in fixed arrays (no allocation on the hot
// path, and the same struct can be passed by value to a CUDA kernel).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace parity {

inline constexpr int kMaxDims = 8;

using Shape = std::vector<std::int64_t>;
using Strides = std::vector<std::int64_t>;

std::int64_t numel(const Shape& shape);

// Row-major ("C order") strides for a dense tensor of `shape`.
Strides contiguous_strides(const Shape& shape);

// True when (shape, strides) address a dense row-major block.
bool is_contiguous(const Shape& shape, const Strides& strides);

// NumPy broadcasting of two shapes; throws naming `op` when they don't broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int wrap_dim(std::int64_t dim, int ndim, const char* op);

// "[2, 3, 4]"
std::string to_string(const Shape& shape);

}  // namespace parity
