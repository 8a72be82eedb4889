// Hugging Face safetensors files (https://github.com/huggingface/safetensors,
// "Format"): read into CPU tensors, write tensors.
//
//   8 bytes   N, the header's length, an unsigned little-endian 64-bit integer
//   N bytes   a UTF-8 JSON object: for each tensor, by name,
//               {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//             (offsets into the data, relative to its start), and optionally
//             "__metadata__": {string: string}; padded with spaces
//   the rest  the tensors' bytes, little-endian, C order, back to back
//
// Reads F32, F64, I32, I64, U8 and BOOL (Parity's dtypes); any other dtype
// (F16, BF16, I8, ...) is refused by name. Reading treats the file as hostile,
// like parity/io/npy.h: every malformed file is a parity::Error naming the file and
// the problem, and nothing is allocated for the data until every size in the
// header (overflow-checked) has been checked against the file's. The checks
// are the reference implementation's (safetensors' Rust crate, which the
// Python package runs):
//   - the header length is at most 100,000,000 bytes and fits in the file;
//   - the header starts with '{' and is valid JSON and UTF-8;
//   - each tensor's data_offsets span exactly its shape's bytes, and the
//     tensors, in offset order, cover the data without gap or overlap up to
//     the file's last byte;
// and stricter in four places, where reading on would hide a broken file:
//   - a key that appears twice in an object is an error (JSON parsers keep one);
//   - a tensor entry has exactly the keys dtype, shape and data_offsets;
//   - a BOOL byte is 0 or 1, and a shape has at most 8 dims (Parity's limit);
//   - like NumPy, the product of a shape's non-zero dims times the element
//     size fits in int64, even for an empty tensor.
//
// Writing is the reference's layout, so the bytes match what
// safetensors.numpy.save_file writes for the same tensors: the data ordered
// by dtype (I64, F64, F32, I32, U8, BOOL) then name, "__metadata__" first in
// the header (its keys sorted), the header padded with spaces to a multiple of
// 8 bytes. The file is written atomically (parity/io/atomic_file.h).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "parity/tensor/tensor.h"

namespace parity::io {

struct SafeTensors {
  // By name. CPU, contiguous. The same type as nn::StateDict, so a file saved
  // with Parity's parameter names ("0.kernel") loads with load_state_dict.
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when the file has none
};

// Throws parity::Error naming the file and what is wrong with it.
SafeTensors load_safetensors(const std::string& path);
// The same for the bytes of a whole file already in memory; `name` stands for
// the file in error messages. The libFuzzer target (fuzz/fuzz_safetensors.cpp) calls this.
SafeTensors parse_safetensors(std::string_view bytes, const std::string& name);

// Tensors on any device, of any dtype Parity has. A name may not be
// "__metadata__" and must be valid UTF-8, as must the metadata.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// The bytes save_safetensors writes.
std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

// The safetensors name of a dtype: "F32", "F64", "I32", "I64", "U8", "BOOL".
std::string_view safetensors_dtype(DType dtype);

}  // namespace parity::io
