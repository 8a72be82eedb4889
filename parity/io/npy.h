// NumPy .npy files: read into a CPU tensor, write a tensor.
//
// Supports format versions 1.0, 2.0 and 3.0, little-endian float32/float64/
// int32/int64/uint8/bool, C order (Fortran-order arrays are read as the
// transpose view, then made contiguous). Used by the golden-trace tests and for
// exchanging data with Python.
//
// Reading treats the file as hostile: every malformed file is a parity::Error
// naming the file and the problem, and nothing is allocated for the data until
// the shape's byte size (overflow-checked) matches the bytes the file holds.
// The policy is stricter than NumPy's in two places, because a mismatch means
// the header or the file is wrong and reading on would hide it:
//   - bytes after the array data are an error (NumPy ignores them; a .npy file
//     holds one array, and load_npy could not return the rest);
//   - a bool array's bytes must be 0 or 1 (any other byte is not a valid bool).
// Like NumPy, the header must be a dict with exactly the keys 'descr',
// 'fortran_order' and 'shape', and a shape whose byte size, ignoring zero
// dimensions, does not fit in 63 bits is rejected even when the array is empty.
#pragma once

#include <string>
#include <string_view>

#include "parity/tensor/tensor.h"

namespace parity::io {

// Throws parity::Error naming the file and what is wrong with it.
Tensor load_npy(const std::string& path);
// The same for the bytes of a whole .npy file already in memory; `name` stands
// for the file in error messages. The libFuzzer target (fuzz/fuzz_npy.cpp) calls this.
Tensor parse_npy(std::string_view bytes, const std::string& name);
// Writes format 1.0 (2.0 when the header needs it); the tensor may be on any device.
void save_npy(const std::string& path, const Tensor& tensor);

}  // namespace parity::io
