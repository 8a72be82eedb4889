// The CPU allocator: 64-byte aligned blocks, with freed blocks cached by size.
//
// A new output of the same size as one just freed reuses its (already
// faulted-in) pages, so eager code that allocates a fresh tensor per op does
// not pay page faults every call. Sizes are rounded up (to 64 bytes below 1 MiB,
// to 1 MiB above) so near sizes share blocks. The cache holds at most
// kMaxCachedBytes; empty_cache() releases it.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>

#include "tensor/allocator.h"

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
  std::multimap<std::size_t, void*> cache_;  // rounded size -> free block
  std::size_t cached_bytes_ = 0;
  MemoryStats stats_;
};

HostAllocator& host_allocator();

}  // namespace parity::cpu
