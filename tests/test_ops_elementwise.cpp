// Elementwise ops against the float64 reference of tests/reference.h: unary,
// binary (tensor-tensor with broadcasting, tensor-scalar, scalar-tensor),
// comparisons, where, clamp and cast, on every device, on contiguous,
// non-contiguous, 0-d and zero-size inputs, for every dtype each op accepts.
//
// Tolerances (in ulps of the result's dtype, against the reference rounded to
// that dtype):
// - 0 for neg, abs, sign, square, reciprocal, relu, add, sub, mul, div, sqrt,
//   maximum, minimum, comparisons, where, clamp and cast, in float32 and float64
//   alike. Each is one IEEE operation (or none), and rounding an exact result
//   first to float64 then to float32 equals rounding it to float32 directly
//   (float64 has more than 2*24+2 bits), so the float64 reference gives the very
//   bits a correct float32 kernel must give.
// - rsqrt is defined as 1/sqrt(x), two roundings: exact in float64 (the
//   reference does the same two float64 operations), 1 ulp in float32 (the
//   reference rounds once, from float64).
// - exp, expm1, log, log1p, tanh, sigmoid, softplus (parity/tensor/
//   portable_math.h, the same bits on every device): float32 within 1 ulp (the
//   result is the correctly rounded one, tests/test_portable_math.cpp; the
//   float64 libm reference is itself within 1 ulp of float64, so its rounding to
//   float32 may land on the other side of a midpoint), float64 within the
//   function's stated bound (docs/NUMERICS.md) plus the reference's 1 ulp.
// - pow: 8 ulp in float32, 4 in float64: powf's error grows with |y log x|, and
//   the device's powf is the least accurate of these functions.
// Integer ops are exact, with the wrap-around of C++ unsigned arithmetic for
// uint8 (inputs of signed types are kept where nothing overflows).
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using Draw = std::function<std::vector<double>(TestRng&, std::int64_t, DType)>;

// Values spread over the op's domain, with some exact zeros (sign, abs, relu and
// comparisons have their edge there).
Draw signed_values(double lo, double hi) {
  return [lo, hi](TestRng& rng, std::int64_t n, DType dtype) {
    std::vector<double> v;
    if (dtype == kUInt8) v = rng.values(n, dtype, 0, 255);
    else if (dtype == kInt32 || dtype == kInt64) v = rng.values(n, dtype, -100, 100);
    else v = rng.values(n, dtype, lo, hi);
    for (double& x : v) {
      if (rng.integer(0, 9) == 0) x = 0;
    }
    return v;
  };
}

Draw positive_values(double lo, double hi) {
  return [lo, hi](TestRng& rng, std::int64_t n, DType dtype) { return rng.log_uniform(n, dtype, lo, hi); };
}

// +-[lo, hi), log-uniform magnitudes: divisors, reciprocals.
Draw nonzero_values(double lo, double hi) {
  return [lo, hi](TestRng& rng, std::int64_t n, DType dtype) {
    std::vector<double> v = rng.log_uniform(n, dtype, lo, hi);
    for (double& x : v) {
      if (rng.coin()) x = -x;
    }
    return v;
  };
}

// Few distinct values, so comparisons and maximum/minimum meet many ties.
Draw tie_values() {
  return [](TestRng& rng, std::int64_t n, DType dtype) {
    std::vector<double> v = rng.values(n, kInt64, -4, 4);
    for (double& x : v) {
      if (dtype == kUInt8) x += 4;
      else if (dtype == kBool) x = x > 0;
      else if (is_floating(dtype)) x *= 0.5;
    }
    return v;
  };
}

double tolerance_for(DType dtype, double f32, double f64) {
  return dtype == kFloat32 ? f32 : dtype == kFloat64 ? f64 : 0;
}

std::string dtype_label(DType d) { return std::string(name(d)); }

// ============================== unary ==============================

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  double (*ref)(double);
  std::vector<DType> dtypes;
  Draw draw;
  double ulps_f32 = 0, ulps_f64 = 0;
};

