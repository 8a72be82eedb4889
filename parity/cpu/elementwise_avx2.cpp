// AVX2+FMA build of the float elementwise ops (Note [One loop per instruction set]).
#define PARITY_ISA avx2
#include "parity/cpu/elementwise_isa.inc"
