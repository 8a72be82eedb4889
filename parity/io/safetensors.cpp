#include "parity/io/safetensors.h"

#include "parity/io/hostile_text.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "parity/io/atomic_file.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"

namespace parity::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so is this reader");

namespace {

using json = nlohmann::json;

// safetensors' own limit on the header (MAX_HEADER_SIZE in the Rust crate).
constexpr std::uint64_t kMaxHeader = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

using Source = FileSource;
#define ST_CHECK PARITY_FILE_CHECK
#define ST_FAIL PARITY_FILE_FAIL

// Hostile text for an error message: at most `limit` characters.
std::string excerpt(std::string_view text, std::size_t limit = 48) { return printable_excerpt(text, limit); }

std::string quoted_name(std::string_view name) {
  std::string out(1, '\'');
  out += excerpt(name);
  out += '\'';
  return out;
}

struct DTypeName {
  std::string_view name;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {{"F32", kFloat32}, {"F64", kFloat64}, {"I32", kInt32},
                                 {"I64", kInt64},   {"U8", kUInt8},    {"BOOL", kBool}};
// The other dtypes of the format (the Rust crate's Dtype), refused by name.
constexpr std::string_view kOtherDTypes[] = {"F16",     "BF16",    "I8",      "U16",     "I16",     "U32",    "U64",
                                             "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",     "C64"};

DType dtype_from_name(std::string_view text, std::string_view tensor, const Source& src) {
  for (const DTypeName& d : kDTypes) {
    if (d.name == text) return d.dtype;
  }
  const bool known = std::find(std::begin(kOtherDTypes), std::end(kOtherDTypes), text) != std::end(kOtherDTypes);
  ST_FAIL(src, "tensor ", quoted_name(tensor), ": ", known ? "unsupported dtype " : "unknown dtype ", quoted_name(text),
          " (Parity reads F32, F64, I32, I64, U8 and BOOL)");
}

// The reference writer orders the data by dtype, in its enum's order reversed
// (I64, F64, F32, I32, U8, BOOL for Parity's dtypes), then by name.
int write_rank(DType dtype) {
  switch (dtype) {
    case DType::Int64: return 0;
    case DType::Float64: return 1;
    case DType::Float32: return 2;
    case DType::Int32: return 3;
    case DType::UInt8: return 4;
    case DType::Bool: return 5;
  }
  return 6;
}

// One tensor of the header, checked.
struct Entry {
  std::string name;
  DType dtype = kFloat32;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

struct Header {
  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;
};

// Parses the JSON header: duplicate keys and nesting deeper than the format's
// (object / tensor object / shape array) are errors, raised while parsing.
json parse_json(std::string_view text, const Source& src) {
  ST_CHECK(src, !text.empty() && text[0] == '{', "bad header: it does not start with '{' (found ",
           text.empty() ? std::string("nothing") : quoted_name(text.substr(0, 1)), ")");
  std::vector<std::set<std::string>> keys;  // the keys of each open object
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        ST_CHECK(src, depth <= 2, "bad header: values nested ", depth + 1,
                 " deep (a header is an object of objects holding arrays of numbers)");
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        ST_CHECK(src, keys.back().insert(key).second, "bad header: key ", quoted_name(key),
                 " appears twice in one object");
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    ST_FAIL(src, "bad header: not valid JSON: ", excerpt(e.what(), 200));
  }
}

std::uint64_t unsigned_number(const json& value, std::string_view tensor, const char* what, const Source& src) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer()) {
    ST_FAIL(src, "tensor ", quoted_name(tensor), ": ", what, " ", value.get<std::int64_t>(), " is negative");
  }
  ST_FAIL(src, "tensor ", quoted_name(tensor), ": ", what, " ", excerpt(value.dump()),
          " is not a non-negative integer");
}