double ref_sign(double x) { return std::isnan(x) ? x : (x > 0) - (x < 0); }
double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<UnaryCase> unary_cases() {
  const auto& numeric = numeric_dtypes();
  const auto& floats = float_dtypes();
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, numeric, signed_values(-10, 10)},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::abs(x); }, numeric,
       signed_values(-10, 10)},
      {"sign", [](const Tensor& x) { return sign(x); }, ref_sign, numeric, signed_values(-10, 10)},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, floats,
       signed_values(-15, 15), 1, 3},
      {"expm1", [](const Tensor& x) { return expm1(x); }, [](double x) { return std::expm1(x); }, floats,
       signed_values(-15, 15), 1, 4},
      {"log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, floats,
       positive_values(1e-4, 1e4), 1, 4},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](double x) { return std::log1p(x); }, floats,
       positive_values(1e-6, 1e4), 1, 4},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, floats,
       positive_values(1e-6, 1e6)},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double x) { return 1.0 / std::sqrt(x); }, floats,
       positive_values(1e-6, 1e6), 1, 0},
      {"square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }, numeric,
       signed_values(-100, 100)},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double x) { return 1.0 / x; }, floats,
       nonzero_values(1e-3, 1e3)},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x < 0 ? 0.0 : x; }, numeric,
       signed_values(-10, 10)},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, ref_sigmoid, floats, signed_values(-30, 30), 1, 4},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, floats,
       signed_values(-6, 6), 1, 4},
      {"softplus", [](const Tensor& x) { return softplus(x); }, [](double x) { return std::log1p(std::exp(x)); },
       floats, signed_values(-40, 40), 1, 5},
  };
}

// gtest prints a parameter in test listings and failures: the op's name.
void PrintTo(const UnaryCase& c, std::ostream* out) { *out << c.name; }

class UnaryOpTest : public ::testing::TestWithParam<std::tuple<Device, UnaryCase>> {};

TEST_P(UnaryOpTest, MatchesReference) {
  TestRng rng;
  const auto& [device, c] = GetParam();
  for (DType dtype : c.dtypes) {
    SCOPED_TRACE(c.name + " " + dtype_label(dtype));
    const Tolerance tol = ulps(tolerance_for(dtype, c.ulps_f32, c.ulps_f64));
    auto check = [&](const Tensor& in, const Ref& in_ref) {
      const Tensor out = c.op(in);
      EXPECT_TRUE(matches(out, ref_map(in_ref, dtype, c.ref), tol)) << "input shape " << to_string(in.shape());
      EXPECT_TRUE(out.is_contiguous());
      EXPECT_EQ(out.device(), device);
    };
    // Contiguous: 0-d, one element, small shapes, and one past the CPU's
    // parallel grain (several chunks).
    for (const Shape& shape : {Shape{}, Shape{1}, Shape{4, 37}, Shape{2, 3, 5, 7}, Shape{70001}}) {
      const Ref x = make_ref(shape, dtype, c.draw(rng, ref_numel(shape), dtype));
      check(to_tensor(x, device), x);
    }
    // Non-contiguous views of one base: transposed, stepped slice, expanded row.
    const Ref base = make_ref({6, 10}, dtype, c.draw(rng, 60, dtype));
    const Tensor b = to_tensor(base, device);
    check(b.t(), ref_permute(base, {1, 0}));
    check(b.slice(1, 1, 10, 3), ref_strided(base, {6, 3}, {10, 3}, 1));
    check(b.select(0, 2).unsqueeze(0).expand({4, 10}), ref_strided(base, {4, 10}, {0, 1}, 20));
    check(b.permute({1, 0}).slice(0, -4, 10, 2), ref_strided(base, {2, 6}, {2, 10}, 6));
    // Zero-size.
    const Tensor e = empty({0, 3}, {.dtype = dtype, .device = device});
    const Tensor out = c.op(e);
    EXPECT_EQ(out.shape(), (Shape{0, 3}));
    EXPECT_EQ(out.dtype(), dtype);
  }
}

std::string unary_name(const ::testing::TestParamInfo<std::tuple<Device, UnaryCase>>& info) {
  const Device d = std::get<0>(info.param);
  return std::get<1>(info.param).name + "_" + (d.is_cpu() ? "cpu" : "cuda" + std::to_string(d.index));
}

INSTANTIATE_TEST_SUITE_P(Ops, UnaryOpTest,
                         ::testing::Combine(::testing::ValuesIn(test_devices()), ::testing::ValuesIn(unary_cases())),
                         unary_name);

// ============================== binary ==============================

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> tt;
  std::function<Tensor(const Tensor&, Scalar)> ts;
  std::function<Tensor(Scalar, const Tensor&)> st;
  double (*ref)(double, double);
  std::vector<DType> dtypes;
  Draw draw_a, draw_b;
  bool comparison = false;
  double ulps_f32 = 0, ulps_f64 = 0;
};

