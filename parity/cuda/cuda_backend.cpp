// The CUDA backend object, its allocators, synchronization, and the copies
// between host and device.
//
// Copies run on the calling thread's current stream of the device, so they are
// ordered after the kernels that produced their source. A copy to the host
// waits for that stream only (item() and to_vector() synchronize nothing else).
// Small copies go straight from or to the user's (pageable) memory. Large ones
// are staged through two pinned buffers per device, chunk by chunk, so the DMA
// of one chunk overlaps the host memcpy of the next and the DMA engine runs at
// pinned-memory speed; a copy from the host returns once the last chunk is in a
// staging buffer (the user's memory may be reused at once), without waiting
// for the transfer.
#include "parity/cuda/cuda_backend.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>

#include "parity/cuda/allocator.h"
#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/tensor/error.h"

namespace parity {

Backend* cuda_backend() {
  static cuda::CudaBackend* backend = new cuda::CudaBackend;  // never destroyed
  return backend;
}

namespace cuda {

namespace {

constexpr std::size_t kStagingThreshold = std::size_t{1} << 20;  // direct below 1 MiB
constexpr std::size_t kStagingChunk = std::size_t{8} << 20;      // two 8 MiB pinned buffers per device

struct Staging {
  std::mutex mutex;
  void* buffer[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};  // recorded after the DMA that last used each buffer
};

Staging& staging(int device) {
  static std::array<Staging, kMaxDevices>* all = new std::array<Staging, kMaxDevices>;  // never destroyed
  return (*all)[static_cast<std::size_t>(device)];
}

// Allocates the pinned buffers on first use. Caller holds s.mutex, with the device current.
void ensure_buffers(Staging& s) {
  if (s.buffer[0] != nullptr) return;
  for (int b = 0; b < 2; ++b) {
    PARITY_CUDA_CHECK(cudaHostAlloc(&s.buffer[b], kStagingChunk, cudaHostAllocPortable));
    PARITY_CUDA_CHECK(cudaEventCreateWithFlags(&s.done[b], cudaEventDisableTiming));
  }
}

}  // namespace

int CudaBackend::device_count() const { return device_count_nothrow(); }

Allocator& CudaBackend::allocator(int device_index) {
  check_device(device_index, "allocate");
  return device_allocator(device_index);
}

void CudaBackend::synchronize(int device_index) {
  check_device(device_index, "synchronize");
  DeviceGuard guard(device_index);
  PARITY_CUDA_CHECK(cudaDeviceSynchronize());
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int device_index) {
  if (nbytes == 0) return;
  check_device(device_index, "copy to host");
  DeviceGuard guard(device_index);
  cudaStream_t stream = stream_for(device_index);
  if (nbytes < kStagingThreshold) {
    PARITY_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, nbytes, cudaMemcpyDeviceToHost, stream));
    PARITY_CUDA_CHECK(cudaStreamSynchronize(stream));
    return;
  }
  // Two chunks in flight: DMA chunk i + 2 into a buffer while the host copies chunk i out of the other.
  Staging& s = staging(device_index);
  std::lock_guard lock(s.mutex);
  ensure_buffers(s);
  const std::size_t chunks = (nbytes + kStagingChunk - 1) / kStagingChunk;
  auto issue = [&](std::size_t i) {
    const std::size_t offset = i * kStagingChunk, len = std::min(kStagingChunk, nbytes - offset);
    const int b = static_cast<int>(i % 2);
    PARITY_CUDA_CHECK(cudaMemcpyAsync(s.buffer[b], static_cast<const char*>(src) + offset, len,
                                      cudaMemcpyDeviceToHost, stream));
    PARITY_CUDA_CHECK(cudaEventRecord(s.done[b], stream));
  };
  // An earlier copy from the host may still be reading the buffers.
  PARITY_CUDA_CHECK(cudaEventSynchronize(s.done[0]));
  PARITY_CUDA_CHECK(cudaEventSynchronize(s.done[1]));
  issue(0);
  if (chunks > 1) issue(1);
  for (std::size_t i = 0; i < chunks; ++i) {
    const int b = static_cast<int>(i % 2);
    const std::size_t offset = i * kStagingChunk, len = std::min(kStagingChunk, nbytes - offset);
    PARITY_CUDA_CHECK(cudaEventSynchronize(s.done[b]));
    std::memcpy(static_cast<char*>(host_dst) + offset, s.buffer[b], len);
    if (i + 2 < chunks) issue(i + 2);
  }
}

void CudaBackend::copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int device_index) {
  if (nbytes == 0) return;
  check_device(device_index, "copy from host");
  DeviceGuard guard(device_index);
  cudaStream_t stream = stream_for(device_index);
  if (nbytes < kStagingThreshold) {
    // From pageable memory the runtime stages the bytes before returning: the
    // caller may free host_src at once.
    PARITY_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, nbytes, cudaMemcpyHostToDevice, stream));
    return;
  }
  Staging& s = staging(device_index);
  std::lock_guard lock(s.mutex);
  ensure_buffers(s);
  const std::size_t chunks = (nbytes + kStagingChunk - 1) / kStagingChunk;
  for (std::size_t i = 0; i < chunks; ++i) {
    const int b = static_cast<int>(i % 2);
    const std::size_t offset = i * kStagingChunk, len = std::min(kStagingChunk, nbytes - offset);
    PARITY_CUDA_CHECK(cudaEventSynchronize(s.done[b]));  // the buffer's previous DMA has finished
    std::memcpy(s.buffer[b], static_cast<const char*>(host_src) + offset, len);
    PARITY_CUDA_CHECK(
        cudaMemcpyAsync(static_cast<char*>(dst) + offset, s.buffer[b], len, cudaMemcpyHostToDevice, stream));
    PARITY_CUDA_CHECK(cudaEventRecord(s.done[b], stream));
  }
}

}  // namespace cuda
}  // namespace parity
