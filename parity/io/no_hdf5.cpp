// Compiled instead of parity/io/keras_hdf5.cpp when Parity is built without HDF5
// (PARITY_HDF5=OFF, or AUTO without libhdf5): the Keras HDF5 file functions
// exist all the same, so code written for both kinds of build compiles and
// links; they throw parity::Error. The mapping onto models (parity/io/keras_weights.cpp)
// needs no HDF5 and works in every build.
#include "parity/io/keras_weights.h"
#include "parity/tensor/error.h"

namespace parity::io {

namespace {
[[noreturn]] void unavailable(const char* what, const std::string& path) {
  PARITY_FAIL(what, ": ", path,
              ": this build of Parity has no HDF5 support (install libhdf5-dev, scripts/setup does, and "
              "configure with -DPARITY_HDF5=ON or AUTO); io::have_hdf5() is false");
}
}  // namespace

bool have_hdf5() { return false; }
KerasWeights load_keras2_weights(const std::string& path) { unavailable("load_keras2_weights", path); }
KerasWeights load_keras3_weights(const std::string& path) { unavailable("load_keras3_weights", path); }
void save_keras2_weights(const std::string& path, const KerasWeights&) { unavailable("save_keras2_weights", path); }

}  // namespace parity::io