#define PARITY_BINARY_FORMS(fn)                                     \
  [](const Tensor& a, const Tensor& b) { return parity::fn(a, b); }, \
      [](const Tensor& a, Scalar b) { return parity::fn(a, b); },    \
      [](Scalar a, const Tensor& b) { return parity::fn(a, b); }

double ref_maximum(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
double ref_minimum(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }

std::vector<BinaryCase> binary_cases() {
  const auto& numeric = numeric_dtypes();
  const auto& floats = float_dtypes();
  const auto& all = all_dtypes();
  return {
      {"add", PARITY_BINARY_FORMS(add), [](double a, double b) { return a + b; }, numeric,
       signed_values(-1e3, 1e3), signed_values(-1e3, 1e3)},
      {"sub", PARITY_BINARY_FORMS(sub), [](double a, double b) { return a - b; }, numeric,
       signed_values(-1e3, 1e3), signed_values(-10, 10)},
      {"mul", PARITY_BINARY_FORMS(mul), [](double a, double b) { return a * b; }, numeric,
       signed_values(-1e3, 1e3), signed_values(-10, 10)},
      {"div", PARITY_BINARY_FORMS(div), [](double a, double b) { return a / b; }, floats,
       signed_values(-1e3, 1e3), nonzero_values(1e-3, 1e3)},
      {"pow", PARITY_BINARY_FORMS(pow), [](double a, double b) { return std::pow(a, b); }, floats,
       positive_values(0.05, 20), signed_values(-4, 4), false, 8, 4},
      {"maximum", PARITY_BINARY_FORMS(maximum), ref_maximum, numeric, tie_values(), tie_values()},
      {"minimum", PARITY_BINARY_FORMS(minimum), ref_minimum, numeric, tie_values(), tie_values()},
      // ReLU's fused backward: the gradient where the output is > 0 (not at 0, not at NaN).
      {"relu_backward", PARITY_BINARY_FORMS(relu_backward), [](double g, double y) { return y > 0 ? g : 0.0; },
       floats, signed_values(-1e3, 1e3), tie_values()},
      {"eq", PARITY_BINARY_FORMS(eq), [](double a, double b) -> double { return a == b; }, all, tie_values(),
       tie_values(), true},
      {"ne", PARITY_BINARY_FORMS(ne), [](double a, double b) -> double { return a != b; }, all, tie_values(),
       tie_values(), true},
      {"lt", PARITY_BINARY_FORMS(lt), [](double a, double b) -> double { return a < b; }, all, tie_values(),
       tie_values(), true},
      {"le", PARITY_BINARY_FORMS(le), [](double a, double b) -> double { return a <= b; }, all, tie_values(),
       tie_values(), true},
      {"gt", PARITY_BINARY_FORMS(gt), [](double a, double b) -> double { return a > b; }, all, tie_values(),
       tie_values(), true},
      {"ge", PARITY_BINARY_FORMS(ge), [](double a, double b) -> double { return a >= b; }, all, tie_values(),
       tie_values(), true},
  };
}
#undef PARITY_BINARY_FORMS

// Shape pairs that broadcast: equal shapes, rank differences, size-1 dims on
// either side, 0-d tensors, zero-size dims, and one past the parallel grain.
const std::vector<std::pair<Shape, Shape>>& broadcast_pairs() {
  static const std::vector<std::pair<Shape, Shape>> pairs = {
      {{3, 4}, {3, 4}},       {{2, 3, 4}, {4}},      {{4}, {2, 3, 4}},    {{2, 1, 4}, {3, 1}},
      {{4, 1, 3}, {1, 5, 1}}, {{}, {2, 3}},          {{5, 1}, {}},        {{}, {}},
      {{1}, {7}},             {{0, 3}, {3}},         {{2, 0}, {2, 1}},    {{1, 0}, {3, 1}},
      {{0}, {}},              {{300, 257}, {257}},   {{1, 1, 1}, {2, 1, 3}},
  };
  return pairs;
}

void PrintTo(const BinaryCase& c, std::ostream* out) { *out << c.name; }

class BinaryOpTest : public ::testing::TestWithParam<std::tuple<Device, BinaryCase>> {};

TEST_P(BinaryOpTest, MatchesReference) {
  TestRng rng;
  const auto& [device, c] = GetParam();
  for (DType dtype : c.dtypes) {
    SCOPED_TRACE(c.name + " " + dtype_label(dtype));
    const DType out_dtype = c.comparison ? kBool : dtype;
    const Tolerance tol = ulps(tolerance_for(dtype, c.ulps_f32, c.ulps_f64));
    auto draw = [&](const Draw& d, const Shape& shape) { return make_ref(shape, dtype, d(rng, ref_numel(shape), dtype)); };

    // tensor-tensor, broadcasting
    for (const auto& [sa, sb] : broadcast_pairs()) {
      const Ref a = draw(c.draw_a, sa), b = draw(c.draw_b, sb);
      const Tensor out = c.tt(to_tensor(a, device), to_tensor(b, device));
      EXPECT_TRUE(matches(out, ref_binary(a, b, out_dtype, c.ref), tol))
          << "shapes " << to_string(sa) << " and " << to_string(sb);
    }

    // tensor-scalar and scalar-tensor: the scalar is converted to the dtype.
    for (int trial = 0; trial < 3; ++trial) {
      const Ref x = draw(c.draw_a, {5, 7});
      const Tensor t = to_tensor(x, device);
      const Ref s_ref = draw(c.draw_b, {});
      const Ref s_first = draw(c.draw_a, {});
      const double s = s_ref.v[0], s0 = s_first.v[0];
      const Scalar scalar = is_floating(dtype) ? Scalar(s) : dtype == kBool ? Scalar(s != 0) : Scalar(static_cast<std::int64_t>(s));
      const Scalar scalar0 = is_floating(dtype) ? Scalar(s0) : dtype == kBool ? Scalar(s0 != 0) : Scalar(static_cast<std::int64_t>(s0));
      EXPECT_TRUE(matches(c.ts(t, scalar), ref_map(x, out_dtype, [&](double v) { return c.ref(v, s); }), tol))
          << "tensor " << c.name << " scalar " << s;
      // scalar-tensor: the scalar takes the role of the first operand; draw the
      // tensor from the second operand's domain.
      const Ref y = draw(c.draw_b, {5, 7});
      EXPECT_TRUE(matches(c.st(scalar0, to_tensor(y, device)), ref_map(y, out_dtype, [&](double v) { return c.ref(s0, v); }), tol))
          << "scalar " << s0 << " " << c.name << " tensor";
      // A 0-d tensor operand behaves like the scalar.
      EXPECT_TRUE(matches(c.tt(t, to_tensor(s_ref, device)), ref_map(x, out_dtype, [&](double v) { return c.ref(v, s); }), tol));
    }
    if (is_floating(dtype)) {  // a double scalar is rounded to float32 first
      const Ref x = draw(c.draw_a, {9});
      const double s = c.name == "pow" ? 0.1 : 1.1;
      EXPECT_TRUE(matches(c.ts(to_tensor(x, device), s),
                          ref_map(x, out_dtype, [&](double v) { return c.ref(v, round_to(s, dtype)); }), tol));
    }

    // Non-contiguous operands: a transposed, a stepped slice, an expanded row,
    // and a permuted 3-d view.
    {
      const Ref base_a = draw(c.draw_a, {6, 10}), base_b = draw(c.draw_b, {10, 6});
      const Tensor a = to_tensor(base_a, device), b = to_tensor(base_b, device);
      EXPECT_TRUE(matches(c.tt(a, b.t()), ref_binary(base_a, ref_permute(base_b, {1, 0}), out_dtype, c.ref), tol));
      EXPECT_TRUE(matches(c.tt(a.slice(1, 0, 10, 2), b.slice(0, 1, 10, 2).t()),
                          ref_binary(ref_strided(base_a, {6, 5}, {10, 2}, 0),
                                     ref_strided(base_b, {6, 5}, {1, 12}, 6), out_dtype, c.ref),
                          tol));
      EXPECT_TRUE(matches(c.tt(a.select(1, 3).unsqueeze(1), b.t().select(0, 2)),
                          ref_binary(ref_strided(base_a, {6, 1}, {10, 1}, 3), ref_strided(base_b, {10}, {6}, 2),
                                     out_dtype, c.ref),
                          tol));
      const Ref base3 = draw(c.draw_a, {3, 4, 5});
      const Tensor p = to_tensor(base3, device).permute({2, 0, 1});  // [5, 3, 4]
      const Tensor q = b.narrow(1, 0, 4).narrow(0, 0, 3);            // [3, 4], strides (6, 1)
      EXPECT_TRUE(matches(c.tt(p, q),
                          ref_binary(ref_permute(base3, {2, 0, 1}), ref_strided(base_b, {3, 4}, {6, 1}, 0),
                                     out_dtype, c.ref),
                          tol));
      EXPECT_TRUE(matches(c.ts(a.t(), is_floating(dtype) ? Scalar(2.0) : Scalar(std::int64_t{1})),
                          ref_map(ref_permute(base_a, {1, 0}), out_dtype,
                                  [&](double v) { return c.ref(v, is_floating(dtype) ? 2.0 : 1.0); }),
                          tol));
    }

    // Zero-size with a scalar.
    const Tensor e = empty({3, 0}, {.dtype = dtype, .device = device});
    const Tensor es = c.ts(e, dtype == kBool ? Scalar(true) : Scalar(std::int64_t{1}));
    EXPECT_EQ(es.shape(), (Shape{3, 0}));
    EXPECT_EQ(es.dtype(), out_dtype);
  }
}

std::string binary_name(const ::testing::TestParamInfo<std::tuple<Device, BinaryCase>>& info) {
  const Device d = std::get<0>(info.param);
  return std::get<1>(info.param).name + "_" + (d.is_cpu() ? "cpu" : "cuda" + std::to_string(d.index));
}

INSTANTIATE_TEST_SUITE_P(Ops, BinaryOpTest,
                         ::testing::Combine(::testing::ValuesIn(test_devices()), ::testing::ValuesIn(binary_cases())),
                         binary_name);

// ============================== the rest ==============================

class Elementwise : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, Elementwise, ::testing::ValuesIn(test_devices()), device_name);

