// The CPU's floating-point elementwise ops compiled for wider vectors.
//
// Note [One loop per instruction set]: the library is built for the baseline
// x86-64 (SSE2), so that one binary runs on every machine. The float32 and
// float64 elementwise ops, whose loops are bound by the vector width (the
// elementary functions of Note [Same bits on every device] most of all), are
// compiled once more for AVX2+FMA and once for AVX-512 (elementwise_avx2.cpp,
// elementwise_avx512.cpp, both the text of elementwise_isa.inc) and chosen at
// run time by what the CPU reports (parity/tensor/cpu_features.h). The bits are
// the same on every path: each functor is a sequence of correctly rounded IEEE
// operations per element, and a vector lane computes exactly what a scalar
// does (-ffp-contract=off; an fma is written as one).
//
// Those files must not emit an inline function that the baseline code could
// link to (the linker keeps one copy of each, and an AVX-512 copy would fault
// on an older CPU): their loops are instantiated with a tag type local to the
// file, and ctest `isa_objects_define_no_shared_code` checks with nm that
// they define no weak symbol at all.
#pragma once

#include <cstdint>

#include "parity/tensor/elementwise_iter.h"
#include "parity/tensor/op_kinds.h"
#include "parity/tensor/scalar.h"

namespace parity::cpu {

// Each returns false, running nothing, for an op or dtype it does not cover
// (only float32 and float64 are compiled per instruction set); the caller's
// CPU must have the instruction set (the dispatcher in cpu_backend.cpp checks).
#define PARITY_ELEMENTWISE_ISA_FUNCTIONS                                                   \
  bool unary(UnaryOp op, const ElementwiseIter& it);                                       \
  bool binary(BinaryOp op, const ElementwiseIter& it);                                     \
  bool binary_scalar(BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first);

namespace avx2 {
PARITY_ELEMENTWISE_ISA_FUNCTIONS
}  // namespace avx2

namespace avx512 {
PARITY_ELEMENTWISE_ISA_FUNCTIONS
}  // namespace avx512

#undef PARITY_ELEMENTWISE_ISA_FUNCTIONS

enum class Isa : std::uint8_t { Baseline, Avx2, Avx512 };
const char* name(Isa isa);

// The widest instruction set both this build and the running CPU have (or
// the one a ForceIsa in scope names): what CpuBackend's elementwise ops run on.
Isa isa_in_use();
// The widest this build and the running CPU have, whatever is forced.
Isa widest_isa_available();

// A test hook: while it lives, the CPU's elementwise ops run on `isa`'s loops
// (where those cover the op; the baseline's elsewhere), so a test can compare
// the paths' bits. Refuses (parity::Error) an instruction set the CPU or the
// build lacks. Not thread-safe: for tests on one thread.
class ForceIsa {
 public:
  explicit ForceIsa(Isa isa);
  ~ForceIsa();
  ForceIsa(const ForceIsa&) = delete;
  ForceIsa& operator=(const ForceIsa&) = delete;

 private:
  int previous_;
};

}  // namespace parity::cpu
