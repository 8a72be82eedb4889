// Tensor factories. Random factories draw from a counter-based Philox
// generator (parity/tensor/generator.h): the same seed and offset give the same
// numbers on the CPU and on CUDA.
#pragma once

#include <cstdint>
#include <vector>

#include "parity/tensor/tensor.h"

namespace parity {

class Generator;

struct TensorOptions {
  DType dtype = kFloat32;
  Device device = Device::cpu();
};

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, Scalar value, TensorOptions options = {});
Tensor empty_like(const Tensor& x);
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
// [start, end) by step; the count is ceil((end - start) / step).
Tensor arange(Scalar start, Scalar end, Scalar step = 1, TensorOptions options = {});
Tensor arange(Scalar end, TensorOptions options = {});
Tensor eye(std::int64_t n, TensorOptions options = {});
Tensor eye(std::int64_t n, std::int64_t m, TensorOptions options = {});

// Uniform in [low, high); float dtypes.
Tensor rand(const Shape& shape, TensorOptions options = {}, double low = 0.0, double high = 1.0,
            Generator* generator = nullptr);
// Normal(mean, stddev); float dtypes.
Tensor randn(const Shape& shape, TensorOptions options = {}, double mean = 0.0, double stddev = 1.0,
             Generator* generator = nullptr);
// Integers in [low, high); integer dtypes (default int64).
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape,
               TensorOptions options = {.dtype = kInt64}, Generator* generator = nullptr);

// Copies host data into a new tensor of `shape` (numel must match the data).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, {static_cast<std::int64_t>(values.size())});
}
// Copies numel(shape) elements of `dtype` from host memory at `data`.
Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
// A 0-d tensor holding one value.
Tensor scalar_tensor(Scalar value, TensorOptions options = {});

}  // namespace parity