TEST_P(Elementwise, OperatorsMatchTheNamedOps) {
  TestRng rng;
  const Device device = GetParam();
  const Ref a = random_ref(rng, {3, 4}, kFloat64, -5, 5), b = random_ref(rng, {4}, kFloat64, 1, 5);
  const Tensor ta = to_tensor(a, device), tb = to_tensor(b, device);
  EXPECT_TRUE(same_bits(ta + tb, add(ta, tb)));
  EXPECT_TRUE(same_bits(ta - tb, sub(ta, tb)));
  EXPECT_TRUE(same_bits(ta * tb, mul(ta, tb)));
  EXPECT_TRUE(same_bits(ta / tb, div(ta, tb)));
  EXPECT_TRUE(same_bits(-ta, neg(ta)));
  EXPECT_TRUE(same_bits(ta + 2.5, add(ta, 2.5)));
  EXPECT_TRUE(same_bits(2.5 - ta, sub(2.5, ta)));
  EXPECT_TRUE(same_bits(ta * 3, mul(ta, 3)));
  EXPECT_TRUE(same_bits(1.0 / tb, reciprocal(tb)));
}

TEST_P(Elementwise, Where) {
  TestRng rng;
  const Device device = GetParam();
  for (DType dtype : all_dtypes()) {
    SCOPED_TRACE(dtype_label(dtype));
    auto sel = [](const std::vector<double>& x) { return x[0] != 0 ? x[1] : x[2]; };
    // cond, a, b of three different shapes broadcasting to [2, 3, 4].
    const Ref cond = random_ref(rng, {2, 3, 1}, kBool, 0, 1);
    const Ref a = random_ref(rng, {3, 4}, dtype, -50, 50), b = random_ref(rng, {1, 4}, dtype, -50, 50);
    EXPECT_TRUE(matches(where(to_tensor(cond, device), to_tensor(a, device), to_tensor(b, device)),
                        ref_zip({&cond, &a, &b}, dtype, sel)));
    // Non-contiguous: a transposed condition, a stepped slice, a 0-d operand.
    const Ref cond2 = random_ref(rng, {4, 3}, kBool, 0, 1), base = random_ref(rng, {3, 8}, dtype, -50, 50);
    const Ref zero_d = random_ref(rng, {}, dtype, -50, 50);
    const Ref cond2_t = ref_permute(cond2, {1, 0}), sliced = ref_strided(base, {3, 4}, {8, 2}, 1);
    EXPECT_TRUE(matches(where(to_tensor(cond2, device).t(), to_tensor(base, device).slice(1, 1, 8, 2),
                              to_tensor(zero_d, device)),
                        ref_zip({&cond2_t, &sliced, &zero_d}, dtype, sel)));
    // Zero-size.
    const Tensor e = where(empty({0, 4}, {.dtype = kBool, .device = device}), to_tensor(a, device).select(0, 0),
                           to_tensor(b, device));
    EXPECT_EQ(e.shape(), (Shape{0, 4}));
  }
}

