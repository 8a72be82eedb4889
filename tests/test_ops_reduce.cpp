// Reductions (sum, mean, max, min, argmax, argmin) against the reference of
// tests/reference.h, over all elements and over several combinations of dims
// (negative ones included), keepdim both ways, on contiguous and
// non-contiguous inputs, empty and zero-size tensors, NaN; and the
// determinism of Note [Summation order]: the same bits twice, and the same bits
// whatever the number of OpenMP threads.
//
// Tolerances: integer sums (int64), max, min, argmax and argmin are exact. A
// float sum of n terms may be ordered differently from the reference (the CPU's
// blocked tree, a GPU's own tree); its error is a sum of roundings, each at
// most eps/2 times a partial sum, and partial sums are bounded by sum|x|. The
// bound used, 2 sqrt(n) eps sum|x| (tests/reference.h, sum_tolerance), is the
// statistical growth of n independent roundings with a wide margin; the
// worst case, n eps sum|x|, would let real bugs through for large n. The
// reference sums in long double, so its own error is negligible. A mean is that
// sum divided by the count: the same bound over the count, plus 1 ulp.
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class Reductions : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, Reductions, ::testing::ValuesIn(test_devices()), device_name);

struct DimsCase {
  Shape shape;
  std::vector<std::vector<std::int64_t>> dims;
};

// Shapes and dims that exercise each layout of the CPU kernel: innermost
// extents shorter and longer than a block (1024), column sums (a reduced dim
// that is not innermost), non-adjacent reduced dims (a permuted copy), a size-1
// reduced dim, and one past the parallel grain.
const std::vector<DimsCase>& dims_cases() {
  static const std::vector<DimsCase> cases = {
      {{}, {{}, {0}, {-1}}},
      {{7}, {{}, {0}, {-1}}},
      {{3, 4, 5}, {{}, {0}, {1}, {2}, {-1}, {0, 2}, {-3, -1}, {1, 2}, {2, 0}, {0, 1, 2}, {-2}}},
      {{2, 3, 1, 5}, {{1, 3}, {0, -1}, {2}, {-2, 1}, {0, 1, 2}}},
      {{3, 2500}, {{}, {1}, {0}}},
      {{2600, 3}, {{0}, {-1}}},
      {{70001}, {{}}},
  };
  return cases;
}

void check_sum_and_mean(const Device& device, TestRng& rng, DType dtype) {
  for (const DimsCase& c : dims_cases()) {
    const Ref x = random_ref(rng, c.shape, dtype, dtype == kUInt8 ? 0 : -10, 10);
    const Tensor t = to_tensor(x, device);
    for (const auto& dims : c.dims) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE("shape " + to_string(c.shape) + " dims " + to_string(dims) + (keepdim ? " keepdim" : ""));
        const DType sum_dtype = is_floating(dtype) ? dtype : kInt64;
        const Ref want = ref_reduce(x, RefReduce::Sum, dims, keepdim, sum_dtype);
        const std::int64_t count = x.numel() / std::max<std::int64_t>(want.numel(), 1);
        Tolerance tol;
        if (is_floating(dtype)) {
          for (double a : ref_abs_sums(x, dims, keepdim)) tol.abs.push_back(sum_tolerance(count, a, dtype));
        }
        EXPECT_TRUE(matches(sum(t, dims, keepdim), want, tol));
        if (is_floating(dtype)) {
          Tolerance mean_tol = tol;
          mean_tol.ulps = 1;
          for (double& a : mean_tol.abs) a /= static_cast<double>(count);
          EXPECT_TRUE(matches(mean(t, dims, keepdim), ref_reduce(x, RefReduce::Mean, dims, keepdim, dtype), mean_tol));
        }
      }
    }
  }
}

TEST_P(Reductions, SumAndMean) {
  TestRng rng;
  for (DType dtype : all_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    check_sum_and_mean(GetParam(), rng, dtype);
  }
}

