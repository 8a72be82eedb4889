// The CUDA backend: the CUDA column of the op x device table (parity/tensor/backend.h).
//
// Every method runs on the device that owns its operands (made current for the
// call) and enqueues on that device's current stream for this thread; nothing
// synchronizes except the copies to the host. Methods are defined across
// cuda/*.cu and cuda/*.cpp, one file per kind of kernel:
//   unary.cu, binary*.cu, fill_where_clamp.cu, cast.cu  the elementwise launcher (elementwise.cuh)
//   reduce_sum.cu, reduce_extreme.cu                    fixed-order reductions (reduce.cuh)
//   gemm.cpp                                            cuBLAS
//   random.cu                                           Philox on the device
//   optim_update.cu                                     the optimizers' fused updates (launch_indexed)
//   cuda_backend.cpp                                    copies, synchronization, allocators
#pragma once

#include "parity/tensor/backend.h"

namespace parity::cuda {

class CudaBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CUDA; }
  int device_count() const override;
  Allocator& allocator(int device_index) override;

  void unary(UnaryOp op, const ElementwiseIter& iter) override;    // unary.cu
  void binary(BinaryOp op, const ElementwiseIter& iter) override;  // binary.cu
  void binary_scalar(BinaryOp op, const ElementwiseIter& iter, Scalar s,
                     bool scalar_first) override;                          // binary_scalar.cu
  void where(const ElementwiseIter& iter) override;                        // fill_where_clamp.cu
  void clamp(const ElementwiseIter& iter, Scalar lo, Scalar hi) override;  // fill_where_clamp.cu
  void cast(const ElementwiseIter& iter) override;                         // cast.cu
  void fill(const ElementwiseIter& iter, Scalar value) override;           // fill_where_clamp.cu
  void reduce(ReduceOp op, const ReduceArgs& args) override;               // reduce_*.cu
  void gemm(const GemmArgs& args) override;                                // gemm.cpp
  void random(const RandomArgs& args) override;                            // random.cu
  void conv2d_forward(const Conv2dArgs& args, const void* x, const void* w, const void* bias,
                      void* y) override;  // parity/cuda/conv.cpp
  void conv2d_backward_input(const Conv2dArgs& args, const void* dy, const void* w, void* dx) override;
  void conv2d_backward_weight(const Conv2dArgs& args, const void* x, const void* dy, void* dw) override;
  void conv2d_backward_bias(const Conv2dArgs& args, const void* dy, void* dbias) override;
  void pool2d_forward(const Pool2dArgs& args, const void* x, void* y) override;  // parity/cuda/pool.cpp
  void pool2d_backward(const Pool2dArgs& args, const void* x, const void* y, const void* dy,
                       void* dx) override;
  void gather(const IndexArgs& args) override;  // parity/cuda/indexing.cu
  void scatter_add(const IndexArgs& args) override;
  void adam_update(const optim::kernel::AdamLaunch& launch) override;  // parity/cuda/optim_update.cu
  void adadelta_update(const optim::kernel::AdadeltaLaunch& launch) override;
  void sgd_update(const optim::kernel::SgdLaunch& launch) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int device_index) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int device_index) override;
  void synchronize(int device_index) override;
};

// Split so the two halves of the reductions compile in parallel.
void reduce_sum(ReduceOp op, const ReduceArgs& args);      // Sum, Mean
void reduce_extreme(ReduceOp op, const ReduceArgs& args);  // Max, Min, ArgMax, ArgMin
// Binary ops, split by kind for the same reason.
void binary_arith(BinaryOp op, const ElementwiseIter& iter);
void binary_compare(BinaryOp op, const ElementwiseIter& iter);

}  // namespace parity::cuda
