// Backend: the op x device table. The tensor layer validates an op, allocates
// its output and computes its layout; the backend of the output's device runs
// it. The table is filled from cpu_backend() and cuda_backend() (parity/tensor/backend.cpp;
// the latter is null in a build without CUDA): a build or a machine without
// CUDA has no CUDA backend, and asking for one throws a clear parity::Error.
#pragma once

#include <cstdint>
#include <vector>

#include "parity/tensor/allocator.h"
#include "parity/tensor/context.h"
#include "parity/tensor/conv.h"
#include "parity/tensor/device.h"
#include "parity/tensor/dtype.h"
#include "parity/tensor/elementwise_iter.h"
#include "parity/tensor/op_kinds.h"
#include "parity/tensor/pool.h"
#include "parity/tensor/scalar.h"
#include "parity/tensor/window.h"

namespace parity {

// The optimizers' fused updates (parity/optim/launch.h): declared only, so the
// tensor layer does not depend on the optimizers' math.
namespace optim::kernel {
struct AdamLaunch;
struct AdadeltaLaunch;
struct SgdLaunch;
}  // namespace optim::kernel

// out[o, i] = reduce over r of in[o, r, i] for an input viewed as a dense
// [outer, reduce, inner] block (the tensor layer arranges it so).
struct ReduceArgs {
  const void* in = nullptr;
  void* out = nullptr;
  DType in_dtype = kFloat32;
  DType out_dtype = kFloat32;  // int64 for argmax/argmin, int64 for integer sums
  std::int64_t outer = 1, reduce = 1, inner = 1;
};

// C[b] = op(A[b]) * op(B[b]) for every batch index b, row-major matrices.
// A batch index addresses A, B and C through their batch strides (0 broadcasts).
struct GemmArgs {
  DType dtype = kFloat32;
  std::int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  MathMode math_mode = MathMode::StrictFP32;  // TF32: float32 operands rounded to TF32 (both backends)
  int batch_ndim = 0;
  std::int64_t batch_shape[kMaxDims] = {};
  std::int64_t batch_stride_a[kMaxDims] = {}, batch_stride_b[kMaxDims] = {},
               batch_stride_c[kMaxDims] = {};  // in elements
};

// A dense output filled from the counter-based generator: element i of the
// output depends only on (seed, offset, i). See parity/tensor/philox.h.
struct RandomArgs {
  RandomKind kind = RandomKind::Uniform;
  void* out = nullptr;
  DType dtype = kFloat32;
  std::int64_t numel = 0;
  std::uint64_t seed = 0, offset = 0;
  double a = 0, b = 1;  // uniform [a, b), normal (mean a, std b), integer [a, b)
};

// A 2-D convolution resolved for a backend. Every buffer is dense: images
// (x, y and their gradients) in win.layout, weights in kernel_layout, bias
// [out_channels]. Gradient outputs are overwritten, never accumulated into.
struct Conv2dArgs {
  DType dtype = kFloat32;
  int device_index = 0;
  Window2d win;  // the input, the kernel's spatial size (window_h/w), strides, dilation, pads, output size
  std::int64_t out_channels = 0;
  KernelLayout kernel_layout = KernelLayout::HWIO;
  ConvMode mode = ConvMode::CrossCorrelation;
  MathMode math_mode = MathMode::StrictFP32;  // TF32: cuDNN's tensor-op math; the CPU rounds operands alike
  bool deterministic = true;                  // false lets cuDNN pick its fastest algorithm
  CpuConvAlgorithm cpu_algorithm = CpuConvAlgorithm::OneDnn;  // the CPU's; float64 is always Im2colGemm
};

// A 2-D pooling resolved for a backend; images dense in win.layout.
struct Pool2dArgs {
  DType dtype = kFloat32;
  int device_index = 0;
  PoolKind kind = PoolKind::Max;
  Window2d win;
  bool count_include_pad = false;
};

// Indexed reads and accumulations along one dimension (parity/tensor/indexing.h).
// The indexed tensor is a dense [outer, dim_size, inner] block; the other
// operand (gather's output, scatter_add's source) a dense [outer, n, inner]
// one; the index, int64 in [0, dim_size) (checked by the front end), is read at
// o * index_strides[0] + j * index_strides[1] + i * index_strides[2]: dense
// [outer, n, inner] for gather and scatter_add, (0, 1, 0) for index_select and
// index_add's one index per slice.
//   gather:      values[o, j, i] = indexed[o, index(o, j, i), i]
//   scatter_add: indexed[o, index(o, j, i), i] += values[o, j, i], for each
//                element of `indexed` in increasing j: the same sums in the same
//                order on every backend (no atomics), so the same bits.
struct IndexArgs {
  DType dtype = kFloat32;
  void* indexed = nullptr;  // gather reads it, scatter_add accumulates into it
  void* values = nullptr;   // gather writes it, scatter_add reads it
  const std::int64_t* index = nullptr;
  std::int64_t outer = 1, dim_size = 0, n = 0, inner = 1;
  std::int64_t index_strides[3] = {0, 0, 0};
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;
  virtual int device_count() const = 0;
  virtual Allocator& allocator(int device_index) = 0;

