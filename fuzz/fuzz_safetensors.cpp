// libFuzzer target for the safetensors reader: whatever the bytes,
// io::parse_safetensors returns tensors or throws parity::Error. Anything else
// (another exception, a crash, an ASan or UBSan report, a huge allocation) is
// a bug to fix.
//
// scripts/fuzz builds and runs it (PARITY_BUILD_FUZZERS=ON, clang); the
// fuzz_safetensors_replay ctest runs it over fuzz/corpus/safetensors and
// fuzz/regressions/safetensors.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parity/io/safetensors.h"
#include "parity/tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    parity::io::parse_safetensors(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  } catch (const parity::Error&) {
    // A rejected file: what a hostile input should get.
  }
  return 0;
}
