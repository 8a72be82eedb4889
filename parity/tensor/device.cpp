// Which devices this build and machine have: the backend table's answer.
#include "parity/tensor/device.h"

#include "parity/tensor/backend.h"

namespace parity {
Backend* cuda_backend();  // parity/cuda (null in a build without CUDA)
}  // namespace parity

namespace parity::cuda {
bool is_available() { return device_count() > 0; }
int device_count() {
  Backend* backend = cuda_backend();
  return backend == nullptr ? 0 : backend->device_count();
}
}  // namespace parity::cuda
