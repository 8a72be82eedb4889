// The CUDA device allocator: CUDA's stream-ordered memory pool (internal to cuda/).
//
// One pool per device (cudaMemPoolCreate), its release threshold set to the
// maximum so freed memory stays in the pool for the next allocation instead of
// going back to the driver at each synchronization. Allocations and frees are
// ordered on the calling thread's current stream (cudaMallocFromPoolAsync,
// cudaFreeAsync), so freeing a tensor whose kernels are still queued is safe.
// A block is freed on the stream that allocated it (not the one current at free
// time), after every stream it was recorded on (record_stream) reaches the free.
//
// Out of memory: the pool is trimmed (after a device synchronization, so that
// every pending free has landed) and the allocation retried once; if it still
// fails, parity::OutOfMemoryError says what was requested, what Parity holds
// and what the device has free. Nothing else is disturbed: the error is
// catchable and every live tensor stays valid.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "parity/cuda/api.h"
#include "parity/tensor/allocator.h"

namespace parity::cuda {

class CudaAllocator final : public Allocator {
 public:
  explicit CudaAllocator(int device);
  ~CudaAllocator() override = default;  // the pool outlives static destruction on purpose

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) noexcept override;
  Device device() const override { return Device::cuda(device_); }
  MemoryStats stats() const override;
  void empty_cache() override;
  void reset_peak();

  // Per-block streams (parity/cuda/api.h record_stream): `ptr` is an allocation's start.
  void record_stream(void* ptr, const Stream& stream);
  Stream allocation_stream(void* ptr);

 private:
  void* allocate_raw(std::size_t nbytes, cudaStream_t stream);
  [[noreturn]] void throw_oom(std::size_t nbytes);

  int device_;
  cudaMemPool_t pool_ = nullptr;
  std::atomic<std::int64_t> allocated_{0};
  std::atomic<std::int64_t> peak_{0};
  std::atomic<std::int64_t> num_allocations_{0};
  std::mutex trim_mutex_;
  // The stream each live block was allocated on, and further streams it was used
  // on; the Stream copies keep streams made by Stream::create alive until the free.
  struct BlockStreams {
    Stream allocated_on;
    std::vector<Stream> used_on;
  };
  std::mutex blocks_mutex_;
  std::unordered_map<void*, BlockStreams> blocks_;
};

// The allocator of `device` (created on first use).
CudaAllocator& device_allocator(int device);

// Guard bytes (parity/cuda/api.h set_guard_bytes): the current setting.
std::size_t current_guard_bytes();

}  // namespace parity::cuda
