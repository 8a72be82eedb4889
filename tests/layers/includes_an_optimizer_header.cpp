// Compiled by the ctests layer_roots_* (tests/CMakeLists.txt): the backends see
// optim/'s header-only math (launch.h and what it includes), not the
// optimizers themselves.
#include "parity/optim/launch.h"
#ifdef PARITY_LAYER_TEST_OPTIMIZER
#include "parity/optim/optimizer.h"
#endif

int main() { return 0; }