Entry parse_entry(const std::string& name, const json& info, const Source& src) {
  ST_CHECK(src, info.is_object(), "tensor ", quoted_name(name), ": expected an object with dtype, shape and ",
           "data_offsets, found ", excerpt(info.dump()));
  for (const auto& [key, value] : info.items()) {
    ST_CHECK(src, key == "dtype" || key == "shape" || key == "data_offsets", "tensor ", quoted_name(name),
             ": unexpected key ", quoted_name(key), " (expected dtype, shape and data_offsets)");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    ST_CHECK(src, info.contains(key), "tensor ", quoted_name(name), ": no '", key, "'");
  }
  Entry entry;
  entry.name = name;
  const json& dtype = info["dtype"];
  ST_CHECK(src, dtype.is_string(), "tensor ", quoted_name(name), ": dtype ", excerpt(dtype.dump()),
           " is not a string");
  entry.dtype = dtype_from_name(dtype.get_ref<const std::string&>(), name, src);

  const json& shape = info["shape"];
  ST_CHECK(src, shape.is_array(), "tensor ", quoted_name(name), ": shape ", excerpt(shape.dump()),
           " is not an array");
  ST_CHECK(src, shape.size() <= static_cast<std::size_t>(kMaxDims), "tensor ", quoted_name(name), ": shape has ",
           shape.size(), " dimensions (a tensor has at most ", kMaxDims, ")");
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  // Like NumPy: the non-zero dims times the element size fit in int64 even for
  // an empty tensor, so that every stride fits.
  std::uint64_t bytes = element_size(entry.dtype);
  bool empty_tensor = false;
  for (const json& dim : shape) {
    const std::uint64_t size = unsigned_number(dim, name, "dimension", src);
    ST_CHECK(src, size <= kMax, "tensor ", quoted_name(name), ": dimension ", size, " does not fit in int64");
    entry.shape.push_back(static_cast<std::int64_t>(size));
    if (size == 0) {
      empty_tensor = true;
      continue;
    }
    ST_CHECK(src, bytes <= kMax / size, "tensor ", quoted_name(name), ": shape ", excerpt(shape.dump()), " of ",
             dtype.get_ref<const std::string&>(), " is too large (its size in bytes overflows int64)");
    bytes *= size;
  }
  if (empty_tensor) bytes = 0;

  const json& offsets = info["data_offsets"];
  ST_CHECK(src, offsets.is_array() && offsets.size() == 2, "tensor ", quoted_name(name), ": data_offsets ",
           excerpt(offsets.dump()), " is not [begin, end]");
  entry.begin = unsigned_number(offsets[0], name, "data offset", src);
  entry.end = unsigned_number(offsets[1], name, "data offset", src);
  ST_CHECK(src, entry.begin <= entry.end, "tensor ", quoted_name(name), ": data_offsets [", entry.begin, ", ",
           entry.end, "] end before they begin");
  ST_CHECK(src, entry.end - entry.begin == bytes, "tensor ", quoted_name(name), ": data_offsets [", entry.begin, ", ",
           entry.end, "] span ", entry.end - entry.begin, " bytes, but shape ", to_string(entry.shape), " of ",
           dtype.get_ref<const std::string&>(), " needs ", bytes);
  return entry;
}

// The header's tensors and metadata, checked against `data_size`, the bytes after the header.
Header parse_header(std::string_view text, std::uint64_t data_size, const Source& src) {
  const json root = parse_json(text, src);
  ST_CHECK(src, root.is_object(), "bad header: not a JSON object");
  Header header;
  for (const auto& [key, value] : root.items()) {
    if (key == kMetadataKey) {
      ST_CHECK(src, value.is_object() || value.is_null(), "__metadata__ is not an object of strings: ",
               excerpt(value.dump()));
      if (value.is_null()) continue;
      for (const auto& [k, v] : value.items()) {
        ST_CHECK(src, v.is_string(), "__metadata__ ", quoted_name(k), " is not a string: ", excerpt(v.dump()));
        header.metadata.emplace(k, v.get<std::string>());
      }
      continue;
    }
    header.entries.push_back(parse_entry(key, value, src));
    const Entry& e = header.entries.back();
    ST_CHECK(src, e.end <= data_size, "tensor ", quoted_name(e.name), ": data_offsets [", e.begin, ", ", e.end,
             "] go past the end of the data (", data_size, " bytes after the header: truncated file?)");
  }
  // In offset order the tensors must tile the data: no gap, no overlap, nothing after.
  std::vector<const Entry*> order;
  for (const Entry& e : header.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : order) {
    ST_CHECK(src, e->begin >= covered, "tensor ", quoted_name(e->name), ": data_offsets [", e->begin, ", ", e->end,
             "] overlap tensor ", quoted_name(previous ? previous->name : ""), "'s [", previous ? previous->begin : 0,
             ", ", covered, "]");
    ST_CHECK(src, e->begin == covered, "bytes [", covered, ", ", e->begin, ") of the data belong to no tensor (",
             "a gap before tensor ", quoted_name(e->name), ")");
    covered = e->end;
    previous = e;
  }
  ST_CHECK(src, covered == data_size, data_size - covered, " bytes after the last tensor's data belong to no tensor (",
           "the data is ", data_size, " bytes, the tensors cover ", covered, ")");
  return header;
}

