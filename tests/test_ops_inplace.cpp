// In-place forms (add_, sub_, mul_, div_, pow_, clamp_, neg_, abs_, exp_, log_,
// sqrt_, relu_, fill_, copy_, zero_) against the float64 reference: on a whole
// tensor and through a non-contiguous view of a larger base (the elements
// outside the view must not change), with broadcast operands, with operands
// that overlap the destination, on zero-size tensors; each returns the tensor
// itself and bumps the storage's version once.
//
// Tolerances are those of tests/test_ops_elementwise.cpp: exact except exp/log
// (4 ulp, libm) and pow (8 ulp float32, 4 ulp float64).
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class InPlace : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, InPlace, ::testing::ValuesIn(test_devices()), device_name);

// The base [5, 8] and the view [5, 4] of its odd columns: strides (8, 2), offset 1.
const Shape kBase{5, 8};
const Shape kView{5, 4};
const std::vector<std::int64_t> kViewStrides{8, 2};
constexpr std::int64_t kViewOffset = 1;

Tensor view_of(const Tensor& base) { return base.slice(1, 1, 8, 2); }

// base with the view's elements replaced by `values` (shape kView).
Ref with_view_values(Ref base, const Ref& values) {
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    const auto idx = unravel(i, kView);
    base.v[kViewOffset + idx[0] * kViewStrides[0] + idx[1] * kViewStrides[1]] = values.v[i];
  }
  return base;
}

struct Op {
  std::string name;
  std::vector<DType> dtypes;
  double lo, hi;  // the domain of the tensor's values
  std::function<void(Tensor&)> apply;  // the in-place call, on a tensor whose shape is kView or whole
  std::function<double(double)> ref;
  double ulps_f32 = 0, ulps_f64 = 0;
};

std::vector<Op> scalar_and_unary_ops() {
  const auto& numeric = numeric_dtypes();
  const auto& floats = float_dtypes();
  return {
      {"add_(3)", numeric, 0, 100, [](Tensor& t) { t.add_(3); }, [](double v) { return v + 3; }},
      {"sub_(7)", numeric, 0, 100, [](Tensor& t) { t.sub_(7); }, [](double v) { return v - 7; }},
      {"mul_(-2)", numeric, 0, 100, [](Tensor& t) { t.mul_(-2); }, [](double v) { return v * -2; }},
      {"add_(0.25)", floats, -10, 10, [](Tensor& t) { t.add_(0.25); }, [](double v) { return v + 0.25; }},
      {"div_(3.0)", floats, -10, 10, [](Tensor& t) { t.div_(3.0); }, [](double v) { return v / 3.0; }},
      {"pow_(1.5)", floats, 0.01, 10, [](Tensor& t) { t.pow_(1.5); }, [](double v) { return std::pow(v, 1.5); },
       8, 4},
      {"pow_(2)", floats, -10, 10, [](Tensor& t) { t.pow_(2); }, [](double v) { return v * v; }, 8, 4},
      {"clamp_(10, 60)", numeric, 0, 100, [](Tensor& t) { t.clamp_(10, 60); },
       [](double v) { return std::clamp(v, 10.0, 60.0); }},
      {"clamp_(-0.5, 0.5)", floats, -1, 1, [](Tensor& t) { t.clamp_(-0.5, 0.5); },
       [](double v) { return std::clamp(v, -0.5, 0.5); }},
      {"neg_", numeric, 0, 100, [](Tensor& t) { t.neg_(); }, [](double v) { return -v; }},
      {"abs_", numeric, -100, 100, [](Tensor& t) { t.abs_(); }, [](double v) { return std::abs(v); }},
      {"exp_", floats, -10, 10, [](Tensor& t) { t.exp_(); }, [](double v) { return std::exp(v); }, 4, 4},
      {"log_", floats, 1e-3, 1e3, [](Tensor& t) { t.log_(); }, [](double v) { return std::log(v); }, 4, 4},
      {"sqrt_", floats, 0, 1e4, [](Tensor& t) { t.sqrt_(); }, [](double v) { return std::sqrt(v); }},
      {"relu_", numeric, -100, 100, [](Tensor& t) { t.relu_(); }, [](double v) { return v < 0 ? 0.0 : v; }},
      {"fill_(5)", all_dtypes(), 0, 100, [](Tensor& t) { t.fill_(5); }, [](double) { return 5.0; }},
      {"fill_(-1.75)", floats, -10, 10, [](Tensor& t) { t.fill_(-1.75); }, [](double) { return -1.75; }},
      {"fill_(true)", {kBool}, 0, 1, [](Tensor& t) { t.fill_(true); }, [](double) { return 1.0; }},
      {"zero_", all_dtypes(), 0, 100, [](Tensor& t) { t.zero_(); }, [](double) { return 0.0; }},
  };
}

