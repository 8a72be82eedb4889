// Portability macros shared by host and device code.
//
// Every header whose functions run on both the CPU and the GPU marks them
// PARITY_HOST_DEVICE, so the same source compiles with g++ (host only) and with
// nvcc (host and device). This is what lets the math of an op live once
// (docs/ARCHITECTURE.md, principle 1).
#pragma once

#if defined(__CUDACC__)
#define PARITY_HOST_DEVICE __host__ __device__
#define PARITY_INLINE __host__ __device__ __forceinline__
#elif defined(__GNUC__) || defined(__clang__)
#define PARITY_HOST_DEVICE
// Always inlined on the host as on the device: the per-instruction-set loops
// must not leave a copy of a shared function behind (Note [One loop per
// instruction set], parity/cpu/elementwise_isa.h).
#define PARITY_INLINE inline __attribute__((always_inline))
#else
#define PARITY_HOST_DEVICE
#define PARITY_INLINE inline
#endif

#if defined(__CUDA_ARCH__)
#define PARITY_DEVICE_CODE 1
#else
#define PARITY_DEVICE_CODE 0
#endif