// Reads a whole file through read_at(offset, to, n), which the caller has
// checked can read any range within `file_size`.
SafeTensors read(std::uint64_t file_size, const Source& src,
                 const std::function<void(std::uint64_t, char*, std::size_t)>& read_at) {
  ST_CHECK(src, file_size >= 8, "truncated: the file has ", file_size,
           " bytes, fewer than the 8 of the header's length");
  unsigned char prefix[8];
  read_at(0, reinterpret_cast<char*>(prefix), 8);
  std::uint64_t length = 0;
  for (int i = 8; i-- > 0;) length = length << 8 | prefix[i];
  ST_CHECK(src, length <= kMaxHeader, "the header length ", length, " exceeds safetensors' limit of ", kMaxHeader,
           " bytes");
  ST_CHECK(src, length <= file_size - 8, "truncated header: the header length says ", length, " bytes, the file has ",
           file_size - 8, " after it");
  std::string text(static_cast<std::size_t>(length), '\0');  // no longer than the file
  if (length > 0) read_at(8, text.data(), text.size());
  const std::uint64_t data_start = 8 + length;
  const Header header = parse_header(text, file_size - data_start, src);

  SafeTensors out;
  out.metadata = header.metadata;
  for (const Entry& e : header.entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype});
    const std::size_t nbytes = static_cast<std::size_t>(e.end - e.begin);
    auto* data = static_cast<unsigned char*>(t.data_ptr());
    if (nbytes > 0) read_at(data_start + e.begin, reinterpret_cast<char*>(data), nbytes);
    if (e.dtype == kBool) {
      // Any byte but 0 and 1 would be undefined behaviour once read as a bool.
      const unsigned char* bad = std::find_if(data, data + nbytes, [](unsigned char b) { return b > 1; });
      ST_CHECK(src, bad == data + nbytes, "tensor ", quoted_name(e.name), ": bool element ", bad - data,
               " is the byte ", static_cast<int>(*bad), " (expected 0 or 1)");
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

// The header and the data, in the order the file holds them.
struct Layout {
  std::string header;          // the 8-byte length, then the padded JSON
  std::vector<Tensor> tensors;  // CPU, contiguous, in data order
};

Layout plan(const std::map<std::string, Tensor>& tensors, const std::map<std::string, std::string>& metadata,
            const char* op, const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> order;
  for (const auto& [name, t] : tensors) {
    PARITY_CHECK(name != kMetadataKey, op, ": ", path, ": a tensor cannot be named __metadata__");
    PARITY_CHECK(t.defined(), op, ": ", path, ": tensor ", quoted_name(name), " is undefined");
    order.emplace_back(name, t.to(Device::cpu()).contiguous());
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return write_rank(a.second.dtype()) < write_rank(b.second.dtype());  // names already sorted within a dtype
  });
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    root[std::string(kMetadataKey)] = std::move(meta);
  }
  Layout layout;
  std::uint64_t offset = 0;
  for (auto& [name, t] : order) {
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = safetensors_dtype(t.dtype());
    info["shape"] = t.shape();
    info["data_offsets"] = {offset, offset + t.nbytes()};
    offset += t.nbytes();
    root[name] = std::move(info);
    layout.tensors.push_back(std::move(t));
  }
  std::string text;
  try {
    text = root.dump();
  } catch (const nlohmann::ordered_json::exception& e) {  // 316: a name or metadata that is not UTF-8
    PARITY_FAIL(op, ": ", path, ": a tensor name or metadata string is not valid UTF-8 (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) layout.header += static_cast<char>((length >> (8 * i)) & 0xff);
  layout.header += text;
  return layout;
}

}  // namespace

std::string_view safetensors_dtype(DType dtype) {
  for (const DTypeName& d : kDTypes) {
    if (d.dtype == dtype) return d.name;
  }
  PARITY_INTERNAL_FAIL("safetensors_dtype: unknown dtype ", static_cast<int>(dtype));
}

SafeTensors parse_safetensors(std::string_view bytes, const std::string& name) {
  const Source src{"parse_safetensors", name};
  return read(bytes.size(), src, [&](std::uint64_t offset, char* to, std::size_t n) {
    std::memcpy(to, bytes.data() + offset, n);
  });
}

// The same steps as parse_safetensors, but only the header is read before the
// sizes are checked, and the data goes straight into the tensors.
SafeTensors load_safetensors(const std::string& path) {
  const Source src{"load_safetensors", path};
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  PARITY_CHECK(in.good(), "load_safetensors: cannot open ", path);
  const std::streamoff end = in.tellg();
  ST_CHECK(src, end >= 0, "cannot tell the file's size");
  // The sizes were checked against the file's: a short read is an I/O error, or the file changed meanwhile.
  return read(static_cast<std::uint64_t>(end), src, [&](std::uint64_t offset, char* to, std::size_t n) {
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(to, static_cast<std::streamsize>(n));
    ST_CHECK(src, in.gcount() == static_cast<std::streamsize>(n), "read error: ", n, " bytes at byte ", offset,
             ", got ", in.gcount());
  });
}

std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  static const std::string kInMemory = "(in memory)";
  Layout layout = plan(tensors, metadata, "serialize_safetensors", kInMemory);
  std::string out = std::move(layout.header);
  for (const Tensor& t : layout.tensors) out.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const Layout layout = plan(tensors, metadata, "save_safetensors", path);
  write_atomically(path, "save_safetensors", [&](const std::string& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    PARITY_CHECK(out.good(), "save_safetensors: ", path, ": cannot open ", temp, " for writing");
    out.write(layout.header.data(), static_cast<std::streamsize>(layout.header.size()));
    for (const Tensor& t : layout.tensors) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    }
    out.close();
    PARITY_CHECK(!out.fail(), "save_safetensors: ", path, ": writing ", temp, " failed");
  });
}

}  // namespace parity::io
