// The public CUDA API: devices, streams, events, memory statistics.
//
// This header needs no CUDA headers and is usable in every build: in a build
// without the CUDA backend, or on a machine without a GPU, is_available() is
// false, device_count() is 0 and the calls that need a device throw
// parity::Error saying so. CUDA tensors themselves are made through the
// ordinary factories with Device::cuda(i) (parity/tensor/factories.h).
//
// Streams: each device has a default stream (CUDA's legacy default stream) and
// each host thread a current stream per device, which ops enqueue on. Memory
// comes from a stream-ordered pool: a tensor freed while another stream still
// uses it must be synchronized by the user first (as in PyTorch without
// record_stream). Each block is freed on the stream it was allocated on, so
// a tensor made inside a StreamGuard and dropped after it (or on another host
// thread) is not reused before that stream's work on it is done. A tensor used
// on a further stream is marked with record_stream(tensor, stream): its block then
// also waits for that stream's work queued before the free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "parity/tensor/allocator.h"
#include "parity/tensor/device.h"

namespace parity {
class Tensor;
}

namespace parity::cuda {

// is_available() and device_count() are declared in parity/tensor/device.h.

// ---- devices ----
int current_device();
void set_device(int device);

// Makes `device` current for a scope, restoring the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  std::int64_t total_memory_bytes = 0;
  std::int64_t l2_cache_bytes = 0;
  int max_threads_per_multiprocessor = 0;
};
DeviceInfo device_info(int device);

// Waits for all queued work on the current device (every stream).
void synchronize();
void synchronize(int device);

// ---- streams ----
// A CUDA stream on one device: a shared handle (the last copy destroys a stream
// made by create()). The default-constructed value is device 0's default stream.
class Stream {
 public:
  Stream() = default;
  static Stream default_stream(int device);
  // A new non-blocking stream (no implicit synchronization with the default stream).
  static Stream create(int device);

  int device() const { return device_; }
  void* handle() const { return handle_; }  // the cudaStream_t; null for the default stream
  bool is_default() const { return handle_ == nullptr; }
  void synchronize() const;  // waits for this stream's queued work only
  friend bool operator==(const Stream& a, const Stream& b) {
    return a.device_ == b.device_ && a.handle_ == b.handle_;
  }

 private:
  Stream(int device, void* handle, std::shared_ptr<void> owner)
      : device_(device), handle_(handle), owner_(std::move(owner)) {}
  int device_ = 0;
  void* handle_ = nullptr;
  std::shared_ptr<void> owner_;
};

// The stream this host thread's ops on `device` are enqueued on (-1: the current device).
Stream current_stream(int device = -1);
// Makes `stream` current on its device for this host thread.
void set_current_stream(const Stream& stream);

// Makes a stream current for a scope (its device too), restoring both after.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_stream_;
  DeviceGuard device_guard_;
};

// ---- events (timing and cross-stream ordering) ----
class Event {
 public:
  explicit Event(int device = -1);  // -1: the current device
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Records the event on `stream` (default: the current stream of the event's device).
  void record();
  void record(const Stream& stream);
  void synchronize() const;
  bool query() const;  // true when the work before the record has finished
  // Makes `stream` wait until this event has completed (no host blocking).
  void block(const Stream& stream) const;
  // Milliseconds between `start` and this event (both recorded and completed).
  float elapsed_ms(const Event& start) const;

 private:
  int device_ = 0;
  void* event_ = nullptr;
};

// ---- memory ----
// The pool's statistics: allocated_bytes (live tensors), reserved_bytes (held by
// the pool from the driver), peak_allocated_bytes, num_allocations.
MemoryStats memory_stats(int device = -1);
void reset_peak_memory_stats(int device = -1);
// Returns the pool's unused memory to the driver (after synchronizing the device).
void empty_cache(int device = -1);
// Bytes free on the device and its total, as the driver reports them.
struct MemoryInfo {
  std::int64_t free_bytes = 0, total_bytes = 0;
};
MemoryInfo memory_info(int device = -1);

// Marks `tensor`'s memory as used on `stream` (not the stream that allocated it):
// when the tensor is freed, the block waits for the work queued on `stream` until
// then, as PyTorch's Tensor.record_stream. A CPU tensor is an error.
void record_stream(const Tensor& tensor, const Stream& stream);
// The stream `tensor`'s memory was allocated on (its block is freed there).
Stream allocation_stream(const Tensor& tensor);

// ---- debugging: guard bytes around every allocation ----
// While enabled (bytes > 0, a multiple of 256), each new device allocation gets
// `bytes` of a poison pattern before and after it; freeing it checks both and
// counts a violation when a kernel wrote outside its buffer (the tests use
// this around every op). Slow: each free synchronizes.
void set_guard_bytes(std::size_t bytes);
std::size_t guard_bytes();
std::int64_t guard_violations();     // since the process started
std::string last_guard_violation();  // a description of the latest one, or ""

}  // namespace parity::cuda
