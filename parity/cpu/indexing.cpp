// CPU gather and scatter_add: the element math of parity/tensor/indexing_math.h
// in loops over rows. scatter_add keeps each element's contributions in
// increasing j, as the CUDA kernel does, whatever the thread count: tasks split
// the (o, i) columns, never j.
#include <algorithm>

#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/parallel.h"
#include "parity/tensor/dtype.h"
#include "parity/tensor/error.h"
#include "parity/tensor/indexing_math.h"

namespace parity::cpu {

namespace {
using i64 = std::int64_t;
constexpr i64 kColumnBlock = 256;  // columns (i) per scatter_add task: rows of it stay in cache
}  // namespace

void CpuBackend::gather(const IndexArgs& a) {
  const i64 rows = a.outer * a.n;
  if (rows == 0 || a.inner == 0) return;
  dispatch_dtype(a.dtype, [&]<typename T>() {
    parallel_for(rows, std::max<i64>(1, kGrainSize / a.inner), [&](i64 begin, i64 end) {
      for (i64 r = begin; r < end; ++r) {
        const i64 o = r / a.n, j = r % a.n;
        for (i64 i = 0; i < a.inner; ++i) indexing::gather_element<T>(a, o, j, i);
      }
    });
  });
}

void CpuBackend::scatter_add(const IndexArgs& a) {
  if (a.outer * a.n * a.inner == 0) return;
  dispatch_dtype(a.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      PARITY_INTERNAL_FAIL("scatter_add: bool reached the backend (the front end refuses it)");
    } else {
      const i64 blocks = (a.inner + kColumnBlock - 1) / kColumnBlock;
      parallel_for(a.outer * blocks, 1, [&](i64 begin, i64 end) {
        for (i64 task = begin; task < end; ++task) {
          const i64 o = task / blocks, i0 = task % blocks * kColumnBlock;
          const i64 i1 = std::min(a.inner, i0 + kColumnBlock);
          for (i64 j = 0; j < a.n; ++j) {
            for (i64 i = i0; i < i1; ++i) indexing::scatter_add_element<T>(a, o, j, i);
          }
        }
      });
    }
  });
}

}  // namespace parity::cpu
