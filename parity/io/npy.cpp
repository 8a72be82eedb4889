#include "parity/io/npy.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "parity/io/hostile_text.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"

namespace parity::io {

namespace {

using Source = FileSource;
#define NPY_CHECK PARITY_FILE_CHECK
#define NPY_FAIL PARITY_FILE_FAIL

// The magic string (6 bytes), the version (2) and the header length (2 in
// version 1.0, 4 in 2.0 and 3.0) come before the header dict.
constexpr std::string_view kMagic("\x93NUMPY", 6);
constexpr std::size_t kMaxPreamble = 12;

// At most 32 characters of hostile text for an error message.
std::string excerpt(std::string_view text) { return printable_excerpt(text, 32); }

DType dtype_from_descr(std::string_view descr, const Source& src) {
  if (descr == "<f4") return kFloat32;
  if (descr == "<f8") return kFloat64;
  if (descr == "<i4") return kInt32;
  if (descr == "<i8") return kInt64;
  if (descr == "|u1") return kUInt8;
  if (descr == "|b1") return kBool;
  NPY_FAIL(src, "unsupported dtype '", excerpt(descr),
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

// Where the header dict lies in the file: bytes [begin, end). The data follows it.
struct HeaderSpan {
  std::size_t begin = 0, end = 0;
};

// Checks the magic string, the version and the header length in `start` (the
// file's first kMaxPreamble bytes, or all of a shorter file) against the file's size.
HeaderSpan locate_header(std::string_view start, std::uint64_t file_size, const Source& src) {
  NPY_CHECK(src, start.substr(0, kMagic.size()) == kMagic,
            "not a .npy file (it does not start with the magic string \\x93NUMPY)");
  NPY_CHECK(src, start.size() >= 8, "truncated header: the file ends before the format version");
  const int major = static_cast<unsigned char>(start[6]), minor = static_cast<unsigned char>(start[7]);
  NPY_CHECK(src, (major == 1 || major == 2 || major == 3) && minor == 0, "unsupported format version ", major,
            ".", minor, " (expected 1.0, 2.0 or 3.0)");
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  NPY_CHECK(src, start.size() >= 8 + length_bytes, "truncated header: the file ends in the header length");
  std::uint32_t length = 0;  // little-endian
  for (std::size_t i = 0; i < length_bytes; ++i) {
    length |= static_cast<std::uint32_t>(static_cast<unsigned char>(start[8 + i])) << (8 * i);
  }
  const HeaderSpan span{8 + length_bytes, 8 + length_bytes + length};
  NPY_CHECK(src, span.end <= file_size, "truncated header: the header length says ", length,
            " bytes, the file has ", file_size - span.begin, " after it");
  return span;
}

struct Header {
  DType dtype = kFloat32;
  bool fortran_order = false;
  Shape shape;
};

// Reads the header dict, a Python literal as NumPy writes it,
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a '\n'. A parser of just this grammar rather than
// regular expressions, so that anything else in the header is an error.
class DictParser {
 public:
  DictParser(std::string_view text, const Source& src) : text_(text), src_(src) {}

  Header parse() {
    Header header;
    bool has_descr = false, has_fortran_order = false, has_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string_view key = quoted("a key");
      expect(':');
      if (key == "descr") {
        once(has_descr, key);
        header.dtype = dtype_from_descr(quoted("the descr"), src_);
      } else if (key == "fortran_order") {
        once(has_fortran_order, key);
        header.fortran_order = boolean();
      } else if (key == "shape") {
        once(has_shape, key);
        header.shape = shape();
      } else {
        NPY_FAIL(src_, "bad header: unexpected key '", excerpt(key),
                 "' (expected 'descr', 'fortran_order' and 'shape')");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    NPY_CHECK(src_, pos_ == text_.size(), "bad header: ", here(), " after the dict");
    NPY_CHECK(src_, has_descr, "bad header: no 'descr' key");
    NPY_CHECK(src_, has_fortran_order, "bad header: no 'fortran_order' key");
    NPY_CHECK(src_, has_shape, "bad header: no 'shape' key");
    return header;
  }

 private:
  // "'x' at byte 12 of the header", or "the end of the header".
  std::string here() const {
    if (pos_ == text_.size()) return "the end of the header";
    return detail::concat("'", excerpt(text_.substr(pos_, 1)), "' at byte ", pos_, " of the header");
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ == text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) { NPY_CHECK(src_, accept(c), "bad header: expected '", c, "', found ", here()); }
  void once(bool& seen, std::string_view key) {
    NPY_CHECK(src_, !seen, "bad header: key '", key, "' appears twice");
    seen = true;
  }

  std::string_view quoted(const char* what) {
    skip_space();
    const char quote = pos_ < text_.size() ? text_[pos_] : '\0';
    NPY_CHECK(src_, quote == '\'' || quote == '"', "bad header: expected ", what, " in quotes, found ",
              here());
    const std::size_t end = text_.find(quote, pos_ + 1);
    NPY_CHECK(src_, end != std::string_view::npos, "bad header: unterminated string at byte ", pos_,
              " of the header");
    const std::string_view text = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return text;
  }

  bool boolean() {
    skip_space();
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    NPY_FAIL(src_, "bad header: fortran_order is not True or False: found ", here());
  }

  Shape shape() {
    Shape shape;
    expect('(');
    while (!accept(')')) {
      NPY_CHECK(src_, shape.size() < static_cast<std::size_t>(kMaxDims), "shape has more than ", kMaxDims,
                " dimensions (a tensor has at most ", kMaxDims, ")");
      shape.push_back(dimension());
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  // A non-negative decimal integer that fits in int64.
  std::int64_t dimension() {
    skip_space();
    const std::size_t begin = pos_;
    const auto number = [&](std::size_t digits_from) {  // the text of the number at begin, for messages
      while (digits_from < text_.size() && text_[digits_from] >= '0' && text_[digits_from] <= '9') {
        ++digits_from;
      }
      return excerpt(text_.substr(begin, digits_from - begin));
    };
    NPY_CHECK(src_, pos_ == text_.size() || text_[pos_] != '-', "shape has a negative dimension ",
              number(begin + 1));
    std::int64_t value = 0;
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
      const int digit = text_[pos_] - '0';
      NPY_CHECK(src_, value <= (std::numeric_limits<std::int64_t>::max() - digit) / 10,
                "shape has a dimension ", number(begin), " that does not fit in int64");
      value = value * 10 + digit;
    }
    NPY_CHECK(src_, pos_ > begin,
              "bad header: expected a dimension (a non-negative integer) in the shape, found ", here());
    return value;
  }

  std::string_view text_;
  const Source& src_;
  std::size_t pos_ = 0;
};

// The array's size in bytes. Like NumPy, the product of the non-zero dimensions
// and the element size must fit in int64 even when the array is empty, so that
// every stride fits. The file must hold exactly these bytes after the header.
std::size_t data_size(const Header& header, std::uint64_t available, const Source& src) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t bytes = element_size(header.dtype);
  bool empty = false;
  for (const std::int64_t size : header.shape) {
    if (size == 0) {
      empty = true;
      continue;
    }
    NPY_CHECK(src, bytes <= kMax / static_cast<std::uint64_t>(size), "shape ", to_string(header.shape),
              " of ", header.dtype, " is too large (its size in bytes overflows int64)");
    bytes *= static_cast<std::uint64_t>(size);
  }
  if (empty) bytes = 0;
  NPY_CHECK(src, available >= bytes, "truncated data: shape ", to_string(header.shape), " of ", header.dtype,
            " needs ", bytes, " bytes, the file has ", available, " after the header");
  NPY_CHECK(src, available == bytes, available - bytes, " bytes after the array data (shape ",
            to_string(header.shape), " of ", header.dtype, " needs ", bytes,
            "; a .npy file holds one array)");
  return static_cast<std::size_t>(bytes);
}

// The array the header describes, its nbytes filled in by read(destination, nbytes).
template <typename Read>
Tensor make_array(const Header& header, std::size_t nbytes, const Source& src, Read read) {
  Shape stored = header.shape;  // a Fortran-order array is its transpose in C order
  if (header.fortran_order) std::reverse(stored.begin(), stored.end());
  Tensor out = empty(stored, {.dtype = header.dtype});
  const auto data = static_cast<unsigned char*>(out.data_ptr());
  if (nbytes > 0) read(reinterpret_cast<char*>(data), nbytes);
  if (header.dtype == kBool) {
    // Any byte but 0 and 1 would be undefined behaviour once read as a bool.
    const unsigned char* bad = std::find_if(data, data + nbytes, [](unsigned char b) { return b > 1; });
    NPY_CHECK(src, bad == data + nbytes, "bool element ", bad - data, " is the byte ", static_cast<int>(*bad),
              " (expected 0 or 1)");
  }
  if (!header.fortran_order) return out;
  std::vector<std::int64_t> reversed(stored.size());
  for (std::size_t d = 0; d < stored.size(); ++d) {
    reversed[d] = static_cast<std::int64_t>(stored.size() - 1 - d);
  }
  return out.permute(reversed).contiguous();
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& name) {
  const Source src{"parse_npy", name};
  const HeaderSpan span = locate_header(bytes.substr(0, kMaxPreamble), bytes.size(), src);
  const Header header = DictParser(bytes.substr(span.begin, span.end - span.begin), src).parse();
  const std::size_t nbytes = data_size(header, bytes.size() - span.end, src);
  return make_array(header, nbytes, src,
                    [&](char* to, std::size_t n) { std::memcpy(to, bytes.data() + span.end, n); });
}

// The same steps as parse_npy, but only the header is read before the sizes are
// checked, and the data goes straight into the tensor: no second copy of a large file.
Tensor load_npy(const std::string& path) {
  const Source src{"load_npy", path};
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  PARITY_CHECK(in.good(), "load_npy: cannot open ", path);
  const std::streamoff end = in.tellg();
  NPY_CHECK(src, end >= 0, "cannot tell the file's size");
  const auto file_size = static_cast<std::uint64_t>(end);
  // The sizes were checked against the file's: a short read is an I/O error, or the file changed meanwhile.
  const auto read_at = [&](std::size_t offset, char* to, std::size_t n) {
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(to, static_cast<std::streamsize>(n));
    NPY_CHECK(src, in.gcount() == static_cast<std::streamsize>(n), "read error: ", n, " bytes at byte ",
              offset, ", got ", in.gcount());
  };
  std::string start(std::min<std::uint64_t>(file_size, kMaxPreamble), '\0');
  read_at(0, start.data(), start.size());
  const HeaderSpan span = locate_header(start, file_size, src);
  std::string dict(span.end - span.begin, '\0');  // no longer than the file
  read_at(span.begin, dict.data(), dict.size());
  const Header header = DictParser(dict, src).parse();
  const std::size_t nbytes = data_size(header, file_size - span.end, src);
  return make_array(header, nbytes, src, [&](char* to, std::size_t n) { read_at(span.end, to, n); });
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
