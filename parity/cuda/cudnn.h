// cuDNN for the CUDA backend (internal to cuda/): checked calls, handles,
// descriptors, workspaces, and Tensors over a backend's raw operands.
//
// - PARITY_CUDNN_CHECK(call) throws CudnnError (a parity::Error) naming the
//   call, cuDNN's status string and code, cuDNN's own last message when it has
//   one, the file and the line (docs/ARCHITECTURE.md, principle 5).
// - CudnnHandle: one cuDNN handle per (device, stream), created on first use
//   with the device current and bound to that stream once with cudnnSetStream
//   (a cuDNN handle is not safe to use from two threads at once, so each
//   handle has a mutex the CudnnHandle holds while it lives). Handles live for
//   the process, as cuBLAS' do (parity/cuda/gemm.cpp): destroying them during static
//   destruction would race the CUDA runtime's own teardown.
// - Descriptor<...>: RAII for cuDNN's descriptors (PyTorch's
//   aten/src/ATen/cudnn/Descriptors.h), with the few setters Parity uses.
//   Image tensors are described by explicit strides in cuDNN's logical NCHW
//   order (cudnnSetTensor4dDescriptorEx), whichever layout the memory has.
// - Workspace: scratch bytes from the stream-ordered pool (parity/cuda/allocator.h),
//   allocated and freed in the order of the current stream: never cudaMalloc.
// - borrow(): a Tensor over device memory Parity does not own (a backend
//   method's operand), so the backend can use the tensor layer's views and
//   copies (permute, narrow, copy_) on it. It must not outlive the call.
//
// The legacy cuDNN API Parity uses (cudnnConvolution*, cudnnPooling*,
// filter/convolution/pooling descriptors) is marked deprecated in cuDNN 9 but
// still shipped and supported there; it warns only when CUDNN_WARN_DEPRECATED
// is defined, which Parity does not do.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "parity/tensor/dtype.h"
#include "parity/tensor/error.h"
#include "parity/tensor/shape.h"
#include "parity/tensor/tensor.h"
#include "parity/tensor/window.h"

namespace parity::cuda {

// A failed cuDNN call. status() lets callers tell "not supported" (try another
// algorithm or layout) from real failures.
// A status that means "this configuration is not supported" (another may be).
inline bool cudnn_status_not_supported(cudnnStatus_t s) {
  return static_cast<int>(s) / 1000 == 3 && s != CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE;
}

// Whether a cuDNN library of version `runtime` serves code compiled against
// `headers` (both major * 10000 + minor * 100 + patch): the same major version,
// and a minor version at least the headers' (cuDNN 9's compatibility rule).
inline bool cudnn_version_compatible(std::size_t runtime, std::size_t headers) {
  return runtime / 10000 == headers / 10000 && runtime % 10000 / 100 >= headers % 10000 / 100;
}

class CudnnError : public Error {
 public:
  CudnnError(const std::string& what, cudnnStatus_t status) : Error(what), status_(status) {}
  cudnnStatus_t status() const { return status_; }
  // CUDNN_STATUS_NOT_SUPPORTED and its specific codes (3000-3999 in cuDNN 9), but
  // not a missing sub-library: that is a broken installation, never "try
  // another layout or algorithm".
  bool not_supported() const { return cudnn_status_not_supported(status_); }

 private:
  cudnnStatus_t status_;
};

namespace detail {
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line);
}  // namespace detail

}  // namespace parity::cuda

#define PARITY_CUDNN_CHECK(call)                                                                  \
  do {                                                                                            \
    const cudnnStatus_t parity_cudnn_status_ = (call);                                            \
    if (parity_cudnn_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]] {                              \
      ::parity::cuda::detail::throw_cudnn_error(parity_cudnn_status_, #call, __FILE__, __LINE__); \
    }                                                                                             \
  } while (0)

namespace parity::cuda {

// cuDNN's data type for a Parity dtype: float32 and float64; throws naming `op` otherwise.
cudnnDataType_t cudnn_dtype(DType dtype, const char* op);

// The alpha = 1 / beta = 0 or 1 scaling factors cuDNN takes by pointer: float
// for float32 data, double for float64 ("Scaling Parameters" in cuDNN's docs).
class Scale {
 public:
  Scale(DType dtype, double value) : f_(static_cast<float>(value)), d_(value), f64_(dtype == kFloat64) {}
  const void* get() const { return f64_ ? static_cast<const void*>(&d_) : static_cast<const void*>(&f_); }

