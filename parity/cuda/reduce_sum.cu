// CUDA sum and mean, in the fixed order of Note [CUDA summation order]
// (parity/cuda/reduce.cuh). Floating inputs accumulate in their own type (as on the
// CPU), integer and bool inputs in int64.
#include <type_traits>

#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/reduce.cuh"
#include "parity/tensor/error.h"

namespace parity::cuda {

namespace {

template <typename Acc>
struct SumLoad {
  template <typename T>
  __device__ __forceinline__ Acc operator()(T x, std::int64_t) const {
    return static_cast<Acc>(x);
  }
};

template <typename Acc>
struct SumCombine {
  __host__ __device__ __forceinline__ Acc operator()(const Acc& a, const Acc& b) const { return a + b; }
};

template <typename Acc>
struct SumStore {
  Acc* out;
  Acc divisor;
  bool mean;
  __device__ __forceinline__ void operator()(std::int64_t index, const Acc& value) const {
    if constexpr (std::is_floating_point_v<Acc>) {
      out[index] = mean ? value / divisor : value;
    } else {
      out[index] = value;
    }
  }
};

}  // namespace

void reduce_sum(ReduceOp op, const ReduceArgs& args) {
  dispatch_dtype(args.in_dtype, [&]<typename T>() {
    using Acc = std::conditional_t<std::is_floating_point_v<T>, T, std::int64_t>;
    const bool mean = op == ReduceOp::Mean;
    PARITY_CHECK(!mean || std::is_floating_point_v<T>, "mean: expected a floating dtype, got ",
                 args.in_dtype);
    reduce_detail::run<T, Acc>(
        args, SumLoad<Acc>{}, SumCombine<Acc>{}, Acc(0),
        SumStore<Acc>{static_cast<Acc*>(args.out), static_cast<Acc>(args.reduce), mean});
  });
}

void CudaBackend::reduce(ReduceOp op, const ReduceArgs& args) {
  if (op == ReduceOp::Sum || op == ReduceOp::Mean)
    reduce_sum(op, args);
  else
    reduce_extreme(op, args);
}

}  // namespace parity::cuda
