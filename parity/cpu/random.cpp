// CPU random fill: one Philox block per group of elements, the same function the
// CUDA backend runs per thread (Note [Random numbers keyed by element index]).
#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/parallel.h"
#include "parity/tensor/philox.h"

namespace parity::cpu {

void CpuBackend::random(const RandomArgs& args) {
  const int kind = static_cast<int>(args.kind);
  dispatch_dtype(args.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      PARITY_INTERNAL_FAIL("random: dtype bool is not supported");
    } else {
      constexpr int kPer = philox::per_group<T>();
      T* out = static_cast<T*>(args.out);
      const std::int64_t groups = (args.numel + kPer - 1) / kPer;
      parallel_for(groups, 4096, [&](std::int64_t g0, std::int64_t g1) {
        for (std::int64_t g = g0; g < g1; ++g) {
          T values[kPer];
          philox::group_values<T>(kind, args.seed, args.offset, static_cast<std::uint64_t>(g), args.a,
                                  args.b, values);
          const std::int64_t base = g * kPer;
          for (int j = 0; j < kPer && base + j < args.numel; ++j) out[base + j] = values[j];
        }
      });
    }
  });
}

}  // namespace parity::cpu