 private:
  float f_;
  double d_;
  bool f64_;
};

// The cuDNN handle of `device` for this thread's current stream on it, locked
// for the lifetime of this object. `device` must be the current device.
class CudnnHandle {
 public:
  explicit CudnnHandle(int device);
  cudnnHandle_t get() const { return handle_; }

 private:
  std::unique_lock<std::mutex> lock_;
  cudnnHandle_t handle_ = nullptr;
};

// RAII over one kind of cuDNN descriptor.
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { PARITY_CUDNN_CHECK(Create(&desc_)); }
  ~Descriptor() { (void)Destroy(desc_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  T get() const { return desc_; }

 private:
  T desc_ = nullptr;
};

// A 4-D image tensor: logical dims (n, c, h, w) in cuDNN's order, memory dense
// in `layout`, described by explicit strides.
class TensorDesc
    : public Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> {
 public:
  TensorDesc(cudnnDataType_t dtype, Layout layout, std::int64_t n, std::int64_t c, std::int64_t h,
             std::int64_t w);
};

// A filter of K output and C input channels, R x S: KCRS (CUDNN_TENSOR_NCHW,
// PyTorch's OIHW) or KRSC (CUDNN_TENSOR_NHWC). cuDNN accepts no other filter order.
class FilterDesc
    : public Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor> {
 public:
  FilterDesc(cudnnDataType_t dtype, bool krsc, std::int64_t k, std::int64_t c, std::int64_t r,
             std::int64_t s);
};

class ConvDesc : public Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                   cudnnDestroyConvolutionDescriptor> {
 public:
  ConvDesc(int pad_h, int pad_w, int stride_h, int stride_w, int dilation_h, int dilation_w,
           cudnnConvolutionMode_t mode, cudnnDataType_t compute);
  void set_math(cudnnMathType_t math);
};

class PoolDesc : public Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                                   cudnnDestroyPoolingDescriptor> {
 public:
  PoolDesc(cudnnPoolingMode_t mode, int window_h, int window_w, int pad_h, int pad_w, int stride_h,
           int stride_w);
};

// Scratch device memory from `device`'s pool, ordered on its current stream.
class Workspace {
 public:
  Workspace(int device, std::size_t bytes);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return ptr_; }
  std::size_t size() const { return bytes_; }

 private:
  int device_;
  std::size_t bytes_;
  void* ptr_ = nullptr;
};

// ---- images for cuDNN (Note [cuDNN convolution] in parity/cuda/conv.cpp) ----

// Padding cuDNN cannot express (the asymmetric remainder), padded explicitly.
struct ExtraPads {
  std::int64_t top = 0, bottom = 0, left = 0, right = 0;
  bool any() const { return top != 0 || bottom != 0 || left != 0 || right != 0; }
};

// A window's padding split into cuDNN's symmetric pads (the smaller side of
// each dim) and the remainder on the larger side, padded explicitly.
struct SplitPads {
  std::int64_t pad_h = 0, pad_w = 0;
  ExtraPads extra;
};
SplitPads split_pads(const Window2d& win);

// [n, c, h, w] or [n, h, w, c].
Shape image_shape(Layout layout, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w);

// The view of image `t` (in `from`) with its dims in `to`'s order (no copy).
Tensor as_layout(const Tensor& t, Layout from, Layout to);

// The image `t` ([n, ...] in `from`) as cuDNN's input: dense in `to`, padded
// by `e` with `fill`. `t` itself when nothing changes, else a temporary.
Tensor image_in(const Tensor& t, Layout from, Layout to, const ExtraPads& e, double fill);

// Where cuDNN writes an image that `user` ([n, ...] in `from`) finally
// receives: `user` itself, or a temporary in `to` larger by `e`.
Tensor image_out(const Tensor& user, Layout from, Layout to, const ExtraPads& e);

// Copies cuDNN's output `internal` (from image_out) into `user`, dropping the
// padding `e`; nothing when they are the same tensor.
void image_back(const Tensor& user, const Tensor& internal, Layout from, Layout to, const ExtraPads& e);

// A dense Tensor over `ptr` (device memory of `device`, not owned: freeing the
// Tensor frees nothing). Valid only while the memory is.
Tensor borrow(const void* ptr, const Shape& shape, DType dtype, int device);

// Checks that a size fits cuDNN's int arguments; throws naming `op` and `what`.
int cudnn_int(std::int64_t value, const char* op, const char* what);

// The version of the cuDNN library loaded at run time, "9.19.0".
std::string cudnn_version_string();

}  // namespace parity::cuda
