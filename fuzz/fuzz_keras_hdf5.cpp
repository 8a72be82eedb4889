// libFuzzer target for the Keras HDF5 weight readers (parity/io/keras_weights.h):
// whatever the bytes, io::load_keras2_weights and io::load_keras3_weights return
// weights or throw parity::Error. libhdf5 reads files, not memory, so each input
// is written to one temporary file per process first. libhdf5's own parser is not
// instrumented (a Debian build); what is checked is Parity's use of what it
// returns: attributes, names, shapes and sizes before any allocation.
//
// scripts/fuzz runs it with FUZZ_TARGETS=keras_hdf5 (PARITY_BUILD_FUZZERS=ON,
// clang); the fuzz_keras_hdf5_replay ctest runs it over fuzz/corpus/keras_hdf5
// (files the real Keras 2.0.4 and Keras 3.15.1 saved) and fuzz/regressions/keras_hdf5.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "parity/io/keras_weights.h"
#include "parity/tensor/error.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = "/tmp/parity_fuzz_keras_" + std::to_string(::getpid()) + ".h5";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  const bool written = std::fwrite(data, 1, size, f) == size;
  std::fclose(f);
  if (!written) return 0;
  for (auto load : {parity::io::load_keras2_weights, parity::io::load_keras3_weights}) {
    try {
      load(path);
    } catch (const parity::Error&) {
      // A rejected file: what a hostile input should get.
    }
  }
  std::remove(path.c_str());
  return 0;
}
