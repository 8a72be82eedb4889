// Memory statistics and cache control for a device's allocator.
#pragma once

#include "parity/tensor/allocator.h"
#include "parity/tensor/device.h"

namespace parity {

MemoryStats memory_stats(Device device = Device::cpu());
// Releases the device's cached, unused blocks to the system.
void empty_cache(Device device = Device::cpu());

}  // namespace parity
