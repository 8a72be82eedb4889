// What the running CPU can execute, asked once. Read by the kernels that have a
// path for an instruction set (the CPU's fused optimizer updates) and by the
// presets that emulate one (Adadelta's rsqrt estimate, XLA's CPU forms).
#pragma once

namespace parity {

// x86-64 with AVX2 and FMA (false on any other CPU).
bool cpu_has_avx2_fma();
// x86-64 with AVX-512F.
bool cpu_has_avx512f();
// x86-64 with AVX-512 F, DQ, VL and BW and FMA (Skylake-X, Zen 4 and later):
// what parity/cpu/elementwise_avx512.cpp is compiled for.
bool cpu_has_avx512_fdvb();

}  // namespace parity
