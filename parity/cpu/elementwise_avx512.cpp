// AVX-512 build of the float elementwise ops (Note [One loop per instruction set]).
#define PARITY_ISA avx512
#include "parity/cpu/elementwise_isa.inc"
