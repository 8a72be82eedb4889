#include "parity/cpu/host_allocator.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "parity/tensor/error.h"

namespace parity::cpu {

namespace {
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kLargeBlock = std::size_t{1} << 20;
// Blocks from this size on are made of whole 2 MiB huge pages (Note [Huge pages]).
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugeBlock = std::size_t{4} << 20;

// Note [Huge pages]: a block of kHugeBlock bytes or more is 2 MiB aligned, a
// whole number of 2 MiB pages, and marked MADV_HUGEPAGE, so Linux backs it with
// transparent huge pages where it can (THP "always" or "madvise"; with "never"
// the advice is ignored). Streaming over such a block takes 512 times fewer TLB
// entries and page walks, and its first touch 512 times fewer page faults:
// a 64M-element float add over such blocks ran 5-25% faster than over 4 KiB
// pages (standalone test on the 2-core AMD EPYC of bench/, shared). The cost: a
// block may hold up to 2 MiB less a byte past the tensor's end (the 1 MiB
// rounding below wastes up to 1 MiB), and the first touch of a huge page may
// wait for the kernel to find 2 MiB of contiguous memory (once per block, since
// freed blocks are cached). The STREAM-like references of bench/bench_ops.cpp
// allocate through this allocator too, so they measure the same memory.
void* allocate_block(std::size_t size) {
  if (size < kHugeBlock) return std::aligned_alloc(kAlignment, size);
  void* ptr = std::aligned_alloc(kHugePage, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (ptr != nullptr) madvise(ptr, size, MADV_HUGEPAGE);  // advice only: a failure changes nothing
#endif
  return ptr;
}
}  // namespace

std::size_t HostAllocator::rounded_size(std::size_t nbytes) {
  const std::size_t unit = nbytes >= kHugeBlock ? kHugePage : nbytes >= kLargeBlock ? kLargeBlock : kAlignment;
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
    if (it != cache_.end() && !it->second.empty()) {
      void* ptr = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= size;
      ++stats_.num_cache_hits;
      return ptr;
    }
  }
  void* ptr = allocate_block(size);
  if (ptr == nullptr) {
    empty_cache();
    ptr = allocate_block(size);
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
  bool cached = false;
  if (cached_bytes_ + size <= kMaxCachedBytes) {
    try {
      cache_[size].push_back(ptr);
      cached_bytes_ += size;
      cached = true;
    } catch (const std::bad_alloc&) {  // no room to remember it: give it back instead
    }
  }
  if (!cached) {
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
  for (auto& [size, blocks] : cache_) {
    for (void* ptr : blocks) std::free(ptr);
    stats_.reserved_bytes -= static_cast<std::int64_t>(size * blocks.size());
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
