#include "cpu/host_allocator.h"

#include <cstdlib>
#include <new>

#include "tensor/error.h"

namespace parity::cpu {

namespace {
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kLargeBlock = std::size_t{1} << 20;
}  // namespace

std::size_t HostAllocator::rounded_size(std::size_t nbytes) {
  const std::size_t unit = nbytes >= kLargeBlock ? kLargeBlock : kAlignment;
  return std::max<std::size_t>(unit, (nbytes + unit - 1) / unit * unit);
}

HostAllocator::~HostAllocator() { empty_cache(); }

void* HostAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = rounded_size(nbytes);
  {
    std::lock_guard lock(mutex_);
    ++stats_.num_allocations;
    stats_.allocated_bytes += static_cast<std::int64_t>(size);
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    auto it = cache_.find(size);
    if (it != cache_.end()) {
      void* ptr = it->second;
      cache_.erase(it);
      cached_bytes_ -= size;
      ++stats_.num_cache_hits;
      return ptr;
    }
  }
  void* ptr = std::aligned_alloc(kAlignment, size);
  if (ptr == nullptr) {
    empty_cache();
    ptr = std::aligned_alloc(kAlignment, size);
  }
  if (ptr == nullptr) {
    std::lock_guard lock(mutex_);
    stats_.allocated_bytes -= static_cast<std::int64_t>(size);
    const MemoryStats s = stats_;
    throw OutOfMemoryError(detail::concat("cpu: out of memory allocating ", nbytes, " bytes (",
                                          s.allocated_bytes, " bytes in use by tensors)"));
  }
  std::lock_guard lock(mutex_);
  stats_.reserved_bytes += static_cast<std::int64_t>(size);
  return ptr;
}

void HostAllocator::deallocate(void* ptr, std::size_t nbytes) noexcept {
  if (ptr == nullptr) return;
  const std::size_t size = rounded_size(nbytes);
  std::lock_guard lock(mutex_);
  stats_.allocated_bytes -= static_cast<std::int64_t>(size);
  if (cached_bytes_ + size <= kMaxCachedBytes) {
    cache_.emplace(size, ptr);
    cached_bytes_ += size;
  } else {
    std::free(ptr);
    stats_.reserved_bytes -= static_cast<std::int64_t>(size);
  }
}

MemoryStats HostAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void HostAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  for (auto& [size, ptr] : cache_) {
    std::free(ptr);
    stats_.reserved_bytes -= static_cast<std::int64_t>(size);
  }
  cache_.clear();
  cached_bytes_ = 0;
}

HostAllocator& host_allocator() {
  // Leaked on purpose: tensors with static storage duration may outlive any
  // destruction order we could choose.
  static HostAllocator* allocator = new HostAllocator();
  return *allocator;
}

}  // namespace parity::cpu
