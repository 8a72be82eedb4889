#include "parity/tensor/error.h"

namespace parity::detail {
namespace {

// `file` is named from the source root (parity/tensor/ops.cpp: the build's
// -ffile-prefix-map), so messages read the same in every build directory.
std::string located(const std::string& message, const char* file, int line) {
  return message + " (" + file + ":" + std::to_string(line) + ")";
}

}  // namespace

void throw_error(const char* file, int line, const std::string& message) {
  throw Error(located(message, file, line));
}

void throw_internal_error(const char* file, int line, const std::string& message) {
  throw InternalError(located(kInternalErrorPrefix + message, file, line));
}

}  // namespace parity::detail
