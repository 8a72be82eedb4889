// The CPU backend: the CPU column of the op x device table (parity/tensor/backend.h).
// Its methods are defined across cpu/*.cpp, one file per kind of kernel.
#pragma once

#include "parity/tensor/backend.h"

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
  void reduce(ReduceOp op, const ReduceArgs& args) override;     // parity/cpu/reduce.cpp
  void gemm(const GemmArgs& args) override;                      // parity/cpu/gemm.cpp
  void random(const RandomArgs& args) override;                  // parity/cpu/random.cpp
  void conv2d_forward(const Conv2dArgs& args, const void* x, const void* w, const void* bias,
                      void* y) override;  // parity/cpu/conv.cpp
  void conv2d_backward_input(const Conv2dArgs& args, const void* dy, const void* w, void* dx) override;
  void conv2d_backward_weight(const Conv2dArgs& args, const void* x, const void* dy, void* dw) override;
  void conv2d_backward_bias(const Conv2dArgs& args, const void* dy, void* dbias) override;
  void pool2d_forward(const Pool2dArgs& args, const void* x, void* y) override;  // parity/cpu/pool.cpp
  void pool2d_backward(const Pool2dArgs& args, const void* x, const void* y, const void* dy,
                       void* dx) override;
  void gather(const IndexArgs& args) override;  // parity/cpu/indexing.cpp
  void scatter_add(const IndexArgs& args) override;
  void adam_update(const optim::kernel::AdamLaunch& launch) override;  // parity/cpu/optim_update.cpp
  void adadelta_update(const optim::kernel::AdadeltaLaunch& launch) override;
  void sgd_update(const optim::kernel::SgdLaunch& launch) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int device_index) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int device_index) override;
  void synchronize(int) override {}
};

}  // namespace parity::cpu
