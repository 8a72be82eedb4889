// The BLAS behind the CPU's matmul and im2col convolutions (OpenBLAS), and
// which of its kernel families runs on this machine.
//
// OpenBLAS picks its kernels by CPU model at load time (OPENBLAS_CORETYPE
// overrides). Kernels differ in blocking, so float32 sums round differently:
// the replays of real Keras 2.0.4 on Theano are bit for bit with the Haswell
// (Zen) and SkylakeX sgemm kernels and not with Cooperlake's, nor with the
// generic Prescott ones that Debian's OpenBLAS 0.3.21 falls back to on a CPU it
// does not know (measured on an Intel Xeon family 6 model 207: docs/NUMERICS.md).
#pragma once

#include <string>

namespace parity::cpu {

// OpenBLAS's name for the kernels it runs ("Haswell", "SkylakeX", "Zen", "Prescott", ...).
std::string blas_core();

namespace detail {
// Called before each GEMM: the first call warns once, on stderr, when OpenBLAS
// runs its generic Prescott kernels on a CPU with AVX2 (a model it does not
// know): several times slower, and another rounding, with nothing else saying so.
void warn_once_if_generic_blas_kernels();
}  // namespace detail

}  // namespace parity::cpu