TEST_P(InPlace, ScalarAndUnaryForms) {
  TestRng rng;
  const Device device = GetParam();
  for (const Op& op : scalar_and_unary_ops()) {
    for (DType dtype : op.dtypes) {
      SCOPED_TRACE(op.name + " on " + std::string(name(dtype)));
      const double lo = dtype == kUInt8 ? std::max(op.lo, 0.0) : op.lo;
      const Tolerance tol = ulps(dtype == kFloat32 ? op.ulps_f32 : dtype == kFloat64 ? op.ulps_f64 : 0);
      // A whole, contiguous tensor.
      {
        const Ref x = random_ref(rng, {3, 7}, dtype, lo, op.hi);
        Tensor t = to_tensor(x, device);
        const std::uint64_t version = t.storage()->version();
        const TensorImpl* impl = t.impl();
        op.apply(t);
        EXPECT_EQ(t.impl(), impl);
        EXPECT_EQ(t.storage()->version(), version + 1);
        EXPECT_TRUE(matches(t, ref_map(x, dtype, op.ref), tol));
      }
      // Through a non-contiguous view: the base sees the change, nothing else moves.
      {
        const Ref base = random_ref(rng, kBase, dtype, lo, op.hi);
        const Tensor b = to_tensor(base, device);
        Tensor v = view_of(b);
        const std::uint64_t version = b.storage()->version();
        op.apply(v);
        EXPECT_EQ(b.storage()->version(), version + 1) << "the version is shared by every view of the storage";
        const Ref view_ref = ref_strided(base, kView, kViewStrides, kViewOffset);
        EXPECT_TRUE(matches(b, with_view_values(base, ref_map(view_ref, dtype, op.ref)), tol));
      }
      // Zero-size: nothing to do, no error.
      Tensor e = empty({0, 4}, {.dtype = dtype, .device = device});
      op.apply(e);
      EXPECT_EQ(e.shape(), (Shape{0, 4}));
    }
  }
}

TEST_P(InPlace, TensorForms) {
  TestRng rng;
  const Device device = GetParam();
  struct BinaryOp {
    std::string name;
    bool floats_only;
    std::function<Tensor&(Tensor&, const Tensor&)> apply;
    double (*ref)(double, double);
  };
  const std::vector<BinaryOp> ops = {
      {"add_", false, [](Tensor& t, const Tensor& o) -> Tensor& { return t.add_(o); },
       [](double a, double b) { return a + b; }},
      {"sub_", false, [](Tensor& t, const Tensor& o) -> Tensor& { return t.sub_(o); },
       [](double a, double b) { return a - b; }},
      {"mul_", false, [](Tensor& t, const Tensor& o) -> Tensor& { return t.mul_(o); },
       [](double a, double b) { return a * b; }},
      {"div_", true, [](Tensor& t, const Tensor& o) -> Tensor& { return t.div_(o); },
       [](double a, double b) { return a / b; }},
  };
  for (const BinaryOp& op : ops) {
    for (DType dtype : numeric_dtypes()) {
      if (op.floats_only && !is_floating(dtype)) continue;
      SCOPED_TRACE(op.name + " on " + std::string(name(dtype)));
      const double lo = dtype == kUInt8 ? 0 : -20;
      // other: the same shape, a broadcast row, a broadcast column, a 0-d tensor,
      // a transposed (non-contiguous) tensor.
      for (const Shape& other_shape : {kView, Shape{4}, Shape{5, 1}, Shape{}}) {
        const Ref base = random_ref(rng, kBase, dtype, lo, 20);
        Ref other = random_ref(rng, other_shape, dtype, 1, 9);  // non-zero divisors
        const Tensor b = to_tensor(base, device);
        Tensor v = view_of(b);
        const std::uint64_t version = b.storage()->version();
        Tensor& r = op.apply(v, to_tensor(other, device));
        EXPECT_TRUE(r.is_same(v)) << "an in-place op returns the tensor itself";
        EXPECT_EQ(b.storage()->version(), version + 1);
        const Ref expected = ref_binary(ref_strided(base, kView, kViewStrides, kViewOffset), other, dtype, op.ref);
        EXPECT_TRUE(matches(b, with_view_values(base, expected))) << "other of shape " << to_string(other_shape);
      }
      {
        const Ref x = random_ref(rng, {4, 5}, dtype, lo, 20), y = random_ref(rng, {5, 4}, dtype, 1, 9);
        Tensor t = to_tensor(x, device);
        op.apply(t, to_tensor(y, device).t());
        EXPECT_TRUE(matches(t, ref_binary(x, ref_permute(y, {1, 0}), dtype, op.ref)));
      }
    }
  }
}

