#include "parity/tensor/error.h"

namespace parity::detail {

void throw_error(const char* file, int line, const std::string& message) {
  // `file` is named from the source root (parity/tensor/ops.cpp: the build's
  // -ffile-prefix-map), so messages read the same in every build directory.
  throw Error(message + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace parity::detail
