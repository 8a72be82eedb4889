// The CPU backend: the CPU column of the op x device table (tensor/backend.h).
// Its methods are defined across cpu/*.cpp, one file per kind of kernel.
#pragma once

#include "tensor/backend.h"

namespace parity::cpu {

class CpuBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CPU; }
  int device_count() const override { return 1; }
  Allocator& allocator(int device_index) override;

  void unary(UnaryOp op, const ElementwiseIter& iter) override;
  void binary(BinaryOp op, const ElementwiseIter& iter) override;
  void binary_scalar(BinaryOp op, const ElementwiseIter& iter, Scalar s, bool scalar_first) override;
  void where(const ElementwiseIter& iter) override;
  void clamp(const ElementwiseIter& iter, Scalar lo, Scalar hi) override;
  void cast(const ElementwiseIter& iter) override;
  void fill(const ElementwiseIter& iter, Scalar value) override;
  void reduce(ReduceOp op, const ReduceArgs& args) override;     // cpu/reduce.cpp
  void gemm(const GemmArgs& args) override;                      // cpu/gemm.cpp
  void random(const RandomArgs& args) override;                  // cpu/random.cpp
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int device_index) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int device_index) override;
  void synchronize(int) override {}
};

}  // namespace parity::cpu
