// The stream-ordered pool allocator (parity/cuda/allocator.h) and the memory half of
// parity/cuda/api.h.
#include "parity/cuda/allocator.h"

#include <array>
#include <cstdio>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "parity/cuda/api.h"
#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/tensor/error.h"
#include "parity/tensor/tensor.h"

namespace parity::cuda {

namespace {

std::string format_bytes(std::int64_t bytes) {
  char buffer[64];
  const double b = static_cast<double>(bytes);
  if (bytes >= (std::int64_t{1} << 30))
    std::snprintf(buffer, sizeof buffer, "%.2f GiB", b / (1 << 30));
  else if (bytes >= (std::int64_t{1} << 20))
    std::snprintf(buffer, sizeof buffer, "%.2f MiB", b / (1 << 20));
  else if (bytes >= 1024)
    std::snprintf(buffer, sizeof buffer, "%.2f KiB", b / 1024);
  else
    std::snprintf(buffer, sizeof buffer, "%lld bytes", static_cast<long long>(bytes));
  return buffer;
}

// ---- guard bytes (debugging) ----
constexpr unsigned char kPoison = 0xA5;

struct GuardedBlock {
  char* raw;
  std::size_t guard;
  std::size_t nbytes;
};

struct GuardState {
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::int64_t> live{0};  // guarded blocks not yet freed
  std::atomic<std::int64_t> violations{0};
  std::mutex mutex;
  std::unordered_map<void*, GuardedBlock> blocks;
  std::string last_violation;
};

GuardState& guard_state() {
  static GuardState* state = new GuardState;  // never destroyed: frees may come during exit
  return *state;
}

// Makes `device` current without throwing (for noexcept paths); returns the previous one or -1.
int enter_device_nothrow(int device) noexcept {
  int current = 0;
  if (cudaGetDevice(&current) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1;
  }
  if (current == device) return -1;
  if (cudaSetDevice(device) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1;
  }
  return current;
}

void leave_device_nothrow(int previous) noexcept {
  if (previous >= 0) PARITY_CUDA_CHECK_NOTHROW(cudaSetDevice(previous));
}

}  // namespace

std::size_t current_guard_bytes() { return guard_state().bytes.load(std::memory_order_relaxed); }

CudaAllocator::CudaAllocator(int device) : device_(device) {
  DeviceGuard guard(device);
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  PARITY_CUDA_CHECK(cudaMemPoolCreate(&pool_, &props));
  // Keep freed memory in the pool: without this, every synchronization hands it
  // back to the driver and the next allocation pays for it again.
  std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
  PARITY_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold));
}

void* CudaAllocator::allocate_raw(std::size_t nbytes, cudaStream_t stream) {
  void* ptr = nullptr;
  cudaError_t error = cudaMallocFromPoolAsync(&ptr, nbytes, pool_, stream);
  if (error == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    {
      // Let every queued free land, hand the pool's unused memory back, retry once.
      std::lock_guard lock(trim_mutex_);
      PARITY_CUDA_CHECK(cudaDeviceSynchronize());
      PARITY_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
    }
    error = cudaMallocFromPoolAsync(&ptr, nbytes, pool_, stream);
    if (error == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      throw_oom(nbytes);
    }
  }
  PARITY_CUDA_CHECK(error);
  return ptr;
}

void CudaAllocator::throw_oom(std::size_t nbytes) {
  std::size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
  const MemoryStats s = stats();
  throw OutOfMemoryError("CUDA out of memory on cuda:" + std::to_string(device_) + ": tried to allocate " +
                         format_bytes(static_cast<std::int64_t>(nbytes)) + "; Parity's tensors hold " +
                         format_bytes(s.allocated_bytes) + " (" + format_bytes(s.reserved_bytes) +
                         " reserved by its pool); the device has " +
                         format_bytes(static_cast<std::int64_t>(free_bytes)) + " free of " +
                         format_bytes(static_cast<std::int64_t>(total_bytes)) +
                         ". Free some tensors and try again (the pool was already trimmed).");
}