TEST_P(Reductions, MaxMinArgmaxArgmin) {
  TestRng rng;
  const Device device = GetParam();
  for (DType dtype : numeric_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    for (const DimsCase& c : dims_cases()) {
      // Few distinct values: many ties, so arg* must pick the first.
      const Ref x = random_ref(rng, c.shape, dtype, dtype == kUInt8 ? 0 : -6, 6);
      const Tensor t = to_tensor(x, device);
      for (const auto& dims : c.dims) {
        for (bool keepdim : {false, true}) {
          SCOPED_TRACE("shape " + to_string(c.shape) + " dims " + to_string(dims) + (keepdim ? " keepdim" : ""));
          EXPECT_TRUE(matches(max(t, dims, keepdim), ref_reduce(x, RefReduce::Max, dims, keepdim, dtype)));
          EXPECT_TRUE(matches(min(t, dims, keepdim), ref_reduce(x, RefReduce::Min, dims, keepdim, dtype)));
          if (dims.size() == 1) {
            EXPECT_TRUE(matches(argmax(t, dims[0], keepdim), ref_reduce(x, RefReduce::ArgMax, dims, keepdim, kInt64)));
            EXPECT_TRUE(matches(argmin(t, dims[0], keepdim), ref_reduce(x, RefReduce::ArgMin, dims, keepdim, kInt64)));
          }
        }
      }
      // Over all elements: the index in the flattened tensor.
      const Ref flat = make_ref({x.numel()}, dtype, x.v);
      EXPECT_TRUE(matches(argmax(t), ref_reduce(flat, RefReduce::ArgMax, {}, false, kInt64)));
      EXPECT_TRUE(matches(argmin(t), ref_reduce(flat, RefReduce::ArgMin, {}, false, kInt64)));
    }
  }
}

TEST_P(Reductions, NonContiguousInputs) {
  TestRng rng;
  const Device device = GetParam();
  for (DType dtype : {kFloat32, kFloat64, kInt32}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Ref base = random_ref(rng, {6, 8, 10}, dtype, -10, 10);
    const Tensor b = to_tensor(base, device);
    struct View {
      Tensor t;
      Ref r;
    };
    const std::vector<View> views = {
        {b.permute({2, 0, 1}), ref_permute(base, {2, 0, 1})},
        {b.slice(2, 1, 10, 3), ref_strided(base, {6, 8, 3}, {80, 10, 3}, 1)},
        {b.select(1, 5), ref_strided(base, {6, 10}, {80, 1}, 50)},
        {b.select(2, 0).unsqueeze(2).expand({6, 8, 4}), ref_strided(base, {6, 8, 4}, {80, 10, 0}, 0)},
        {b.transpose(0, 2).slice(0, 0, 10, 4), ref_strided(base, {3, 8, 6}, {4, 10, 80}, 0)},
    };
    for (const View& v : views) {
      for (const std::vector<std::int64_t>& dims : {std::vector<std::int64_t>{}, {0}, {-1}, {0, 2}}) {
        if (!dims.empty() && dims.back() >= v.t.dim()) continue;
        SCOPED_TRACE("view " + to_string(v.t.shape()) + " dims " + to_string(dims));
        const DType sum_dtype = is_floating(dtype) ? dtype : kInt64;
        const Ref want = ref_reduce(v.r, RefReduce::Sum, dims, false, sum_dtype);
        Tolerance tol;
        if (is_floating(dtype)) {
          const std::int64_t count = v.r.numel() / std::max<std::int64_t>(want.numel(), 1);
          for (double a : ref_abs_sums(v.r, dims, false)) tol.abs.push_back(sum_tolerance(count, a, dtype));
        }
        EXPECT_TRUE(matches(sum(v.t, dims), want, tol));
        EXPECT_TRUE(matches(max(v.t, dims, true), ref_reduce(v.r, RefReduce::Max, dims, true, dtype)));
        EXPECT_TRUE(matches(min(v.t, dims), ref_reduce(v.r, RefReduce::Min, dims, false, dtype)));
        if (dims.size() == 1) {
          EXPECT_TRUE(matches(argmax(v.t, dims[0]), ref_reduce(v.r, RefReduce::ArgMax, dims, false, kInt64)));
          EXPECT_TRUE(matches(argmin(v.t, dims[0], true), ref_reduce(v.r, RefReduce::ArgMin, dims, true, kInt64)));
        }
      }
      const Ref flat = make_ref({v.r.numel()}, dtype, v.r.v);
      EXPECT_TRUE(matches(argmax(v.t), ref_reduce(flat, RefReduce::ArgMax, {}, false, kInt64)));
    }
  }
}

