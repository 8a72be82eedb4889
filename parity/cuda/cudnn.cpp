// cuDNN plumbing for the CUDA backend: errors, handles, descriptors,
// workspaces, borrowed tensors (parity/cuda/cudnn.h says what each is for).
#include "parity/cuda/cudnn.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "parity/cuda/allocator.h"
#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/tensor/allocator.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/storage.h"

namespace parity::cuda {

namespace detail {

void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  const char* rel = std::strstr(file, "/cuda/");
  std::string message = std::string("cuDNN error: ") + cudnnGetErrorString(status) + " (" +
                        std::to_string(static_cast<int>(status)) + ") in " + call + " (" +
                        (rel ? rel + 1 : file) + ":" + std::to_string(line) + ")";
  // cuDNN 9 keeps a thread-local explanation of the last failure; it often
  // names the unsupported layout, dtype or sub-library.
  char detail[1024] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0] != '\0') message += "; cuDNN says: " + std::string(detail);
  if (status == CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED ||
      status == CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE ||
      status == CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH) {
    message +=
        "; cuDNN 9 loads libcudnn_ops, libcudnn_cnn, libcudnn_graph, libcudnn_heuristic and "
        "libcudnn_engines_* at run time from the folder of libcudnn.so.9 or LD_LIBRARY_PATH, all of one "
        "version (docs/GPU.md)";
  }
  throw CudnnError(message, status);
}

}  // namespace detail

cudnnDataType_t cudnn_dtype(DType dtype, const char* op) {
  if (dtype == kFloat32) return CUDNN_DATA_FLOAT;
  if (dtype == kFloat64) return CUDNN_DATA_DOUBLE;
  PARITY_INTERNAL_FAIL(op, ": cuDNN path supports float32 and float64, got ", dtype);
}

int cudnn_int(std::int64_t value, const char* op, const char* what) {
  PARITY_CHECK(value >= 0 && value <= INT_MAX, op, ": ", what, " = ", value,
               " exceeds cuDNN's 32-bit limit (", INT_MAX, ")");
  return static_cast<int>(value);
}