TEST_P(Elementwise, Clamp) {
  TestRng rng;
  const Device device = GetParam();
  for (DType dtype : numeric_dtypes()) {
    SCOPED_TRACE(dtype_label(dtype));
    const Ref x = make_ref({7, 9}, dtype, signed_values(-10, 10)(rng, 63, dtype));
    double lo = is_floating(dtype) ? rng.uniform(-8, 2) : dtype == kUInt8 ? rng.integer(0, 100) : rng.integer(-80, 0);
    double hi = lo + (is_floating(dtype) ? rng.uniform(0, 8) : rng.integer(0, 100));
    lo = round_to(lo, dtype);
    hi = round_to(hi, dtype);
    auto ref = [&](double v) { return v < lo ? lo : (v > hi ? hi : v); };
    const Scalar slo = is_floating(dtype) ? Scalar(lo) : Scalar(static_cast<std::int64_t>(lo));
    const Scalar shi = is_floating(dtype) ? Scalar(hi) : Scalar(static_cast<std::int64_t>(hi));
    const Tensor t = to_tensor(x, device);
    EXPECT_TRUE(matches(clamp(t, slo, shi), ref_map(x, dtype, ref))) << "clamp to [" << lo << ", " << hi << "]";
    EXPECT_TRUE(matches(clamp(t.t(), slo, shi), ref_map(ref_permute(x, {1, 0}), dtype, ref)));
    EXPECT_TRUE(matches(clamp(t, slo, slo), ref_map(x, dtype, [&](double) { return lo; })));  // lo == hi
    EXPECT_EQ(clamp(empty({0}, {.dtype = dtype, .device = device}), slo, shi).numel(), 0);
    if (is_floating(dtype)) {  // NaN stays NaN; infinities clamp
      const Ref special = make_ref({3}, dtype, {NAN, INFINITY, -INFINITY});
      EXPECT_TRUE(matches(clamp(to_tensor(special, device), -1.0, 1.0), make_ref({3}, dtype, {NAN, 1, -1})));
    }
  }
}