void* CudaAllocator::allocate(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  DeviceGuard device_guard(device_);
  cudaStream_t stream = stream_for(device_);
  GuardState& gs = guard_state();
  const std::size_t guard = gs.bytes.load(std::memory_order_relaxed);
  void* ptr = nullptr;
  if (guard == 0) {
    ptr = allocate_raw(nbytes, stream);
  } else {
    char* raw = static_cast<char*>(allocate_raw(nbytes + 2 * guard, stream));
    PARITY_CUDA_CHECK(cudaMemsetAsync(raw, kPoison, guard, stream));
    PARITY_CUDA_CHECK(cudaMemsetAsync(raw + guard + nbytes, kPoison, guard, stream));
    ptr = raw + guard;
    std::lock_guard lock(gs.mutex);
    gs.blocks[ptr] = {raw, guard, nbytes};
    gs.live.fetch_add(1);
  }
  const std::int64_t now =
      allocated_.fetch_add(static_cast<std::int64_t>(nbytes)) + static_cast<std::int64_t>(nbytes);
  std::int64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  num_allocations_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(blocks_mutex_);
    blocks_[ptr] = BlockStreams{current_stream(device_), {}};
  }
  return ptr;
}

void CudaAllocator::record_stream(void* ptr, const Stream& stream) {
  std::lock_guard lock(blocks_mutex_);
  const auto it = blocks_.find(ptr);
  PARITY_CHECK(it != blocks_.end(), "cuda::record_stream: no live block of cuda:", device_, " starts at ", ptr,
               " (pass the tensor whose storage owns the memory)");
  if (stream == it->second.allocated_on) return;
  for (const Stream& s : it->second.used_on) {
    if (s == stream) return;
  }
  it->second.used_on.push_back(stream);
}

Stream CudaAllocator::allocation_stream(void* ptr) {
  std::lock_guard lock(blocks_mutex_);
  const auto it = blocks_.find(ptr);
  PARITY_CHECK(it != blocks_.end(), "cuda::allocation_stream: no live block of cuda:", device_, " starts at ", ptr);
  return it->second.allocated_on;
}

void CudaAllocator::deallocate(void* ptr, std::size_t nbytes) noexcept {
  if (ptr == nullptr) return;
  allocated_.fetch_sub(static_cast<std::int64_t>(nbytes));
  const int previous = enter_device_nothrow(device_);
  // Free on the allocating stream, after the streams the block was used on.
  cudaStream_t stream = stream_for(device_);
  BlockStreams streams;  // released (a created stream possibly destroyed) after the free is enqueued
  bool found = false;
  {
    std::lock_guard lock(blocks_mutex_);
    const auto it = blocks_.find(ptr);
    if (it != blocks_.end()) {
      streams = std::move(it->second);
      blocks_.erase(it);
      found = true;
    }
  }
  if (found) {
    stream = static_cast<cudaStream_t>(streams.allocated_on.handle());
    for (const Stream& s : streams.used_on) {
      const auto used = static_cast<cudaStream_t>(s.handle());
      {
        cudaEvent_t done = nullptr;
        if (cudaEventCreateWithFlags(&done, cudaEventDisableTiming) == cudaSuccess) {
          PARITY_CUDA_CHECK_NOTHROW(cudaEventRecord(done, used));
          PARITY_CUDA_CHECK_NOTHROW(cudaStreamWaitEvent(stream, done, 0));
          PARITY_CUDA_CHECK_NOTHROW(cudaEventDestroy(done));  // released once the wait is done
        } else {
          (void)cudaGetLastError();
          PARITY_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(used));
        }
      }
    }
  }
  void* raw = ptr;
  GuardState& gs = guard_state();
  if (gs.live.load() > 0) {
    GuardedBlock block{};
    bool guarded = false;
    {
      std::lock_guard lock(gs.mutex);
      auto it = gs.blocks.find(ptr);
      if (it != gs.blocks.end()) {
        block = it->second;
        gs.blocks.erase(it);
        gs.live.fetch_sub(1);
        guarded = true;
      }
    }
    if (guarded) {
      raw = block.raw;
      std::vector<unsigned char> before(block.guard), after(block.guard);
      bool ok = cudaMemcpyAsync(before.data(), block.raw, block.guard, cudaMemcpyDeviceToHost, stream) ==
                    cudaSuccess &&
                cudaMemcpyAsync(after.data(), block.raw + block.guard + block.nbytes, block.guard,
                                cudaMemcpyDeviceToHost, stream) == cudaSuccess &&
                cudaStreamSynchronize(stream) == cudaSuccess;
      if (!ok) {
        (void)cudaGetLastError();
      } else {
        std::size_t bad_before = 0, bad_after = 0;
        for (std::size_t i = 0; i < block.guard; ++i) {
          bad_before += before[i] != kPoison;
          bad_after += after[i] != kPoison;
        }
        if (bad_before + bad_after > 0) {
          gs.violations.fetch_add(1);
          std::lock_guard lock(gs.mutex);
          gs.last_violation = "cuda:" + std::to_string(device_) + " buffer of " +
                              std::to_string(block.nbytes) + " bytes: " + std::to_string(bad_before) +
                              " guard byte(s) before it and " + std::to_string(bad_after) +
                              " after it were overwritten";
        }
      }
    }
  }
  PARITY_CUDA_CHECK_NOTHROW(cudaFreeAsync(raw, stream));
  leave_device_nothrow(previous);
}

