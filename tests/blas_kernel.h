// Tests whose expectation holds with particular OpenBLAS kernels only
// (parity/cpu/blas.h): the bit-for-bit replays of real Keras 2.0.4 runs, and
// claims measured on those kernels' rounding. Elsewhere they skip, naming the
// kernel; scripts/test pins a verified one (scripts/openblas-env).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "parity/cpu/blas.h"

namespace parity::testing {

// Kernels the replays were verified on: Haswell (AVX2; Zen runs the same
// kernels) and SkylakeX (AVX-512). Not Cooperlake, not the generic Prescott.
inline bool blas_kernel_verified() {
  const std::string core = cpu::blas_core();
  return core == "Haswell" || core == "Zen" || core == "SkylakeX";
}

}  // namespace parity::testing

#define PARITY_REQUIRE_VERIFIED_BLAS_KERNEL()                                                             \
  do {                                                                                                  \
    if (!::parity::testing::blas_kernel_verified()) {                                                   \
      GTEST_SKIP() << "OpenBLAS runs its " << ::parity::cpu::blas_core()                                \
                   << " kernels here; this expectation holds with its Haswell, Zen or SkylakeX sgemm "  \
                      "kernels (their rounding): run with OPENBLAS_CORETYPE=SkylakeX or Haswell, as "    \
                      "scripts/test does (scripts/openblas-env)";                                        \
    }                                                                                                   \
  } while (0)
