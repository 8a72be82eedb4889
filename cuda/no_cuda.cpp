// Compiled instead of the CUDA backend when Parity is built without CUDA
// (PARITY_CUDA=OFF, or AUTO without nvcc): there is no CUDA column in the op x
// device table, and asking for a CUDA device says so (tensor/backend.cpp).
#include "tensor/backend.h"

namespace parity {
Backend* cuda_backend() { return nullptr; }
}  // namespace parity