std::string cudnn_version_string() {
  const std::size_t v = cudnnGetVersion();  // major * 10000 + minor * 100 + patch (cuDNN 9)
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

// ---- handles ----

namespace {

struct HandleSlot {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
};

struct DeviceHandles {
  std::mutex mutex;
  std::map<cudaStream_t, std::unique_ptr<HandleSlot>> slots;  // erased when a created stream is destroyed
};

void release_stream(int device, cudaStream_t stream);

DeviceHandles& device_handles(int device) {
  static auto* all = [] {
    add_stream_release_hook(release_stream);
    return new std::array<DeviceHandles, kMaxDevices>;
  }();
  return (*all)[static_cast<std::size_t>(device)];
}

// A destroyed stream's cuDNN handle is destroyed too. Nobody holds it then: a
// thread using the stream has it current, and its current Stream keeps it alive.
void release_stream(int device, cudaStream_t stream) {
  std::unique_ptr<HandleSlot> slot;
  {
    DeviceHandles& handles = device_handles(device);
    std::lock_guard lock(handles.mutex);
    const auto it = handles.slots.find(stream);
    if (it == handles.slots.end()) return;
    slot = std::move(it->second);
    handles.slots.erase(it);
  }
  std::lock_guard lock(slot->mutex);
  if (slot->handle != nullptr) (void)cudnnDestroy(slot->handle);
}

}  // namespace

namespace {

// cuDNN's run-time version against the headers this build was compiled with,
// once, at the first cuDNN use (never at start-up).
void check_cudnn_version() {
  static const std::string problem = [] {
    const std::size_t runtime = cudnnGetVersion();
    if (cudnn_version_compatible(runtime, CUDNN_VERSION)) return std::string();
    return "cuDNN " + cudnn_version_string() + " is loaded, but Parity was built with cuDNN " +
           std::to_string(CUDNN_MAJOR) + "." + std::to_string(CUDNN_MINOR) + "." + std::to_string(CUDNN_PATCHLEVEL) +
           " headers: it needs " + std::to_string(CUDNN_MAJOR) + "." + std::to_string(CUDNN_MINOR) +
           " or a later " + std::to_string(CUDNN_MAJOR) + ".x (LD_LIBRARY_PATH decides which libcudnn.so.9 loads; docs/GPU.md)";
  }();
  PARITY_CHECK(problem.empty(), problem);
}

}  // namespace

CudnnHandle::CudnnHandle(int device) {
  check_cudnn_version();
  const cudaStream_t stream = stream_for(device);
  DeviceHandles& handles = device_handles(device);
  HandleSlot* slot = nullptr;
  {
    std::lock_guard lock(handles.mutex);
    std::unique_ptr<HandleSlot>& entry = handles.slots[stream];
    if (!entry) entry = std::make_unique<HandleSlot>();
    slot = entry.get();
  }
  lock_ = std::unique_lock(slot->mutex);
  if (slot->handle == nullptr) {
    cudnnHandle_t handle = nullptr;
    PARITY_CUDNN_CHECK(cudnnCreate(&handle));
    const cudnnStatus_t status = cudnnSetStream(handle, stream);
    if (status != CUDNN_STATUS_SUCCESS) {
      (void)cudnnDestroy(handle);
      detail::throw_cudnn_error(status, "cudnnSetStream(handle, stream)", __FILE__, __LINE__);
    }
    slot->handle = handle;
  }
  handle_ = slot->handle;
}

// ---- descriptors ----

TensorDesc::TensorDesc(cudnnDataType_t dtype, Layout layout, std::int64_t n, std::int64_t c, std::int64_t h,
                       std::int64_t w) {
  const char* op = "cuDNN tensor descriptor";
  const int ni = cudnn_int(n, op, "batch"), ci = cudnn_int(c, op, "channels");
  const int hi = cudnn_int(h, op, "height"), wi = cudnn_int(w, op, "width");
  cudnn_int(n * c * h * w, op, "elements");
  int sn, sc, sh, sw;
  if (layout == Layout::NCHW) {
    sw = 1, sh = wi, sc = hi * wi, sn = ci * hi * wi;
  } else {
    sc = 1, sw = ci, sh = wi * ci, sn = hi * wi * ci;
  }
  PARITY_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(get(), dtype, ni, ci, hi, wi, sn, sc, sh, sw));
}

FilterDesc::FilterDesc(cudnnDataType_t dtype, bool krsc, std::int64_t k, std::int64_t c, std::int64_t r,
                       std::int64_t s) {
  const char* op = "cuDNN filter descriptor";
  PARITY_CUDNN_CHECK(cudnnSetFilter4dDescriptor(
      get(), dtype, krsc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, cudnn_int(k, op, "output channels"),
      cudnn_int(c, op, "input channels"), cudnn_int(r, op, "height"), cudnn_int(s, op, "width")));
}

ConvDesc::ConvDesc(int pad_h, int pad_w, int stride_h, int stride_w, int dilation_h, int dilation_w,
                   cudnnConvolutionMode_t mode, cudnnDataType_t compute) {
  PARITY_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(get(), pad_h, pad_w, stride_h, stride_w, dilation_h,
                                                     dilation_w, mode, compute));
}

void ConvDesc::set_math(cudnnMathType_t math) {
  PARITY_CUDNN_CHECK(cudnnSetConvolutionMathType(get(), math));
}

PoolDesc::PoolDesc(cudnnPoolingMode_t mode, int window_h, int window_w, int pad_h, int pad_w, int stride_h,
                   int stride_w) {
  // NaN propagates through max pooling, as through Parity's max reductions.
  PARITY_CUDNN_CHECK(cudnnSetPooling2dDescriptor(get(), mode, CUDNN_PROPAGATE_NAN, window_h, window_w, pad_h,
                                                 pad_w, stride_h, stride_w));
}

// ---- workspaces ----

Workspace::Workspace(int device, std::size_t bytes) : device_(device), bytes_(bytes) {
  if (bytes_ > 0) ptr_ = device_allocator(device_).allocate(bytes_);
}

Workspace::~Workspace() {
  if (ptr_ != nullptr) device_allocator(device_).deallocate(ptr_, bytes_);
}

// ---- images ----