// An operand that overlaps the destination is read as it was before the op.
TEST_P(InPlace, OverlappingOperands) {
  TestRng rng;
  const Device device = GetParam();
  // x += x^T reads elements the op has already written, unless it copies first.
  const Ref x = random_ref(rng, {6, 6}, kFloat64, -5, 5);
  Tensor t = to_tensor(x, device);
  t.add_(t.t());
  EXPECT_TRUE(matches(t, ref_binary(x, ref_permute(x, {1, 0}), kFloat64, [](double a, double b) { return a + b; })));
  // x += x: the very same layout is safe without a copy.
  Tensor u = to_tensor(x, device);
  u.add_(u);
  EXPECT_TRUE(matches(u, ref_map(x, kFloat64, [](double a) { return a + a; })));
  // copy_ between shifted views of one buffer behaves like memmove, both ways.
  const Ref line = random_ref(rng, {50}, kFloat32, -5, 5);
  Tensor l = to_tensor(line, device);
  l.narrow(0, 1, 49).copy_(l.narrow(0, 0, 49));
  Ref shifted = line;
  for (int i = 1; i < 50; ++i) shifted.v[i] = line.v[i - 1];
  EXPECT_TRUE(matches(l, shifted));
  Tensor l2 = to_tensor(line, device);
  l2.narrow(0, 0, 49).copy_(l2.narrow(0, 1, 49));
  Ref shifted2 = line;
  for (int i = 0; i < 49; ++i) shifted2.v[i] = line.v[i + 1];
  EXPECT_TRUE(matches(l2, shifted2));
  // mul_ by an overlapping, shifted view of itself.
  const Ref m = random_ref(rng, {6, 3}, kFloat64, -5, 5);
  Tensor tm = to_tensor(m, device);
  tm.narrow(0, 0, 3).mul_(tm.narrow(0, 1, 3));  // rows 0..2 times rows 1..3, read before written
  Ref expect = m;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) expect.v[i * 3 + j] = m.v[i * 3 + j] * m.v[(i + 1) * 3 + j];
  }
  EXPECT_TRUE(matches(tm, expect));
}

TEST_P(InPlace, CopyCastsAndBroadcasts) {
  TestRng rng;
  const Device device = GetParam();
  for (DType from : all_dtypes()) {
    for (DType to : all_dtypes()) {
      SCOPED_TRACE(std::string(name(from)) + " -> " + std::string(name(to)));
      const Ref base = random_ref(rng, kBase, to, 0, 100);
      const Ref src = random_ref(rng, {4}, from, 0, 100);  // broadcast along the view's rows
      const Tensor b = to_tensor(base, device);
      Tensor v = view_of(b);
      const std::uint64_t version = b.storage()->version();
      Tensor& r = v.copy_(to_tensor(src, device));
      EXPECT_TRUE(r.is_same(v));
      EXPECT_EQ(b.storage()->version(), version + 1);
      const Ref expected = ref_binary(ref_strided(base, kView, kViewStrides, kViewOffset), src, to,
                                      [&](double, double s) { return is_floating(to) || to == kBool ? s : std::trunc(s); });
      EXPECT_TRUE(matches(b, with_view_values(base, expected)));
    }
  }
  // A 0-d source fills; a non-contiguous source is read in its logical order.
  const Ref x = random_ref(rng, {3, 4}, kFloat32, -1, 1);
  Tensor dst = zeros({4, 3}, {.dtype = kFloat32, .device = device});
  dst.copy_(to_tensor(x, device).t());
  EXPECT_TRUE(matches(dst, ref_permute(x, {1, 0})));
  dst.copy_(full({}, 2.5, {.dtype = kFloat64, .device = device}));
  EXPECT_TRUE(matches(dst, make_ref({4, 3}, kFloat32, std::vector<double>(12, 2.5))));
  // Zero-size: from a broadcast source, and from an empty one.
  Tensor none = empty({0, 3}, {.dtype = kInt32, .device = device});
  none.copy_(to_tensor(x, device).select(1, 0).narrow(0, 0, 3));
  none.copy_(empty({0, 3}, {.dtype = kFloat32, .device = device}));
  EXPECT_EQ(none.shape(), (Shape{0, 3}));
  // Across devices (only where a second device exists).
  if (device.is_cuda()) {
    Tensor host = zeros({3, 4}, {.dtype = kFloat32});
    host.t().copy_(to_tensor(x, device).t());
    EXPECT_TRUE(matches(host, x));
    Tensor dev = zeros({4, 3}, {.dtype = kFloat64, .device = device});
    dev.copy_(to_tensor(x, Device::cpu()).t());
    EXPECT_TRUE(matches(dev, ref_map(ref_permute(x, {1, 0}), kFloat64, [](double a) { return a; })));
  }
}

}  // namespace
}  // namespace parity::testing
