// Compiled by the ctests layer_roots_* (tests/CMakeLists.txt) against one
// layer's include root (cmake/ParityLayers.cmake): found from nn's and above,
// "No such file" from the layers nn sits on.
#include "parity/nn/module.h"

int main() { return 0; }
