// The CPU allocator: 64-byte aligned blocks, with freed blocks cached by size.
//
// A new output of the same size as one just freed reuses its (already
// faulted-in) pages, so eager code that allocates a fresh tensor per op does
// not pay page faults every call. Sizes are rounded up (to 64 bytes below 1 MiB,
// to 1 MiB below 4 MiB, to 2 MiB above) so near sizes share blocks; blocks of
// 4 MiB and more are backed by huge pages where Linux allows it (Note [Huge
// pages] in host_allocator.cpp). Each size keeps its free blocks
// as a stack: the block freed last, the likeliest to be still in cache, is
// handed out first, and a hit or a release allocates nothing once the stack has
// grown. The cache holds at most kMaxCachedBytes; empty_cache() releases it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "parity/tensor/allocator.h"

namespace parity::cpu {

class HostAllocator final : public Allocator {
 public:
  static constexpr std::size_t kMaxCachedBytes = std::size_t{4} << 30;

  ~HostAllocator() override;
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) noexcept override;
  Device device() const override { return Device::cpu(); }
  MemoryStats stats() const override;
  void empty_cache() override;

  static std::size_t rounded_size(std::size_t nbytes);

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> cache_;  // rounded size -> free blocks, last freed on top
  std::size_t cached_bytes_ = 0;
  MemoryStats stats_;
};

HostAllocator& host_allocator();

// A temporary buffer of n elements from the caching host allocator (repeated
// calls reuse pages already faulted in); freed when it goes out of scope.
template <typename T>
class HostScratch {
 public:
  explicit HostScratch(std::int64_t n) : bytes_(static_cast<std::size_t>(n > 0 ? n : 0) * sizeof(T)) {
    if (bytes_ > 0) ptr_ = static_cast<T*>(host_allocator().allocate(bytes_));
  }
  ~HostScratch() {
    if (ptr_ != nullptr) host_allocator().deallocate(ptr_, bytes_);
  }
  HostScratch(const HostScratch&) = delete;
  HostScratch& operator=(const HostScratch&) = delete;
  T* get() const { return ptr_; }

 private:
  std::size_t bytes_;
  T* ptr_ = nullptr;
};

}  // namespace parity::cpu
