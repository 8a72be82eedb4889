#include "tensor/error.h"

#include <cstring>

namespace parity::detail {

void throw_error(const char* file, int line, const std::string& message) {
  // The file is reported relative to the source tree so messages read the same
  // in every build directory.
  const char* rel = std::strstr(file, "/tensor/");
  for (const char* folder : {"/cpu/", "/cuda/", "/autograd/", "/nn/", "/optim/", "/train/", "/io/"}) {
    if (rel == nullptr) rel = std::strstr(file, folder);
  }
  throw Error(message + " (" + (rel ? rel + 1 : file) + ":" + std::to_string(line) + ")");
}

}  // namespace parity::detail