TEST_P(Reductions, EmptyAndZeroSize) {
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const TensorOptions opts{.dtype = dtype, .device = device};
    const Tensor e = empty({0}, opts);
    EXPECT_TRUE(matches(sum(e), make_ref({}, dtype, {0})));          // the empty sum is 0
    EXPECT_TRUE(matches(mean(e), make_ref({}, dtype, {NAN})));       // 0 / 0
    EXPECT_TRUE(matches(sum(e, {}, true), make_ref({1}, dtype, {0})));
    EXPECT_PARITY_ERROR(max(e), {"max:", "empty", "[0]"});
    EXPECT_PARITY_ERROR(min(e), {"min:", "empty", "[0]"});
    EXPECT_PARITY_ERROR(argmax(e), {"argmax:", "empty"});
    EXPECT_PARITY_ERROR(argmin(e), {"argmin:", "empty"});

    const Tensor z = empty({0, 3}, opts);
    EXPECT_TRUE(matches(sum(z, {0}), make_ref({3}, dtype, {0, 0, 0})));
    EXPECT_TRUE(matches(sum(z, {0}, true), make_ref({1, 3}, dtype, {0, 0, 0})));
    EXPECT_TRUE(matches(mean(z, {0}), make_ref({3}, dtype, {NAN, NAN, NAN})));
    EXPECT_TRUE(matches(sum(z, {1}), make_ref({0}, dtype, {})));
    EXPECT_TRUE(matches(sum(z, {1}, true), make_ref({0, 1}, dtype, {})));
    EXPECT_TRUE(matches(max(z, {1}), make_ref({0}, dtype, {})));  // nothing to reduce: fine
    EXPECT_TRUE(matches(argmin(z, 1, true), make_ref({0, 1}, kInt64, {})));
    EXPECT_PARITY_ERROR(max(z, {0}), {"max:", "empty", "[0, 3]"});
    EXPECT_PARITY_ERROR(argmax(z, 0), {"argmax:", "empty", "[0, 3]"});
    EXPECT_TRUE(matches(sum(z), make_ref({}, dtype, {0})));
    EXPECT_TRUE(matches(sum(empty({2, 0, 4}, opts), {0, 2}), make_ref({0}, dtype, {})));
    EXPECT_TRUE(matches(sum(empty({2, 0, 4}, opts), {1}), make_ref({2, 4}, dtype, std::vector<double>(8, 0))));
  }
  // Integer and bool sums of nothing are int64 zeros.
  EXPECT_TRUE(matches(sum(empty({0}, {.dtype = kInt32, .device = device})), make_ref({}, kInt64, {0})));
  EXPECT_TRUE(matches(sum(empty({0, 2}, {.dtype = kBool, .device = device}), {0}), make_ref({2}, kInt64, {0, 0})));
}

