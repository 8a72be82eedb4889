// Device and stream context, events, and the device half of parity/cuda/api.h.
#include "parity/cuda/context.h"

#include <array>
#include <mutex>
#include <vector>

#include "parity/cuda/api.h"
#include "parity/cuda/check.h"
#include "parity/tensor/error.h"

namespace parity::cuda {

namespace {

struct DeviceCount {
  int count = 0;
  std::string reason;
};

const DeviceCount& probe() {
  // Read once, never throwing: no driver or no GPU means 0 devices.
  static const DeviceCount result = [] {
    DeviceCount r;
    int n = 0;
    const cudaError_t error = cudaGetDeviceCount(&n);
    if (error != cudaSuccess) {
      (void)cudaGetLastError();
      r.reason = std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
      if (error == cudaErrorInsufficientDriver)
        r.reason +=
            " (no NVIDIA driver, or one older than CUDA " + std::to_string(CUDART_VERSION / 1000) + ")";
      return r;
    }
    r.count = n > kMaxDevices ? kMaxDevices : n;
    if (n == 0) r.reason = "cudaGetDeviceCount reported 0 devices";
    return r;
  }();
  return result;
}

// This thread's current stream per device; the Stream copies keep streams made
// by Stream::create alive while current.
thread_local std::array<cudaStream_t, kMaxDevices> t_stream_handles{};
thread_local std::array<Stream, kMaxDevices> t_streams{};

std::array<std::once_flag, kMaxDevices> g_limits_once;
std::array<DeviceLimits, kMaxDevices> g_limits;

}  // namespace

int device_count_nothrow() { return probe().count; }
const std::string& unavailable_reason() { return probe().reason; }

void check_device(int device, const char* op) {
  const int count = device_count_nothrow();
  if (count == 0) [[unlikely]] {
    PARITY_FAIL(op, ": no CUDA device is available (", unavailable_reason(),
                "); cuda::is_available() is false");
  }
  if (device < 0 || device >= count) [[unlikely]] {
    PARITY_FAIL(op, ": CUDA device ", device, " does not exist (", count, " device(s), valid indices 0..",
                count - 1, ")");
  }
}

int resolve_device(int device, const char* op) {
  if (device == -1) {
    check_device(0, op);  // says clearly when there is no device at all
    int current = 0;
    PARITY_CUDA_CHECK(cudaGetDevice(&current));
    return current;
  }
  check_device(device, op);
  return device;
}

cudaStream_t stream_for(int device) { return t_stream_handles[static_cast<std::size_t>(device)]; }

int device_of(const void* ptr) {
  if (device_count_nothrow() <= 1) return 0;
  cudaPointerAttributes attributes{};
  PARITY_CUDA_CHECK(cudaPointerGetAttributes(&attributes, ptr));
  return attributes.device < 0 ? 0 : attributes.device;
}

const DeviceLimits& device_limits(int device) {
  const auto d = static_cast<std::size_t>(device);
  std::call_once(g_limits_once[d], [device, d] {
    DeviceLimits limits;
    int value = 0;
    PARITY_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device));
    limits.multiprocessors = value;
    PARITY_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMaxThreadsPerMultiProcessor, device));
    limits.max_threads_per_multiprocessor = value;
    PARITY_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrL2CacheSize, device));
    limits.l2_cache_bytes = value;
    g_limits[d] = limits;
  });
  return g_limits[d];
}

// ---- parity/cuda/api.h: devices ----

int current_device() {
  check_device(0, "cuda::current_device");
  int device = 0;
  PARITY_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

void set_device(int device) {
  check_device(device, "cuda::set_device");
  PARITY_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::DeviceGuard(int device) {
  check_device(device, "cuda::DeviceGuard");
  int current = 0;
  PARITY_CUDA_CHECK(cudaGetDevice(&current));
  if (current != device) {
    PARITY_CUDA_CHECK(cudaSetDevice(device));
    previous_ = current;
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) PARITY_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_));
}

DeviceInfo device_info(int device) {
  device = resolve_device(device, "cuda::device_info");
  cudaDeviceProp prop{};
  PARITY_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  DeviceInfo info;
  info.index = device;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  info.l2_cache_bytes = prop.l2CacheSize;
  info.max_threads_per_multiprocessor = prop.maxThreadsPerMultiProcessor;
  return info;
}

void synchronize() { synchronize(-1); }

