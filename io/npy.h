// NumPy .npy files: read into a CPU tensor, write a tensor.
//
// Supports format versions 1.0, 2.0 and 3.0, little-endian float32/float64/
// int32/int64/uint8/bool, C order (Fortran-order arrays are read as the
// transpose view, then made contiguous). Used by the golden-trace tests and for
// exchanging data with Python.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace parity::io {

// Throws parity::Error naming the file and what is wrong with it.
Tensor load_npy(const std::string& path);
// Writes format 1.0 (2.0 when the header needs it); the tensor may be on any device.
void save_npy(const std::string& path, const Tensor& tensor);

}  // namespace parity::io
