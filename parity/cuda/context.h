// Device and stream context (internal to cuda/).
//
// The device count is read once, never throwing: a machine without a driver or
// without a GPU has 0 devices and CUDA is simply unavailable. Each host thread
// has a current stream per device (CUDA's legacy default stream unless set,
// parity/cuda/api.h), which every op of that thread enqueues on. Device properties the
// launchers need (multiprocessor count, threads per multiprocessor) are read
// once per device.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "parity/cuda/api.h"

namespace parity::cuda {

inline constexpr int kMaxDevices = 64;

// The number of usable devices; 0 (never an exception) without a driver or GPU.
int device_count_nothrow();
// Why there is no device ("" when there is one): the CUDA error of cudaGetDeviceCount.
const std::string& unavailable_reason();

// Throws parity::Error naming `op` unless 0 <= device < device_count().
void check_device(int device, const char* op);
// -1 means the current device.
int resolve_device(int device, const char* op);

// The stream this thread's ops on `device` are enqueued on (nullptr: the legacy default stream).
cudaStream_t stream_for(int device);

// Per-stream resources (cuBLAS workspaces, cuDNN handles) are released when a
// stream made by Stream::create is destroyed: each subsystem registers a hook,
// called on the stream's device after the stream's work has finished and before
// it is destroyed.
using StreamReleaseHook = void (*)(int device, cudaStream_t stream);
void add_stream_release_hook(StreamReleaseHook hook);

// The device owning a device pointer (0 without a lookup on one-GPU machines).
int device_of(const void* ptr);

struct DeviceLimits {
  int multiprocessors = 1;
  int max_threads_per_multiprocessor = 2048;
  std::int64_t l2_cache_bytes = 0;
};
const DeviceLimits& device_limits(int device);

// Blocks for a grid-stride loop over `work` items with `threads` per block:
// enough to fill every multiprocessor, no more than the work needs.
inline unsigned grid_for(int device, std::int64_t work, int threads) {
  const DeviceLimits& limits = device_limits(device);
  const std::int64_t fill =
      static_cast<std::int64_t>(limits.multiprocessors) * (limits.max_threads_per_multiprocessor / threads);
  std::int64_t needed = (work + threads - 1) / threads;
  if (needed < 1) needed = 1;
  return static_cast<unsigned>(needed < fill ? needed : fill);
}

}  // namespace parity::cuda
