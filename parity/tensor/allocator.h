// Allocator: the interface through which a Storage gets its bytes.
//
// Each backend owns one allocator per device (the CPU's caches freed blocks so a
// new output doesn't pay page faults each call; the CUDA backend uses the
// stream-ordered pool). Stats are per device.
#pragma once

#include <cstddef>
#include <cstdint>

#include "parity/tensor/device.h"

namespace parity {

struct MemoryStats {
  std::int64_t allocated_bytes = 0;   // held by live storages
  std::int64_t reserved_bytes = 0;    // allocated + cached, obtained from the system
  std::int64_t peak_allocated_bytes = 0;
  std::int64_t num_allocations = 0;   // calls to allocate()
  std::int64_t num_cache_hits = 0;    // of those, served from the cache
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns memory for nbytes (nbytes may be 0: a unique non-null pointer is not
  // promised then). Throws parity::OutOfMemoryError when none can be had.
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes) noexcept = 0;
  virtual Device device() const = 0;
  virtual MemoryStats stats() const = 0;
  // Returns cached, unused blocks to the system.
  virtual void empty_cache() = 0;
};

}  // namespace parity