MemoryStats CudaAllocator::stats() const {
  MemoryStats s;
  s.allocated_bytes = allocated_.load();
  s.peak_allocated_bytes = peak_.load();
  s.num_allocations = num_allocations_.load();
  std::uint64_t reserved = 0;
  PARITY_CUDA_CHECK(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved));
  s.reserved_bytes = static_cast<std::int64_t>(reserved);
  return s;
}

void CudaAllocator::empty_cache() {
  DeviceGuard guard(device_);
  std::lock_guard lock(trim_mutex_);
  PARITY_CUDA_CHECK(cudaDeviceSynchronize());
  PARITY_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
}

void CudaAllocator::reset_peak() { peak_.store(allocated_.load()); }

CudaAllocator& device_allocator(int device) {
  // Never destroyed: tensors may be freed during static destruction.
  static std::array<std::atomic<CudaAllocator*>, kMaxDevices> allocators{};
  static std::mutex mutex;
  const auto d = static_cast<std::size_t>(device);
  CudaAllocator* a = allocators[d].load(std::memory_order_acquire);
  if (a != nullptr) [[likely]]
    return *a;
  std::lock_guard lock(mutex);
  a = allocators[d].load(std::memory_order_acquire);
  if (a == nullptr) {
    a = new CudaAllocator(device);
    allocators[d].store(a, std::memory_order_release);
  }
  return *a;
}

// ---- parity/cuda/api.h: memory ----

MemoryStats memory_stats(int device) {
  return device_allocator(resolve_device(device, "cuda::memory_stats")).stats();
}

void reset_peak_memory_stats(int device) {
  device_allocator(resolve_device(device, "cuda::reset_peak_memory_stats")).reset_peak();
}

void empty_cache(int device) { device_allocator(resolve_device(device, "cuda::empty_cache")).empty_cache(); }

void record_stream(const Tensor& tensor, const Stream& stream) {
  PARITY_CHECK(tensor.defined(), "cuda::record_stream: the tensor is undefined; expected a CUDA tensor");
  PARITY_CHECK(tensor.device().is_cuda(), "cuda::record_stream: the tensor is on ", tensor.device(),
               "; expected a CUDA tensor");
  PARITY_CHECK(stream.device() == tensor.device().index, "cuda::record_stream: the tensor is on ", tensor.device(),
               " but the stream on cuda:", stream.device());
  device_allocator(tensor.device().index).record_stream(tensor.storage()->data(), stream);
}

Stream allocation_stream(const Tensor& tensor) {
  PARITY_CHECK(tensor.defined() && tensor.device().is_cuda(), "cuda::allocation_stream: expected a CUDA tensor");
  return device_allocator(tensor.device().index).allocation_stream(tensor.storage()->data());
}

MemoryInfo memory_info(int device) {
  device = resolve_device(device, "cuda::memory_info");
  DeviceGuard guard(device);
  std::size_t free_bytes = 0, total_bytes = 0;
  PARITY_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {static_cast<std::int64_t>(free_bytes), static_cast<std::int64_t>(total_bytes)};
}

void set_guard_bytes(std::size_t bytes) {
  PARITY_CHECK(bytes % 256 == 0,
               "cuda::set_guard_bytes: expected a multiple of 256 (keeps buffers aligned), got ", bytes);
  guard_state().bytes.store(bytes);
}

std::size_t guard_bytes() { return current_guard_bytes(); }
std::int64_t guard_violations() { return guard_state().violations.load(); }
std::string last_guard_violation() {
  GuardState& gs = guard_state();
  std::lock_guard lock(gs.mutex);
  return gs.last_violation;
}

}  // namespace parity::cuda
