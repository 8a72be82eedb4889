// What every file reader shares for its errors (Note [Hostile files] in parity/io/npy.h):
// the op and the file named in each message, and hostile bytes shown safely.
#pragma once

#include <string>
#include <string_view>

#include "parity/tensor/error.h"

namespace parity::io {

// Who reads which file: "load_npy: data/x.npy: truncated header ...".
struct FileSource {
  const char* op;
  const std::string& name;
};

#define PARITY_FILE_CHECK(src, cond, ...) PARITY_CHECK(cond, (src).op, ": ", (src).name, ": ", __VA_ARGS__)
#define PARITY_FILE_FAIL(src, ...) PARITY_FAIL((src).op, ": ", (src).name, ": ", __VA_ARGS__)

// At most `limit` characters of text from a file, the unprintable ones as \xNN,
// "..." when cut.
inline std::string printable_excerpt(std::string_view text, std::size_t limit) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    if (c >= ' ' && c <= '~') {
      out += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      out += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  return text.size() > limit ? out + "..." : out;
}

}  // namespace parity::io
