// Memory statistics and cache release, per device: each backend's allocator.
#include "parity/tensor/memory.h"

#include "parity/tensor/backend.h"

namespace parity {
MemoryStats memory_stats(Device device) {
  return backend_for(device, "memory_stats").allocator(device.index).stats();
}
void empty_cache(Device device) { backend_for(device, "empty_cache").allocator(device.index).empty_cache(); }
}  // namespace parity