TEST_P(Elementwise, CastBetweenAllDtypes) {
  TestRng rng;
  const Device device = GetParam();
  for (DType from : all_dtypes()) {
    for (DType to : all_dtypes()) {
      SCOPED_TRACE(dtype_label(from) + " -> " + dtype_label(to));
      // Values every target can hold after truncation toward zero (a float to
      // an unsigned or out-of-range integer is undefined in C++, so no test
      // asks for it); floats keep fractions, some values are exactly zero.
      const bool nonnegative = to == kUInt8 || from == kUInt8;
      std::vector<double> v = rng.values(6 * 11, from, nonnegative ? 0 : -120, 120);
      for (std::size_t i = 0; i < v.size(); i += 5) v[i] = 0;
      const Ref x = make_ref({6, 11}, from, v);
      auto conv = [&](double value) -> double {
        return to == kBool ? (value != 0) : is_floating(to) ? value : std::trunc(value);
      };
      const Tensor t = to_tensor(x, device);
      EXPECT_TRUE(matches(cast(t, to), ref_map(x, to, conv)));
      EXPECT_TRUE(matches(t.to(to), ref_map(x, to, conv)));
      EXPECT_TRUE(matches(cast(t.t(), to), ref_map(ref_permute(x, {1, 0}), to, conv)));
      EXPECT_TRUE(matches(cast(t.slice(1, 2, 11, 4), to), ref_map(ref_strided(x, {6, 3}, {11, 4}, 2), to, conv)));
      const Tensor c = cast(t, to);
      EXPECT_FALSE(c.storage() == t.storage()) << "cast always makes a new tensor";
      EXPECT_EQ(cast(empty({2, 0}, {.dtype = from, .device = device}), to).shape(), (Shape{2, 0}));
    }
  }
  // float64 -> float32 rounds to nearest; large int64 -> float64 rounds too.
  const Ref d = make_ref({3}, kFloat64, {0.1, 1.0 + 0x1p-30, -3.0000001});
  EXPECT_TRUE(matches(cast(to_tensor(d, device), kFloat32), ref_map(d, kFloat32, [](double v) { return v; })));
  const Tensor big = from_vector(std::vector<std::int64_t>{(std::int64_t{1} << 53) + 1, -(std::int64_t{1} << 60) - 1}, {2}, device);
  const std::vector<double> as_double = cast(big, kFloat64).to_vector<double>();
  EXPECT_EQ(as_double[0], static_cast<double>((std::int64_t{1} << 53) + 1));
  EXPECT_EQ(as_double[1], static_cast<double>(-(std::int64_t{1} << 60) - 1));
  EXPECT_EQ(cast(big, kInt64).to_vector<std::int64_t>()[0], (std::int64_t{1} << 53) + 1);
}

