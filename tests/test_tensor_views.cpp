// Tensor semantics: copying a handle aliases; views share storage (a write
// through a view is read through the base, and back); view() refuses what needs
// a copy while reshape() copies; contiguous/clone/to; host access (item,
// to_vector, from_vector, from_blob); factories; the version counter.
#include <cstring>
#include <string>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class TensorViews : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, TensorViews, ::testing::ValuesIn(test_devices()), device_name);

// A float64 tensor 0, 1, 2, ... of `shape`, with its reference.
struct Iota {
  Ref ref;
  Tensor t;
};
Iota iota(const Shape& shape, Device device) {
  std::vector<double> v(static_cast<std::size_t>(ref_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  Ref r = make_ref(shape, kFloat64, v);
  return {r, to_tensor(r, device)};
}

TEST_P(TensorViews, CopyingAHandleAliases) {
  const Device device = GetParam();
  Tensor a = zeros({2, 3}, {.device = device});
  Tensor b = a;  // NOLINT: the copy is the point
  EXPECT_TRUE(b.is_same(a));
  EXPECT_TRUE(b.storage() == a.storage());
  b.add_(1);
  EXPECT_TRUE(matches(a, make_ref({2, 3}, kFloat32, std::vector<double>(6, 1))));
  Tensor c;
  EXPECT_FALSE(c.defined());
  c = a;
  c.mul_(5);
  EXPECT_TRUE(matches(a, make_ref({2, 3}, kFloat32, std::vector<double>(6, 5))));
  // A moved-from handle is undefined; the data lives on in the new one.
  Tensor d = std::move(c);
  EXPECT_TRUE(d.is_same(a));
}

// Every view: its layout, its values, and writes both ways.
TEST_P(TensorViews, ViewsShareStorage) {
  const Device device = GetParam();
  struct Case {
    std::string what;
    std::function<Tensor(const Tensor&)> make;
    Shape shape;
    std::vector<std::int64_t> strides;
    std::int64_t offset;
  };
  // On a contiguous [2, 3, 4] base: strides (12, 4, 1).
  const std::vector<Case> cases = {
      {"view", [](const Tensor& t) { return t.view({6, 4}); }, {6, 4}, {4, 1}, 0},
      {"view -1", [](const Tensor& t) { return t.view({2, -1}); }, {2, 12}, {12, 1}, 0},
      {"reshape", [](const Tensor& t) { return t.reshape({4, 3, 2}); }, {4, 3, 2}, {6, 2, 1}, 0},
      {"permute", [](const Tensor& t) { return t.permute({2, 0, 1}); }, {4, 2, 3}, {1, 12, 4}, 0},
      {"permute negative", [](const Tensor& t) { return t.permute({-1, -2, -3}); }, {4, 3, 2}, {1, 4, 12}, 0},
      {"transpose", [](const Tensor& t) { return t.transpose(0, -1); }, {4, 3, 2}, {1, 4, 12}, 0},
      {"t", [](const Tensor& t) { return t.select(0, 1).t(); }, {4, 3}, {1, 4}, 12},
      {"slice", [](const Tensor& t) { return t.slice(2, 1, 4); }, {2, 3, 3}, {12, 4, 1}, 1},
      {"slice step", [](const Tensor& t) { return t.slice(2, 0, 4, 3); }, {2, 3, 2}, {12, 4, 3}, 0},
      {"slice negative", [](const Tensor& t) { return t.slice(1, -2, -1); }, {2, 1, 4}, {12, 4, 1}, 4},
      {"slice past the end", [](const Tensor& t) { return t.slice(-1, -3, 100, 2); }, {2, 3, 2}, {12, 4, 2}, 1},
      {"slice empty", [](const Tensor& t) { return t.slice(1, 2, 1); }, {2, 0, 4}, {12, 4, 1}, 8},
      {"narrow", [](const Tensor& t) { return t.narrow(1, 1, 2); }, {2, 2, 4}, {12, 4, 1}, 4},
      {"narrow negative", [](const Tensor& t) { return t.narrow(-1, -2, 2); }, {2, 3, 2}, {12, 4, 1}, 2},
      {"select", [](const Tensor& t) { return t.select(1, 2); }, {2, 4}, {12, 1}, 8},
      {"select negative", [](const Tensor& t) { return t.select(-1, -1); }, {2, 3}, {12, 4}, 3},
      {"unsqueeze", [](const Tensor& t) { return t.unsqueeze(1); }, {2, 1, 3, 4}, {12, 12, 4, 1}, 0},
      {"unsqueeze negative", [](const Tensor& t) { return t.unsqueeze(-1); }, {2, 3, 4, 1}, {12, 4, 1, 1}, 0},
      {"squeeze", [](const Tensor& t) { return t.narrow(1, 1, 1).squeeze(); }, {2, 4}, {12, 1}, 4},
      {"squeeze dim", [](const Tensor& t) { return t.narrow(1, 1, 1).squeeze(1); }, {2, 4}, {12, 1}, 4},
      {"squeeze non-1 dim", [](const Tensor& t) { return t.squeeze(0); }, {2, 3, 4}, {12, 4, 1}, 0},
      {"flatten", [](const Tensor& t) { return t.flatten(); }, {24}, {1}, 0},
      {"flatten range", [](const Tensor& t) { return t.flatten(1, 2); }, {2, 12}, {12, 1}, 0},
      {"flatten view", [](const Tensor& t) { return t.select(2, 1).flatten(); }, {6}, {4}, 1},
      {"expand", [](const Tensor& t) { return t.select(1, 0).unsqueeze(1).expand({2, 5, 4}); }, {2, 5, 4}, {12, 0, 1}, 0},
      {"expand new dims", [](const Tensor& t) { return t.select(0, 1).expand({3, -1, 4}); }, {3, 3, 4}, {0, 4, 1}, 12},
      {"broadcast_to", [](const Tensor& t) { return t.select(2, 3).select(1, 0).broadcast_to({3, 2}); }, {3, 2}, {0, 12}, 3},
      {"view of a view", [](const Tensor& t) { return t.slice(1, 1, 3).view({2, 2, 2, 2}); }, {2, 2, 2, 2}, {12, 4, 2, 1}, 4},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Iota base = iota({2, 3, 4}, device);
    const Tensor v = c.make(base.t);
    EXPECT_EQ(v.shape(), c.shape);
    if (ref_numel(c.shape) > 0) {
      EXPECT_EQ(v.strides(), c.strides);
      EXPECT_EQ(v.offset(), c.offset);
    }
    EXPECT_TRUE(v.storage() == base.t.storage()) << "a view shares its base's storage";
    EXPECT_EQ(v.dtype(), kFloat64);
    EXPECT_EQ(v.device(), device);
    const Ref expected = ref_strided(base.ref, c.shape, c.strides, c.offset);
    EXPECT_TRUE(matches(v, expected));
    if (v.numel() == 0 || c.what.rfind("expand", 0) == 0 || c.what == "broadcast_to") continue;
    // Write through the view, read through the base.
    Tensor w = v;
    w.mul_(-1);
    Ref after = base.ref;
    for (std::int64_t i = 0; i < ref_numel(c.shape); ++i) {
      const auto idx = unravel(i, c.shape);
      std::int64_t flat = c.offset;
      for (std::size_t d = 0; d < idx.size(); ++d) flat += idx[d] * c.strides[d];
      after.v[flat] = -base.ref.v[flat];
    }
    EXPECT_TRUE(matches(base.t, after));
    // Write through the base, read through the view.
    Tensor b = base.t;
    b.add_(1000);
    EXPECT_TRUE(matches(v, ref_map(ref_strided(after, c.shape, c.strides, c.offset), kFloat64,
                                   [](double x) { return x + 1000; })));
  }
}

TEST_P(TensorViews, ViewRefusesCopiesReshapeMakesThem) {
  const Device device = GetParam();
  const Iota base = iota({3, 4}, device);
  const Tensor t = base.t.t();  // [4, 3], strides (1, 4)
  EXPECT_PARITY_ERROR(t.view({12}), {"view:", "[4, 3]", "[1, 4]", "[12]", "reshape"});
  EXPECT_PARITY_ERROR(base.t.narrow(1, 0, 3).view({9}), {"view:", "[3, 3]", "[9]"});
  // Every other column of a [3, 4] is evenly spaced: it views as one dim of stride 2.
  EXPECT_EQ(base.t.slice(1, 0, 4, 2).view({6}).strides(), (Strides{2}));
  EXPECT_TRUE(matches(base.t.slice(1, 0, 4, 2).view({6}), make_ref({6}, kFloat64, {0, 2, 4, 6, 8, 10})));
  const Tensor r = t.reshape({12});
  EXPECT_FALSE(r.storage() == base.t.storage()) << "reshape copies when a view is impossible";
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_TRUE(matches(r, make_ref({12}, kFloat64, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11})));
  const Tensor s = base.t.reshape({2, 6});
  EXPECT_TRUE(s.storage() == base.t.storage()) << "reshape views when it can";
  // Views that are possible on non-contiguous tensors: splitting and merging
  // dims that stay contiguous with each other, and size-1 dims anywhere.
  const Iota big = iota({4, 6, 5}, device);
  const Tensor sliced = big.t.slice(0, 0, 4, 2);  // [2, 6, 5], strides (60, 5, 1)
  const Tensor merged = sliced.view({2, 30});
  EXPECT_TRUE(merged.storage() == big.t.storage());
  EXPECT_EQ(merged.strides(), (Strides{60, 1}));
  EXPECT_TRUE(matches(merged, ref_strided(big.ref, {2, 30}, {60, 1}, 0)));
  const Tensor split = sliced.view({2, 2, 3, 5, 1});
  EXPECT_TRUE(matches(split, ref_strided(big.ref, {2, 2, 3, 5, 1}, {60, 15, 5, 1, 1}, 0)));
  EXPECT_PARITY_ERROR(sliced.view({60}), {"view:", "[2, 6, 5]", "[60]"});
  // view of an expanded tensor: fine while the stride-0 dim stays whole.
  const Tensor ex = big.t.select(0, 0).select(0, 0).expand({3, 5});
  EXPECT_TRUE(matches(ex.view({3, 5, 1}), ref_strided(big.ref, {3, 5, 1}, {0, 1, 1}, 0)));
  std::vector<double> repeated;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 5; ++j) repeated.push_back(j);
  }
  EXPECT_TRUE(matches(ex.reshape({15}), make_ref({15}, kFloat64, repeated)));
  // A 0-d tensor and its one-element views.
  const Tensor zero_d = full({}, 4.5, {.dtype = kFloat64, .device = device});
  EXPECT_EQ(zero_d.view({1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(zero_d.reshape({-1}).shape(), (Shape{1}));
  EXPECT_EQ(zero_d.flatten().shape(), (Shape{1}));
  EXPECT_EQ(zero_d.unsqueeze(0).shape(), (Shape{1}));
  EXPECT_EQ(zero_d.view({1}).view({}).shape(), Shape{});
  EXPECT_EQ(zero_d.view({1}).squeeze().item<double>(), 4.5);
  // Zero-size tensors view freely.
  const Tensor z = empty({0, 4}, {.device = device});
  EXPECT_EQ(z.view({2, 0, 2}).shape(), (Shape{2, 0, 2}));
  EXPECT_EQ(z.t().view({-1}).shape(), (Shape{0}));
  EXPECT_EQ(z.reshape({4, 0, 7}).shape(), (Shape{4, 0, 7}));
  // -1 next to a 0 could be any size.
  EXPECT_PARITY_ERROR(z.view({2, 0, -1}), {"view:", "[2, 0, -1]"});
}

TEST_P(TensorViews, ContiguousCloneTo) {
  const Device device = GetParam();
  const Iota base = iota({3, 4}, device);
  // contiguous(): the tensor itself when already contiguous, else a copy.
  EXPECT_TRUE(base.t.contiguous().is_same(base.t));
  const Tensor tt = base.t.t();
  EXPECT_FALSE(tt.is_contiguous());
  const Tensor c = tt.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.storage() == base.t.storage());
  EXPECT_TRUE(matches(c, ref_permute(base.ref, {1, 0})));
  // Size-1 dims do not count against contiguity.
  EXPECT_TRUE(base.t.narrow(0, 1, 1).is_contiguous());
  EXPECT_TRUE(base.t.select(1, 2).unsqueeze(1).narrow(0, 0, 1).is_contiguous());
  // clone(): always a new, contiguous buffer, independent of the original.
  Tensor cl = base.t.clone();
  EXPECT_FALSE(cl.storage() == base.t.storage());
  EXPECT_TRUE(matches(cl, base.ref));
  cl.fill_(-1);
  EXPECT_TRUE(matches(base.t, base.ref));
  const Tensor cl2 = base.t.slice(1, 1, 4, 2).clone();
  EXPECT_TRUE(cl2.is_contiguous());
  EXPECT_EQ(cl2.offset(), 0);
  EXPECT_TRUE(matches(cl2, ref_strided(base.ref, {3, 2}, {4, 2}, 1)));
  // to(DType): itself for the same dtype, a converted copy otherwise.
  EXPECT_TRUE(base.t.to(kFloat64).is_same(base.t));
  const Tensor as_int = tt.to(kInt32);
  EXPECT_TRUE(matches(as_int, ref_map(ref_permute(base.ref, {1, 0}), kInt32, [](double v) { return v; })));
  // to(Device): itself on the same device; the CPU copy reads the same values.
  EXPECT_TRUE(base.t.to(device).is_same(base.t));
  const Tensor host = tt.to(Device::cpu());
  EXPECT_TRUE(host.device().is_cpu());
  EXPECT_TRUE(matches(host, ref_permute(base.ref, {1, 0})));
  if (device.is_cuda()) {
    EXPECT_FALSE(host.storage() == base.t.storage());
    EXPECT_TRUE(matches(host.to(device), ref_permute(base.ref, {1, 0})));
    EXPECT_EQ(host.to(device).device(), device);
  } else {
    EXPECT_TRUE(host.is_same(tt));
  }
}

TEST_P(TensorViews, HostAccess) {
  TestRng rng;
  const Device device = GetParam();
  // item: converts; requires exactly one element (any rank).
  EXPECT_EQ(full({}, 2.5, {.device = device}).item<float>(), 2.5f);
  EXPECT_EQ(full({1, 1}, 7, {.dtype = kInt64, .device = device}).item<std::int64_t>(), 7);
  EXPECT_EQ(full({1}, 3.75, {.dtype = kFloat64, .device = device}).item<std::int32_t>(), 3);
  EXPECT_EQ(full({}, 200, {.dtype = kUInt8, .device = device}).item<double>(), 200.0);
  EXPECT_EQ(full({}, true, {.dtype = kBool, .device = device}).item<bool>(), true);
  EXPECT_EQ(full({}, 0.25, {.dtype = kFloat32, .device = device}).item<bool>(), true);  // x != 0
  EXPECT_EQ(full({}, 256, {.dtype = kInt32, .device = device}).item<bool>(), true);
  EXPECT_EQ(from_vector(std::vector<double>{0.5, 0.0, -2.0}, {3}, device).to_vector<bool>(),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(iota({2, 3}, device).t.select(1, 2).select(0, 1).item<double>(), 5.0);
  // to_vector: row-major logical order of any view, converted.
  const Iota base = iota({2, 3}, device);
  EXPECT_EQ(base.t.t().to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(base.t.t().to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(base.t.to_vector<bool>(), (std::vector<bool>{false, true, true, true, true, true}));
  EXPECT_TRUE(empty({0, 5}, {.device = device}).to_vector<float>().empty());
  // from_vector: every dtype round-trips exactly.
  const std::vector<float> f{1.5f, -0.0f, 3.4028235e38f, 1e-45f};
  EXPECT_EQ(from_vector(f, {2, 2}, device).to_vector<float>(), f);
  EXPECT_TRUE(std::signbit(from_vector(f, {4}, device).to_vector<float>()[1]));
  const std::vector<double> d{0.1, -1e308, 5e-324};
  EXPECT_EQ(from_vector(d, {3}, device).to_vector<double>(), d);
  const std::vector<std::int32_t> i32{-2147483647 - 1, 2147483647, 0};
  EXPECT_EQ(from_vector(i32, {3}, device).to_vector<std::int32_t>(), i32);
  const std::vector<std::int64_t> i64{INT64_MIN, INT64_MAX, -1};
  EXPECT_EQ(from_vector(i64, {1, 3}, device).to_vector<std::int64_t>(), i64);
  const std::vector<std::uint8_t> u8{0, 128, 255};
  EXPECT_EQ(from_vector(u8, {3}, device).to_vector<std::uint8_t>(), u8);
  const std::vector<bool> b{true, false, false, true, true};
  EXPECT_EQ(from_vector(b, {5}, device).to_vector<bool>(), b);
  EXPECT_EQ(from_vector(b, {5}, device).dtype(), kBool);
  EXPECT_EQ(from_vector(std::vector<double>{1, 2, 3}).shape(), (Shape{3}));
  // from_blob copies: changing the source later does not change the tensor.
  std::vector<std::int32_t> src{1, 2, 3, 4, 5, 6};
  const Tensor blob = from_blob(src.data(), {3, 2}, kInt32, device);
  src[0] = 100;
  EXPECT_EQ(blob.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(blob.shape(), (Shape{3, 2}));
  EXPECT_EQ(from_blob(nullptr, {0, 3}, kFloat32, device).numel(), 0);
  // data<T>() is typed.
  if (device.is_cpu()) {
    const Tensor x = iota({4}, device).t;
    EXPECT_EQ(x.data<double>()[3], 3.0);
    EXPECT_PARITY_ERROR(x.data<float>(), {"data<float32>:", "float64"});
  }
  // Random values survive the round trip bit for bit.
  const Ref r = random_ref(rng, {64}, kFloat64, -1e6, 1e6);
  EXPECT_TRUE(matches(to_tensor(r, device), r));
}

TEST_P(TensorViews, Factories) {
  const Device device = GetParam();
  for (DType dtype : all_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const TensorOptions o{.dtype = dtype, .device = device};
    const Tensor e = empty({2, 3}, o);
    EXPECT_EQ(e.shape(), (Shape{2, 3}));
    EXPECT_EQ(e.dtype(), dtype);
    EXPECT_EQ(e.device(), device);
    EXPECT_TRUE(e.is_contiguous());
    EXPECT_EQ(e.strides(), (Strides{3, 1}));
    EXPECT_EQ(e.nbytes(), 6 * element_size(dtype));
    EXPECT_TRUE(matches(zeros({2, 3}, o), make_ref({2, 3}, dtype, std::vector<double>(6, 0))));
    EXPECT_TRUE(matches(ones({4}, o), make_ref({4}, dtype, std::vector<double>(4, 1))));
    EXPECT_TRUE(matches(full({3}, 1, o), make_ref({3}, dtype, {1, 1, 1})));
    EXPECT_TRUE(matches(zeros_like(e), make_ref({2, 3}, dtype, std::vector<double>(6, 0))));
    EXPECT_TRUE(matches(ones_like(e), make_ref({2, 3}, dtype, std::vector<double>(6, 1))));
    EXPECT_EQ(empty_like(e).shape(), e.shape());
    EXPECT_EQ(empty_like(e).dtype(), dtype);
    EXPECT_TRUE(matches(eye(3, o), make_ref({3, 3}, dtype, {1, 0, 0, 0, 1, 0, 0, 0, 1})));
    EXPECT_TRUE(matches(eye(2, 3, o), make_ref({2, 3}, dtype, {1, 0, 0, 0, 1, 0})));
    EXPECT_TRUE(matches(eye(3, 2, o), make_ref({3, 2}, dtype, {1, 0, 0, 1, 0, 0})));
    EXPECT_EQ(eye(0, o).shape(), (Shape{0, 0}));
    EXPECT_TRUE(matches(scalar_tensor(1, o), make_ref({}, dtype, {1})));
    if (dtype != kBool) {
      EXPECT_TRUE(matches(arange(5, o), make_ref({5}, dtype, {0, 1, 2, 3, 4})));
      EXPECT_TRUE(matches(arange(2, 11, 3, o), make_ref({3}, dtype, {2, 5, 8})));
      EXPECT_EQ(arange(3, 3, 1, o).numel(), 0);
      EXPECT_EQ(arange(5, 0, 1, o).numel(), 0);
    }
    if (dtype != kUInt8 && dtype != kBool) {
      EXPECT_TRUE(matches(arange(3, -4, -2, o), make_ref({4}, dtype, {3, 1, -1, -3})));
    }
  }
  EXPECT_TRUE(matches(arange(0, 1, 0.25, {.dtype = kFloat64, .device = device}), make_ref({4}, kFloat64, {0, 0.25, 0.5, 0.75})));
  EXPECT_TRUE(matches(full({2}, -2.5, {.dtype = kFloat32, .device = device}), make_ref({2}, kFloat32, {-2.5, -2.5})));
  EXPECT_TRUE(matches(arange(0.5, 2.0, 0.5, {.dtype = kFloat32, .device = device}), make_ref({3}, kFloat32, {0.5, 1, 1.5})));
  // Default options: float32 on the CPU.
  EXPECT_EQ(zeros({1}).dtype(), kFloat32);
  EXPECT_TRUE(zeros({1}).device().is_cpu());
}

TEST_P(TensorViews, VersionCounter) {
  TestRng rng;
  const Device device = GetParam();
  Tensor x = to_tensor(random_ref(rng, {4, 5}, kFloat32, 0.5, 2), device);
  const Tensor view = x.slice(1, 0, 5, 2);
  auto version = [&] { return x.storage()->version(); };
  std::uint64_t v = version();
  // Out-of-place ops, views and reads leave it alone.
  (void)add(x, x);
  (void)sum(x);
  (void)x.t().contiguous();
  (void)x.view({20});
  (void)x.to_vector<float>();
  (void)matmul(x, x.t());
  EXPECT_EQ(version(), v);
  // Each in-place op bumps it once, through any view.
  Tensor y = view;
  const std::vector<std::function<void()>> writes = {
      [&] { x.add_(1); },        [&] { x.sub_(x); },          [&] { x.mul_(2); },
      [&] { x.div_(2.0); },      [&] { x.pow_(2); },          [&] { x.clamp_(0, 1); },
      [&] { x.neg_(); },         [&] { x.abs_(); },           [&] { x.exp_(); },
      [&] { x.log_(); },         [&] { x.sqrt_(); },          [&] { x.relu_(); },
      [&] { x.fill_(3); },       [&] { x.zero_(); },          [&] { x.copy_(ones({5}, {.device = device})); },
      [&] { y.add_(1); },        [&] { y.mul_(ones({3}, {.device = device})); },
      [&] { y.fill_(2); },       [&] { y.copy_(sum(x.slice(1, 1, 5, 2), {1}, true)); },
  };
  for (std::size_t i = 0; i < writes.size(); ++i) {
    writes[i]();
    EXPECT_EQ(version(), ++v) << "write #" << i;
    EXPECT_EQ(view.storage()->version(), v);
  }
  // A clone has its own counter.
  Tensor c = x.clone();
  const std::uint64_t cv = c.storage()->version();
  c.add_(1);
  EXPECT_EQ(c.storage()->version(), cv + 1);
  EXPECT_EQ(version(), v);
}

// ---- printing ----

class Printing : public ::testing::TestWithParam<Device> {
 protected:
  // The expected string, with the device suffix a non-CPU tensor prints.
  std::string expected(std::string s) const {
    if (!GetParam().is_cpu()) s.insert(s.size() - 1, ", device=" + GetParam().str());
    return s;
  }
  static std::string str(const Tensor& t) {
    std::ostringstream out;
    out << t;
    return out.str();
  }
};
INSTANTIATE_TEST_SUITE_P(Devices, Printing, ::testing::ValuesIn(test_devices()), device_name);

TEST_P(Printing, SmallTensorsOfEachDtype) {
  const Device dev = GetParam();
  EXPECT_EQ(str(arange(1, 7, 1, {.device = dev}).view({2, 3})),
            expected("tensor([[1., 2., 3.],\n"
                     "        [4., 5., 6.]], dtype=float32)"));
  EXPECT_EQ(str(from_vector(std::vector<double>{0.5, -1.25, 3}, {3}, dev)),
            expected("tensor([ 0.5000, -1.2500,  3.0000], dtype=float64)"));
  EXPECT_EQ(str(from_vector(std::vector<std::int32_t>{1, -20, 300, 4}, {2, 2}, dev)),
            expected("tensor([[  1, -20],\n"
                     "        [300,   4]], dtype=int32)"));
  EXPECT_EQ(str(arange(5, {.dtype = kInt64, .device = dev})), expected("tensor([0, 1, 2, 3, 4], dtype=int64)"));
  EXPECT_EQ(str(from_vector(std::vector<std::uint8_t>{0, 255, 7}, {3}, dev)),
            expected("tensor([  0, 255,   7], dtype=uint8)"));
  EXPECT_EQ(str(from_vector(std::vector<bool>{true, false}, {2}, dev)), expected("tensor([ True, False], dtype=bool)"));
  EXPECT_EQ(str(full({}, 3.5, {.device = dev})), expected("tensor(3.5000, dtype=float32)"));
  EXPECT_EQ(str(full({}, -7, {.dtype = kInt64, .device = dev})), expected("tensor(-7, dtype=int64)"));
  EXPECT_EQ(str(empty({0, 3}, {.device = dev})), expected("tensor([], shape=[0, 3], dtype=float32)"));
  EXPECT_EQ(str(from_vector(std::vector<float>{1, NAN, -INFINITY}, {3}, dev)),
            expected("tensor([  1.,  nan, -inf], dtype=float32)"));
  EXPECT_EQ(str(arange(8, {.dtype = kInt64, .device = dev}).view({2, 2, 2})),
            expected("tensor([[[0, 1],\n"
                     "         [2, 3]],\n"
                     "\n"
                     "        [[4, 5],\n"
                     "         [6, 7]]], dtype=int64)"));
  // A view prints its logical values.
  EXPECT_EQ(str(arange(6, {.dtype = kInt32, .device = dev}).view({2, 3}).t()),
            expected("tensor([[0, 3],\n"
                     "        [1, 4],\n"
                     "        [2, 5]], dtype=int32)"));
  std::ostringstream undefined;
  undefined << Tensor();
  EXPECT_EQ(undefined.str(), "tensor(undefined)");
}

TEST_P(Printing, LargeTensorsAreTruncated) {
  const Device dev = GetParam();
  EXPECT_EQ(str(arange(2000, {.dtype = kInt64, .device = dev})),
            expected("tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int64)"));
  EXPECT_EQ(str(arange(1100, {.dtype = kInt64, .device = dev}).view({100, 11})),
            expected("tensor([[   0,    1,    2, ...,    8,    9,   10],\n"
                     "        [  11,   12,   13, ...,   19,   20,   21],\n"
                     "        [  22,   23,   24, ...,   30,   31,   32],\n"
                     "        ...,\n"
                     "        [1067, 1068, 1069, ..., 1075, 1076, 1077],\n"
                     "        [1078, 1079, 1080, ..., 1086, 1087, 1088],\n"
                     "        [1089, 1090, 1091, ..., 1097, 1098, 1099]], dtype=int64)"));
  // Up to 1000 elements print in full.
  const std::string full_print = str(arange(1000, {.dtype = kInt32, .device = dev}));
  EXPECT_EQ(full_print.find("..."), std::string::npos);
  EXPECT_NE(full_print.find(" 500, "), std::string::npos);
  // Truncation keeps three items at each end of every dim.
  const std::string cube = str(ones({20, 20, 20}, {.dtype = kFloat64, .device = dev}));
  EXPECT_NE(cube.find("..."), std::string::npos);
  EXPECT_LT(cube.size(), 2000u);
}

}  // namespace
}  // namespace parity::testing
