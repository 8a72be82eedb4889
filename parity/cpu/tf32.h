// TF32 on the CPU: float32 operands of matmul and convolution rounded to
// TensorFloat-32 before the products, as MathMode::TF32 asks of every backend.
//
// Note [TF32 on the CPU]
// A tensor core given float32 data multiplies TF32 operands (10-bit significands)
// and accumulates in float32. Each product of two TF32 values is exact in
// float32 (22 significant bits), so a float32 GEMM of the rounded operands
// computes the same products; only the order and the rounding of the sums can
// differ, as between any two float32 GEMMs. The CPU backend therefore rounds
// copies of both operands with rn::to_tf32 and runs its float32 path on them:
// matmul (A, B), conv2d forward (x, w), input gradient (dy, w), weight gradient
// (x, dy); the bias is added in float32, as cuDNN does. This is an emulation,
// a hypothesis until a GPU's own TF32 results confirm it: the rounding of
// cuBLAS/cuDNN kernels (cvt.rna, round to nearest with ties away, is assumed)
// and the accumulation inside an MMA are not documented.
// tests/test_tf32.cpp (Tf32Gpu) compares the two where a GPU is present.
#pragma once

#include <algorithm>
#include <cstdint>

#include "parity/cpu/host_allocator.h"
#include "parity/cpu/parallel.h"
#include "parity/tensor/rounding.h"

namespace parity::cpu {

// A dense rows x cols copy of a row-major matrix with leading dimension ld
// (ld = cols for a plain array), each element rounded to TF32.
class Tf32Copy {
 public:
  Tf32Copy(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t ld) : copy_(rows * cols) {
    float* dst = copy_.get();
    parallel_for(rows, std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(cols, 1)),
                 [&](std::int64_t begin, std::int64_t end) {
                   for (std::int64_t r = begin; r < end; ++r) {
                     for (std::int64_t c = 0; c < cols; ++c) dst[r * cols + c] = rn::to_tf32(src[r * ld + c]);
                   }
                 });
  }
  // n contiguous values.
  Tf32Copy(const float* src, std::int64_t n) : copy_(n) {
    float* dst = copy_.get();
    parallel_for(n, kGrain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) dst[i] = rn::to_tf32(src[i]);
    });
  }
  const float* get() const { return copy_.get(); }

 private:
  static constexpr std::int64_t kGrain = 1 << 16;
  HostScratch<float> copy_;
};

}  // namespace parity::cpu