  virtual void unary(UnaryOp op, const ElementwiseIter& iter) = 0;
  virtual void binary(BinaryOp op, const ElementwiseIter& iter) = 0;
  // out = op(in, s) or, when scalar_first, op(s, in).
  virtual void binary_scalar(BinaryOp op, const ElementwiseIter& iter, Scalar s, bool scalar_first) = 0;
  virtual void where(const ElementwiseIter& iter) = 0;   // operands: out, cond, a, b
  virtual void clamp(const ElementwiseIter& iter, Scalar lo, Scalar hi) = 0;
  virtual void cast(const ElementwiseIter& iter) = 0;   // operands: out, in (dtypes may differ)
  virtual void fill(const ElementwiseIter& iter, Scalar value) = 0;
  virtual void reduce(ReduceOp op, const ReduceArgs& args) = 0;
  virtual void gemm(const GemmArgs& args) = 0;
  virtual void random(const RandomArgs& args) = 0;
  // Convolution (parity/tensor/conv.h): y = conv(x, w) + bias (bias may be null).
  virtual void conv2d_forward(const Conv2dArgs& args, const void* x, const void* w, const void* bias,
                              void* y) = 0;
  virtual void conv2d_backward_input(const Conv2dArgs& args, const void* dy, const void* w, void* dx) = 0;
  virtual void conv2d_backward_weight(const Conv2dArgs& args, const void* x, const void* dy, void* dw) = 0;
  virtual void conv2d_backward_bias(const Conv2dArgs& args, const void* dy, void* dbias) = 0;
  // Pooling (parity/tensor/pool.h). The backward of max pooling reads x and y.
  virtual void pool2d_forward(const Pool2dArgs& args, const void* x, void* y) = 0;
  virtual void pool2d_backward(const Pool2dArgs& args, const void* x, const void* y, const void* dy,
                               void* dx) = 0;
  // The optimizers' fused updates: one pass over a contiguous float32
  // parameter, its gradient and its state (parity/optim/launch.h), on the
  // device owning the parameter; enqueued, not waited for, on CUDA.
  virtual void gather(const IndexArgs& args) = 0;
  virtual void scatter_add(const IndexArgs& args) = 0;

  virtual void adam_update(const optim::kernel::AdamLaunch& launch) = 0;
  virtual void adadelta_update(const optim::kernel::AdadeltaLaunch& launch) = 0;
  virtual void sgd_update(const optim::kernel::SgdLaunch& launch) = 0;
  // Bytes between this backend's device and the host (dense buffers).
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int device_index) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int device_index) = 0;
  // Waits until the device has finished its queued work.
  virtual void synchronize(int device_index) = 0;
};

// The backend for `device`; throws naming `op` when there is none or the
// device index is out of range.
Backend& backend_for(Device device, const char* op);

// True when a backend for this device type is built in and sees a device.
bool has_backend(DeviceType type);

}  // namespace parity