TEST_P(Reductions, NaNPropagates) {
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Ref x = make_ref({2, 4}, dtype, {1, NAN, 3, NAN, -INFINITY, 2, INFINITY, 0});
    const Tensor t = to_tensor(x, device);
    EXPECT_TRUE(matches(max(t, {1}), make_ref({2}, dtype, {NAN, INFINITY})));
    EXPECT_TRUE(matches(min(t, {1}), make_ref({2}, dtype, {NAN, -INFINITY})));
    EXPECT_TRUE(matches(max(t, {0}), make_ref({4}, dtype, {1, NAN, INFINITY, NAN})));
    EXPECT_TRUE(matches(argmax(t, 1), make_ref({2}, kInt64, {1, 2})));  // the first NaN
    EXPECT_TRUE(matches(argmin(t, 1), make_ref({2}, kInt64, {1, 0})));
    EXPECT_TRUE(matches(argmax(t), make_ref({}, kInt64, {1})));
    EXPECT_TRUE(matches(sum(t, {1}), make_ref({2}, dtype, {NAN, NAN})));
    EXPECT_TRUE(matches(sum(t.select(0, 1)), make_ref({}, dtype, {NAN})));  // inf + -inf
    EXPECT_TRUE(matches(max(t), make_ref({}, dtype, {NAN})));
  }
}

TEST_P(Reductions, BoolAndIntegerResults) {
  const Device device = GetParam();
  const Tensor b = from_vector(std::vector<bool>{true, false, true, true, false, true}, {2, 3}, device);
  EXPECT_TRUE(matches(sum(b), make_ref({}, kInt64, {4})));
  EXPECT_TRUE(matches(sum(b, {0}), make_ref({3}, kInt64, {2, 0, 2})));
  EXPECT_TRUE(matches(sum(b, {1}), make_ref({2}, kInt64, {2, 2})));
  // int64 sums stay exact past 2^53.
  const Tensor big = from_vector(std::vector<std::int64_t>{(std::int64_t{1} << 60) + 1, 3}, {2}, device);
  EXPECT_EQ(sum(big).item<std::int64_t>(), (std::int64_t{1} << 60) + 4);
  // uint8 sums do not wrap: they accumulate in int64.
  EXPECT_EQ(sum(full({1000}, 255, {.dtype = kUInt8, .device = device})).item<std::int64_t>(), 255000);
  EXPECT_EQ(sum(full({3, 1000}, 200, {.dtype = kUInt8, .device = device}), {0}).to_vector<std::int64_t>()[999], 600);
  EXPECT_EQ(max(from_vector(std::vector<std::uint8_t>{3, 250, 7}, {3}, device)).item<int>(), 250);
  EXPECT_EQ(max(from_vector(std::vector<std::uint8_t>{3, 250, 7}, {3}, device)).dtype(), kUInt8);
}

// Note [Summation order]: same inputs, same bits, whatever the thread count.
TEST(ReductionDeterminism, SameBitsAcrossRunsAndThreadCounts) {
  TestRng rng;
  const int saved_threads = omp_get_max_threads();
  struct Case {
    Shape shape;
    std::vector<std::int64_t> dims;
  };
  const std::vector<Case> cases = {
      {{(1 << 20) + 3}, {}},  // one long row: blocks summed in parallel
      {{300, 5000}, {1}},     // many rows in parallel
      {{5000, 300}, {0}},     // column sums
      {{40, 50, 60}, {0, 2}}, // a permuted copy first
  };
  for (const Case& c : cases) {
    for (DType dtype : float_dtypes()) {
      SCOPED_TRACE(to_string(c.shape) + " " + std::string(name(dtype)));
      const Tensor x = to_tensor(random_ref(rng, c.shape, dtype, -1, 1), Device::cpu());
      std::vector<Tensor> results;
      for (int threads : {1, 2, 3, 1}) {
        omp_set_num_threads(threads);
        results.push_back(sum(x, c.dims));
        results.push_back(mean(x, c.dims));
        results.push_back(max(x, c.dims));
        results.push_back(sum(x, c.dims));  // twice in a row
      }
      omp_set_num_threads(saved_threads);
      for (std::size_t i = 4; i < results.size(); ++i) EXPECT_TRUE(same_bits(results[i], results[i % 4])) << i;
      EXPECT_TRUE(same_bits(results[0], results[3]));
    }
  }
}

}  // namespace
}  // namespace parity::testing