void synchronize(int device) {
  device = resolve_device(device, "cuda::synchronize");
  DeviceGuard guard(device);
  PARITY_CUDA_CHECK(cudaDeviceSynchronize());
}

// ---- streams ----

Stream Stream::default_stream(int device) {
  check_device(device, "cuda::Stream::default_stream");
  return Stream(device, nullptr, nullptr);
}

namespace {

struct ReleaseHooks {
  std::mutex mutex;
  std::vector<StreamReleaseHook> hooks;
};

ReleaseHooks& release_hooks() {
  static auto* hooks = new ReleaseHooks;  // never destroyed: streams may die during exit
  return *hooks;
}

}  // namespace

void add_stream_release_hook(StreamReleaseHook hook) {
  ReleaseHooks& r = release_hooks();
  std::lock_guard lock(r.mutex);
  r.hooks.push_back(hook);
}

Stream Stream::create(int device) {
  device = resolve_device(device, "cuda::Stream::create");
  DeviceGuard guard(device);
  cudaStream_t stream = nullptr;
  PARITY_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::shared_ptr<void> owner(stream, [device](void* s) {
    const auto raw = static_cast<cudaStream_t>(s);
    int previous = -1;
    if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
    PARITY_CUDA_CHECK_NOTHROW(cudaSetDevice(device));
    PARITY_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(raw));
    std::vector<StreamReleaseHook> hooks;
    {
      std::lock_guard lock(release_hooks().mutex);
      hooks = release_hooks().hooks;
    }
    for (StreamReleaseHook hook : hooks) hook(device, raw);
    PARITY_CUDA_CHECK_NOTHROW(cudaStreamDestroy(raw));
    if (previous >= 0) PARITY_CUDA_CHECK_NOTHROW(cudaSetDevice(previous));
  });
  return Stream(device, stream, std::move(owner));
}

void Stream::synchronize() const {
  check_device(device_, "cuda::Stream::synchronize");
  DeviceGuard guard(device_);
  PARITY_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(handle_)));
}

Stream current_stream(int device) {
  device = resolve_device(device, "cuda::current_stream");
  const Stream& s = t_streams[static_cast<std::size_t>(device)];
  return s.handle() == nullptr ? Stream::default_stream(device) : s;
}

void set_current_stream(const Stream& stream) {
  check_device(stream.device(), "cuda::set_current_stream");
  const auto d = static_cast<std::size_t>(stream.device());
  t_streams[d] = stream;
  t_stream_handles[d] = static_cast<cudaStream_t>(stream.handle());
}

StreamGuard::StreamGuard(const Stream& stream)
    : previous_stream_(current_stream(stream.device())), device_guard_(stream.device()) {
  set_current_stream(stream);
}

StreamGuard::~StreamGuard() {
  const auto d = static_cast<std::size_t>(previous_stream_.device());
  t_streams[d] = previous_stream_;
  t_stream_handles[d] = static_cast<cudaStream_t>(previous_stream_.handle());
}

// ---- events ----

Event::Event(int device) {
  device_ = resolve_device(device, "cuda::Event");
  DeviceGuard guard(device_);
  cudaEvent_t event = nullptr;
  PARITY_CUDA_CHECK(cudaEventCreate(&event));
  event_ = event;
}

Event::~Event() {
  if (event_ != nullptr) PARITY_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(event_)));
}

void Event::record() { record(current_stream(device_)); }

void Event::record(const Stream& stream) {
  PARITY_CHECK(stream.device() == device_, "cuda::Event::record: the event belongs to cuda:", device_,
               " but the stream to cuda:", stream.device());
  DeviceGuard guard(device_);
  PARITY_CUDA_CHECK(
      cudaEventRecord(static_cast<cudaEvent_t>(event_), static_cast<cudaStream_t>(stream.handle())));
}

void Event::synchronize() const { PARITY_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_))); }

bool Event::query() const {
  const cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event_));
  if (status == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  PARITY_CUDA_CHECK(status);
  return true;
}

void Event::block(const Stream& stream) const {
  DeviceGuard guard(stream.device());
  PARITY_CUDA_CHECK(
      cudaStreamWaitEvent(static_cast<cudaStream_t>(stream.handle()), static_cast<cudaEvent_t>(event_), 0));
}

float Event::elapsed_ms(const Event& start) const {
  float ms = 0;
  PARITY_CUDA_CHECK(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.event_), static_cast<cudaEvent_t>(event_)));
  return ms;
}

}  // namespace parity::cuda
