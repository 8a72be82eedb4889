#include "io/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>
#include <vector>

#include "tensor/error.h"
#include "tensor/factories.h"

namespace parity::io {

namespace {

DType dtype_from_descr(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return kFloat32;
  if (descr == "<f8") return kFloat64;
  if (descr == "<i4") return kInt32;
  if (descr == "<i8") return kInt64;
  if (descr == "|u1") return kUInt8;
  if (descr == "|b1") return kBool;
  PARITY_FAIL("load_npy: ", path, ": unsupported dtype '", descr,
              "' (expected <f4, <f8, <i4, <i8, |u1 or |b1, little-endian)");
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Int32: return "<i4";
    case DType::Int64: return "<i8";
    case DType::UInt8: return "|u1";
    case DType::Bool: return "|b1";
  }
  return "?";
}

}  // namespace

Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PARITY_CHECK(in.good(), "load_npy: cannot open ", path);
  char magic[8];
  in.read(magic, 8);
  PARITY_CHECK(in.good() && std::memcmp(magic, "\x93NUMPY", 6) == 0, "load_npy: ", path,
               " is not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  std::uint32_t header_len = 0;
  if (major == 1) {
    unsigned char len[2];
    in.read(reinterpret_cast<char*>(len), 2);
    header_len = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    in.read(reinterpret_cast<char*>(len), 4);
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<std::uint32_t>(len[3]) << 24);
  } else {
    PARITY_FAIL("load_npy: ", path, ": unsupported format version ", major);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  PARITY_CHECK(in.good(), "load_npy: ", path, ": truncated header");

  std::smatch match;
  PARITY_CHECK(std::regex_search(header, match, std::regex("'descr':\\s*'([^']*)'")), "load_npy: ", path,
               ": header has no descr: ", header);
  const DType dtype = dtype_from_descr(match[1], path);
  PARITY_CHECK(std::regex_search(header, match, std::regex("'fortran_order':\\s*(True|False)")),
               "load_npy: ", path, ": header has no fortran_order: ", header);
  const bool fortran = match[1] == "True";
  PARITY_CHECK(std::regex_search(header, match, std::regex("'shape':\\s*\\(([^)]*)\\)")), "load_npy: ", path,
               ": header has no shape: ", header);
  Shape shape;
  const std::string dims = match[1];
  const std::regex number("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it) {
    shape.push_back(std::stoll(it->str()));
  }

  Shape stored = shape;
  if (fortran) std::reverse(stored.begin(), stored.end());
  Tensor out = empty(stored, {.dtype = dtype});
  in.read(static_cast<char*>(out.data_ptr()), static_cast<std::streamsize>(out.nbytes()));
  PARITY_CHECK(in.gcount() == static_cast<std::streamsize>(out.nbytes()), "load_npy: ", path,
               ": truncated data (expected ", out.nbytes(), " bytes for shape ", to_string(shape), ")");
  if (!fortran) return out;
  std::vector<std::int64_t> reversed(stored.size());
  for (std::size_t d = 0; d < stored.size(); ++d) reversed[d] = static_cast<std::int64_t>(stored.size() - 1 - d);
  return out.permute(reversed).contiguous();
}

void save_npy(const std::string& path, const Tensor& tensor) {
  const Tensor host = tensor.to(Device::cpu()).contiguous();
  std::string shape = "(";
  for (int d = 0; d < host.dim(); ++d) shape += (d ? ", " : "") + std::to_string(host.shape()[d]);
  shape += host.dim() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + descr_of(host.dtype()) + "', 'fortran_order': False, 'shape': " +
                       shape + ", }";
  // Pad so that magic + length + header + '\n' is a multiple of 64 bytes.
  const bool v2 = header.size() + 11 > 65535;
  const std::size_t prefix = v2 ? 12 : 10;
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  PARITY_CHECK(out.good(), "save_npy: cannot open ", path, " for writing");
  out.write("\x93NUMPY", 6);
  const char version[2] = {static_cast<char>(v2 ? 2 : 1), 0};
  out.write(version, 2);
  const std::uint32_t len = static_cast<std::uint32_t>(header.size());
  const char len_bytes[4] = {static_cast<char>(len & 0xff), static_cast<char>((len >> 8) & 0xff),
                             static_cast<char>((len >> 16) & 0xff), static_cast<char>((len >> 24) & 0xff)};
  out.write(len_bytes, v2 ? 4 : 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(host.data_ptr()), static_cast<std::streamsize>(host.nbytes()));
  PARITY_CHECK(out.good(), "save_npy: writing ", path, " failed");
}

}  // namespace parity::io
