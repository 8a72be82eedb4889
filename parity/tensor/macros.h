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
#define PARITY_FORCE_INLINE __host__ __device__ __forceinline__
#else
#define PARITY_HOST_DEVICE
#define PARITY_INLINE inline
// Always inlined on the host too, for the functions too large for g++ to
// inline by itself into every loop: the per-instruction-set loops must not
// leave a copy of a shared function behind (Note [One loop per instruction
// set], parity/cpu/elementwise_isa.h). Only direct calls: an always_inline
// function called through a pointer g++ cannot resolve is a build error.
#if defined(__GNUC__) || defined(__clang__)
#define PARITY_FORCE_INLINE inline __attribute__((always_inline))
#else
#define PARITY_FORCE_INLINE inline
#endif
#endif

#if defined(__CUDA_ARCH__)
#define PARITY_DEVICE_CODE 1
#else
#define PARITY_DEVICE_CODE 0
#endif
