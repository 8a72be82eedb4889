#include "parity/tensor/backend.h"

#include <array>
#include <mutex>

#include "parity/tensor/error.h"

namespace parity {

// The built-in backends, defined by cpu/ and cuda/. Looking them up here (instead
// of self-registration at static-init time) keeps them in a static library's link.
Backend& cpu_backend();
Backend* cuda_backend();  // null in a build without CUDA

namespace {

struct Registry {
  std::array<Backend*, kNumDeviceTypes> backends{};
  Registry() {
    backends[static_cast<int>(DeviceType::CPU)] = &cpu_backend();
    backends[static_cast<int>(DeviceType::CUDA)] = cuda_backend();
  }
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

bool has_backend(DeviceType type) {
  Backend* backend = registry().backends[static_cast<int>(type)];
  return backend != nullptr && backend->device_count() > 0;
}

Backend& backend_for(Device device, const char* op) {
  Backend* backend = registry().backends[static_cast<int>(device.type)];
  if (backend == nullptr) [[unlikely]] {
    PARITY_FAIL(op, ": device ", device, " is not available: this build of Parity has no CUDA "
                "backend (configure with -DPARITY_CUDA=ON on a machine with the CUDA toolkit)");
  }
  if (device.index < 0 || device.index >= backend->device_count()) [[unlikely]] {
    const int count = backend->device_count();
    if (device.is_cuda() && count == 0) {
      PARITY_FAIL(op, ": device ", device, " is not available: no CUDA device is present "
                  "(cuda::is_available() is false)");
    }
    PARITY_FAIL(op, ": device ", device, " does not exist (", count, " ",
                device.is_cpu() ? "cpu" : "cuda", " device(s), valid indices 0..", count - 1, ")");
  }
  return *backend;
}

}  // namespace parity