SplitPads split_pads(const Window2d& win) {
  SplitPads s;
  s.pad_h = std::min(win.pad_top, win.pad_bottom);
  s.pad_w = std::min(win.pad_left, win.pad_right);
  s.extra = {win.pad_top - s.pad_h, win.pad_bottom - s.pad_h, win.pad_left - s.pad_w,
             win.pad_right - s.pad_w};
  return s;
}

Shape image_shape(Layout layout, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return layout == Layout::NHWC ? Shape{n, h, w, c} : Shape{n, c, h, w};
}

Tensor as_layout(const Tensor& t, Layout from, Layout to) {
  if (from == to) return t;
  return from == Layout::NHWC ? t.permute({0, 3, 1, 2}) : t.permute({0, 2, 3, 1});
}

namespace {

struct Dims {
  std::int64_t n, c, h, w;
};

Dims dims_of(const Tensor& t, Layout layout) {
  if (layout == Layout::NHWC) return {t.size(0), t.size(3), t.size(1), t.size(2)};
  return {t.size(0), t.size(1), t.size(2), t.size(3)};
}

// The interior [top, top + h) x [left, left + w) of an image in `layout`.
Tensor interior(const Tensor& t, Layout layout, const ExtraPads& e, std::int64_t h, std::int64_t w) {
  const int hd = layout == Layout::NHWC ? 1 : 2;
  return t.narrow(hd, e.top, h).narrow(hd + 1, e.left, w);
}

}  // namespace

Tensor image_in(const Tensor& t, Layout from, Layout to, const ExtraPads& e, double fill) {
  if (from == to && !e.any()) return t;
  const Dims d = dims_of(t, from);
  Tensor out = empty(image_shape(to, d.n, d.c, d.h + e.top + e.bottom, d.w + e.left + e.right),
                     {.dtype = t.dtype(), .device = t.device()});
  if (e.any()) out.fill_(fill);
  interior(out, to, e, d.h, d.w).copy_(as_layout(t, from, to));
  return out;
}

Tensor image_out(const Tensor& user, Layout from, Layout to, const ExtraPads& e) {
  if (from == to && !e.any()) return user;
  const Dims d = dims_of(user, from);
  return empty(image_shape(to, d.n, d.c, d.h + e.top + e.bottom, d.w + e.left + e.right),
               {.dtype = user.dtype(), .device = user.device()});
}

void image_back(const Tensor& user, const Tensor& internal, Layout from, Layout to, const ExtraPads& e) {
  if (user.is_same(internal)) return;
  const Dims d = dims_of(user, from);
  Tensor(user).copy_(as_layout(interior(internal, to, e, d.h, d.w), to, from));
}

// ---- borrowed tensors ----

namespace {

// The "allocator" of a borrowed storage: StorageImpl's constructor asks it for
// memory and gets the pointer being borrowed; freeing returns nothing anywhere.
class BorrowedMemory final : public Allocator {
 public:
  explicit BorrowedMemory(int device) : device_(device) {}
  void* allocate(std::size_t) override { return std::exchange(pending(), nullptr); }
  void deallocate(void*, std::size_t) noexcept override {}
  Device device() const override { return Device::cuda(device_); }
  MemoryStats stats() const override { return {}; }
  void empty_cache() override {}

  static void*& pending() {
    thread_local void* ptr = nullptr;
    return ptr;
  }

 private:
  int device_;
};

BorrowedMemory& borrowed_memory(int device) {
  static auto* all = [] {
    auto* table = new std::array<std::unique_ptr<BorrowedMemory>, kMaxDevices>;
    for (int d = 0; d < kMaxDevices; ++d)
      (*table)[static_cast<std::size_t>(d)] = std::make_unique<BorrowedMemory>(d);
    return table;
  }();
  return *(*all)[static_cast<std::size_t>(device)];
}

}  // namespace

Tensor borrow(const void* ptr, const Shape& shape, DType dtype, int device) {
  BorrowedMemory& memory = borrowed_memory(device);
  const std::size_t nbytes = static_cast<std::size_t>(numel(shape)) * element_size(dtype);
  BorrowedMemory::pending() = const_cast<void*>(ptr);
  auto storage = std::make_shared<StorageImpl>(nbytes, memory);
  return make_tensor(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
}

}  // namespace parity::cuda