TEST_P(Elementwise, SpecialValues) {
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(dtype_label(dtype));
    const double inf = INFINITY, nan = NAN;
    const Ref x = make_ref({6}, dtype, {nan, inf, -inf, 0.0, -0.0, 2.0});
    const Tensor t = to_tensor(x, device);
    EXPECT_TRUE(matches(relu(t), make_ref({6}, dtype, {nan, inf, 0, 0, 0, 2})));
    EXPECT_TRUE(matches(sign(t), make_ref({6}, dtype, {nan, 1, -1, 0, 0, 1})));
    EXPECT_TRUE(matches(abs(t), make_ref({6}, dtype, {nan, inf, inf, 0, 0, 2})));
    EXPECT_TRUE(matches(exp(t), make_ref({6}, dtype, {nan, inf, 0, 1, 1, std::exp(2.0)}), ulps(4)));
    EXPECT_TRUE(matches(sigmoid(t), make_ref({6}, dtype, {nan, 1, 0, 0.5, 0.5, 1 / (1 + std::exp(-2.0))}), ulps(4)));
    EXPECT_TRUE(matches(tanh(t), make_ref({6}, dtype, {nan, 1, -1, 0, 0, std::tanh(2.0)}), ulps(4)));
    EXPECT_TRUE(matches(reciprocal(t), make_ref({6}, dtype, {nan, 0, 0, inf, -inf, 0.5})));
    EXPECT_TRUE(matches(sqrt(t), make_ref({6}, dtype, {nan, inf, nan, 0, 0, std::sqrt(2.0)})));
    EXPECT_TRUE(matches(log(t), make_ref({6}, dtype, {nan, inf, nan, -inf, -inf, std::log(2.0)}), ulps(4)));
    // abs clears the sign bit (IEEE 754 abs): |-0| is +0, so 1/|-0| is +inf.
    EXPECT_TRUE(matches(reciprocal(abs(t)), make_ref({6}, dtype, {nan, 0, 0, inf, inf, 0.5})));
    // maximum/minimum propagate NaN from either side.
    const Ref y = make_ref({6}, dtype, {1.0, nan, 3.0, -1.0, nan, -inf});
    const Tensor u = to_tensor(y, device);
    EXPECT_TRUE(matches(maximum(t, u), make_ref({6}, dtype, {nan, nan, 3, 0, nan, 2})));
    EXPECT_TRUE(matches(minimum(t, u), make_ref({6}, dtype, {nan, nan, -inf, -1, nan, -inf})));
    // Comparisons with NaN are false, except ne.
    EXPECT_TRUE(matches(eq(t, t), make_ref({6}, kBool, {0, 1, 1, 1, 1, 1})));
    EXPECT_TRUE(matches(ne(t, t), make_ref({6}, kBool, {1, 0, 0, 0, 0, 0})));
    EXPECT_TRUE(matches(lt(t, 1.0), make_ref({6}, kBool, {0, 0, 1, 1, 1, 0})));
    EXPECT_TRUE(matches(ge(t, 1.0), make_ref({6}, kBool, {0, 1, 0, 0, 0, 1})));
    // Division by zero and pow edge cases follow IEEE / C pow.
    const Ref z = make_ref({4}, dtype, {1.0, -1.0, 0.0, 4.0});
    EXPECT_TRUE(matches(div(to_tensor(z, device), 0.0), make_ref({4}, dtype, {inf, -inf, nan, inf})));
    EXPECT_TRUE(matches(pow(to_tensor(z, device), 0.5), make_ref({4}, dtype, {1, nan, 0, 2})));
    EXPECT_TRUE(matches(pow(to_tensor(z, device), 0.0), make_ref({4}, dtype, {1, 1, 1, 1})));
    EXPECT_TRUE(matches(pow(-2.0, to_tensor(make_ref({3}, dtype, {2, 3, 0.5}), device)), make_ref({3}, dtype, {4, -8, nan})));
  }
  // Integers: abs/neg/sign of the extremes that do not overflow, uint8 wraps.
  const Tensor i32 = from_vector(std::vector<std::int32_t>{-2147483647, 2147483647, 0, -1}, {4}, device);
  EXPECT_EQ(abs(i32).to_vector<std::int32_t>(), (std::vector<std::int32_t>{2147483647, 2147483647, 0, 1}));
  EXPECT_EQ(sign(i32).to_vector<std::int32_t>(), (std::vector<std::int32_t>{-1, 1, 0, -1}));
  const Tensor u8 = from_vector(std::vector<std::uint8_t>{0, 1, 200, 255}, {4}, device);
  EXPECT_EQ(neg(u8).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{0, 255, 56, 1}));
  EXPECT_EQ(add(u8, 100).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{100, 101, 44, 99}));
  EXPECT_EQ(sub(u8, 1).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{255, 0, 199, 254}));
  // int64 stays exact past 2^53, where a float64 detour would round.
  const Tensor i64 = from_vector(std::vector<std::int64_t>{(std::int64_t{1} << 61) + 1, -3}, {2}, device);
  EXPECT_EQ(add(i64, i64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{(std::int64_t{1} << 62) + 2, -6}));
  EXPECT_EQ(mul(i64, 3).to_vector<std::int64_t>(), (std::vector<std::int64_t>{3 * (std::int64_t{1} << 61) + 3, -9}));
}

