// CUDA max, min, argmax and argmin with parity/cpu/reduce.cpp's semantics: the first
// index of the extreme, a NaN counts as the extreme (the first NaN wins), -0 and
// +0 tie (Note [CUDA summation order] in parity/cuda/reduce.cuh for the kernels).
#include <type_traits>

#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/reduce.cuh"
#include "parity/tensor/error.h"
#include "parity/tensor/functors.h"

namespace parity::cuda {

namespace {

template <typename T>
struct Candidate {
  T value;
  std::int64_t index;  // -1: empty (the identity)
};

template <typename T>
struct ExtremeLoad {
  __device__ __forceinline__ Candidate<T> operator()(T x, std::int64_t r) const { return {x, r}; }
};

// A total order on (value, -index) with NaN above (max) or below (min)
// everything: commutative and associative, so any tree finds the first extreme.
template <typename T, bool kMax>
struct ExtremeCombine {
  __host__ __device__ __forceinline__ Candidate<T> operator()(const Candidate<T>& a,
                                                              const Candidate<T>& b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = functors::math::isnan(a.value), b_nan = functors::math::isnan(b.value);
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.index < b.index ? a : b;
      return a_nan ? a : b;
    }
    if (kMax ? a.value < b.value : b.value < a.value) return b;
    if (kMax ? b.value < a.value : a.value < b.value) return a;
    return a.index < b.index ? a : b;
  }
};

template <typename T>
struct ExtremeStore {
  void* out;
  bool want_index;
  __device__ __forceinline__ void operator()(std::int64_t i, const Candidate<T>& c) const {
    if (want_index)
      static_cast<std::int64_t*>(out)[i] = c.index;
    else
      static_cast<T*>(out)[i] = c.value;
  }
};

}  // namespace

void reduce_extreme(ReduceOp op, const ReduceArgs& args) {
  dispatch_dtype(args.in_dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      PARITY_FAIL("reduce: ", name(op), " does not accept bool");
    } else {
      const bool want_max = op == ReduceOp::Max || op == ReduceOp::ArgMax;
      const bool want_index = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
      PARITY_CHECK(args.reduce > 0 || args.outer * args.inner == 0, name(op),
                   ": cannot reduce over an empty extent");
      const Candidate<T> identity{T(0), -1};
      const ExtremeStore<T> store{args.out, want_index};
      if (want_max) {
        reduce_detail::run<T>(args, ExtremeLoad<T>{}, ExtremeCombine<T, true>{}, identity, store);
      } else {
        reduce_detail::run<T>(args, ExtremeLoad<T>{}, ExtremeCombine<T, false>{}, identity, store);
      }
    }
  });
}

}  // namespace parity::cuda
