// CUDA random fill: one thread per Philox group, the same function the CPU
// runs per group (Note [Random numbers keyed by element index] in
// parity/tensor/philox.h), so both produce the same bits for the same seed and offset.
// Built with --fmad=false and the explicitly rounded helpers of
// parity/tensor/rounding.h: nothing is contracted into an FMA.
#include "parity/cuda/check.h"
#include "parity/cuda/context.h"
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/error.h"
#include "parity/tensor/philox.h"

namespace parity::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    random_kernel(int kind, std::uint64_t seed, std::uint64_t offset, double a, double b, std::int64_t numel,
                  T* __restrict__ out, bool vector_ok) {
  constexpr int kPer = philox::per_group<T>();
  using V = elementwise_detail::Vec<T, kPer>;
  const std::int64_t groups = (numel + kPer - 1) / kPer;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; g < groups;
       g += step) {
    V values;
    philox::group_values<T>(kind, seed, offset, static_cast<std::uint64_t>(g), a, b, values.v);
    const std::int64_t base = g * kPer;
    if (vector_ok && base + kPer <= numel) {
      reinterpret_cast<V*>(out)[g] = values;
    } else {
      for (int j = 0; j < kPer && base + j < numel; ++j) out[base + j] = values.v[j];
    }
  }
}

}  // namespace

void CudaBackend::random(const RandomArgs& args) {
  if (args.numel == 0) return;
  const int kind = static_cast<int>(args.kind);
  dispatch_dtype(args.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      PARITY_FAIL("random: dtype bool is not supported");
    } else {
      constexpr int kPer = philox::per_group<T>();
      const int device = device_of(args.out);
      DeviceGuard guard(device);
      const std::int64_t groups = (args.numel + kPer - 1) / kPer;
      const bool vector_ok = reinterpret_cast<std::uintptr_t>(args.out) % (kPer * sizeof(T)) == 0;
      random_kernel<T><<<grid_for(device, groups, kThreads), kThreads, 0, stream_for(device)>>>(
          kind, args.seed, args.offset, args.a, args.b, args.numel, static_cast<T*>(args.out), vector_ok);
      PARITY_CUDA_LAUNCH_CHECK();
    }
  });
}

}  // namespace parity::cuda