// Explicit broadcast results, independent of the reference's broadcasting code.
TEST_P(Elementwise, BroadcastShapes) {
  const Device device = GetParam();
  struct Case {
    Shape a, b, out;
  };
  for (const Case& c : std::vector<Case>{{{2, 3}, {3}, {2, 3}},
                                         {{2, 1}, {1, 3}, {2, 3}},
                                         {{}, {4}, {4}},
                                         {{}, {}, {}},
                                         {{5, 1, 1}, {2, 1}, {5, 2, 1}},
                                         {{1, 0}, {4, 1}, {4, 0}},
                                         {{0}, {1}, {0}},
                                         {{2, 0, 3}, {1, 3}, {2, 0, 3}},
                                         {{1, 1, 1, 1, 1, 1, 1, 2}, {3, 1}, {1, 1, 1, 1, 1, 1, 3, 2}}}) {
    const Tensor a = ones(c.a, {.dtype = kFloat32, .device = device});
    const Tensor b = full(c.b, 2, {.dtype = kFloat32, .device = device});
    const Tensor out = a + b;
    EXPECT_EQ(out.shape(), c.out) << to_string(c.a) << " + " << to_string(c.b);
    EXPECT_EQ(mul(b, a).shape(), c.out);
    EXPECT_EQ(lt(a, b).shape(), c.out);
    EXPECT_EQ(where(lt(a, b), a, b).shape(), c.out);
    for (float v : out.to_vector<float>()) EXPECT_EQ(v, 3.0f);
  }
}

// One op through a tensor whose broadcast input has stride 0 in several dims
// and whose result's dims are in reversed memory order (the iterator's dim
// reordering and merging).
TEST_P(Elementwise, IteratorLayouts) {
  TestRng rng;
  const Device device = GetParam();
  const Ref base = random_ref(rng, {4, 5, 6}, kFloat64, -10, 10);
  const Ref row = random_ref(rng, {6}, kFloat64, -10, 10);
  const Tensor t = to_tensor(base, device);
  auto plus = [](double a, double b) { return a + b; };
  // Fully reversed dims.
  EXPECT_TRUE(matches(add(t.permute({2, 1, 0}), to_tensor(row, device).view({6, 1, 1})),
                      ref_binary(ref_permute(base, {2, 1, 0}), make_ref({6, 1, 1}, kFloat64, row.v), kFloat64, plus)));
  // Mergeable dims in the middle of a non-contiguous tensor.
  EXPECT_TRUE(matches(add(t.slice(0, 0, 4, 2), to_tensor(row, device)),
                      ref_binary(ref_strided(base, {2, 5, 6}, {60, 6, 1}, 0), row, kFloat64, plus)));
  // A size-1 dim with an odd stride, and an 8-d tensor.
  const Tensor eight = to_tensor(base, device).view({1, 2, 2, 1, 5, 1, 2, 3});
  EXPECT_TRUE(matches(add(eight, eight.select(6, 1).unsqueeze(6)),
                      [&] {
                        Ref r = make_ref({1, 2, 2, 1, 5, 1, 2, 3}, kFloat64, base.v);
                        for (std::int64_t i = 0; i < r.numel(); ++i) {
                          const std::int64_t within = i % 6;           // (dim6, dim7) block of 2x3
                          const std::int64_t partner = i - within + 3 + within % 3;  // dim6 = 1
                          r.v[i] = base.v[i] + base.v[partner];
                        }
                        return r;
                      }()));
}

}  // namespace
}  // namespace parity::testing
