// max_pool2d, avg_pool2d and pool2d_backward against a naive reference written
// here: pool sizes with and without explicit strides, TensorFlow's "same"
// (asymmetric for even windows), asymmetric explicit padding,
// count_include_pad both ways, both layouts, float32 and float64; gradcheck;
// Note [Max-pool ties] (the first maximum in row-major window order takes the
// gradient); NaN and -infinity; non-contiguous operands (channel-sliced,
// strided, transposed), forward and backward, against their contiguous
// copies; determinism; the error messages.
//
// The reference works in NCHW and long double; NHWC tensors get the same
// values permuted. Tolerance: max pooling's forward is exact (a copy); a sum of
// m terms may err by m eps sum|terms| (average: the window's kh*kw terms and
// the division; gradients: the overlapping windows' contributions).
#include <parity/autograd/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "noncontiguous.h"
#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;
using Inputs = std::vector<Tensor>;

class Pool : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, Pool, ::testing::ValuesIn(test_devices()), device_name);

struct Geo {
  i64 n, c, h, w, kh, kw, sh, sw, pt = 0, pb = 0, pl = 0, pr = 0, oh = 0, ow = 0;
};

void resolve_axis(i64 in, i64 k, i64 s, const Padding& pad, i64 before, i64 after, i64& pb, i64& pa,
                  i64& out) {
  if (pad.kind == Padding::Kind::Same) {  // TensorFlow: smaller half before
    out = (in + s - 1) / s;
    const i64 total = std::max<i64>((out - 1) * s + k - in, 0);
    pb = total / 2;
    pa = total - pb;
    return;
  }
  pb = pad.kind == Padding::Kind::Explicit ? before : 0;
  pa = pad.kind == Padding::Kind::Explicit ? after : 0;
  out = (in + pb + pa - k) / s + 1;
}

Geo make_geo(i64 n, i64 c, i64 h, i64 w, const Pool2dOptions& o) {
  const auto stride = o.stride.value_or(o.pool);
  Geo g{n, c, h, w, o.pool[0], o.pool[1], stride[0], stride[1]};
  resolve_axis(h, g.kh, g.sh, o.padding, o.padding.top, o.padding.bottom, g.pt, g.pb, g.oh);
  resolve_axis(w, g.kw, g.sw, o.padding, o.padding.left, o.padding.right, g.pl, g.pr, g.ow);
  return g;
}

Ref image_to(const Ref& nchw, Layout layout) {
  return layout == Layout::NCHW ? nchw : ref_permute(nchw, {0, 2, 3, 1});
}
Ref with_dtype(Ref r, DType dtype) {
  r.dtype = dtype;
  return r;
}

struct RefPool {
  Ref y, y_abs, dx, dx_abs;
  i64 max_overlap = 1;  // windows covering one input element, at most
};

// NCHW reference; dy optional.
RefPool ref_pool(PoolKind kind, const Geo& g, const Ref& x, bool count_include_pad, const Ref* dy) {
  const Shape ys{g.n, g.c, g.oh, g.ow}, xs{g.n, g.c, g.h, g.w};
  auto zero = [](const Shape& s) { return Ref{s, kFloat64, std::vector<double>(ref_numel(s), 0.0)}; };
  RefPool r{zero(ys), zero(ys), zero(xs), zero(xs)};
  std::vector<long double> dx(ref_numel(xs), 0.0L);
  std::vector<i64> overlap(ref_numel(xs), 0);
  for (i64 n = 0; n < g.n; ++n)
    for (i64 c = 0; c < g.c; ++c)
      for (i64 i = 0; i < g.oh; ++i)
        for (i64 j = 0; j < g.ow; ++j) {
          const i64 yi = ((n * g.c + c) * g.oh + i) * g.ow + j;
          long double sum = 0, abs = 0;
          double best = 0;
          i64 arg = -1, inside = 0, padded = 0;
          std::vector<i64> members;
          for (i64 p = 0; p < g.kh; ++p)
            for (i64 q = 0; q < g.kw; ++q) {
              const i64 ih = i * g.sh + p - g.pt, iw = j * g.sw + q - g.pl;
              if (ih >= -g.pt && ih < g.h + g.pb && iw >= -g.pl && iw < g.w + g.pr) ++padded;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              const i64 xi = ((n * g.c + c) * g.h + ih) * g.w + iw;
              const double v = x.v[xi];
              ++inside;
              members.push_back(xi);
              ++overlap[xi];
              sum += v;
              abs += std::abs(v);
              // The first maximum; the first NaN beats any number.
              if (arg < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                best = v;
                arg = xi;
              }
            }
          const long double gy = dy ? dy->v[yi] : 0.0L;
          if (kind == PoolKind::Max) {
            r.y.v[yi] = best;
            if (dy) {
              dx[arg] += gy;
              r.dx_abs.v[arg] += std::abs(static_cast<double>(gy));
            }
          } else {
            const i64 divisor = count_include_pad ? padded : inside;
            r.y.v[yi] = static_cast<double>(sum / divisor);
            r.y_abs.v[yi] = static_cast<double>(abs / divisor);
            for (i64 xi : members) {
              dx[xi] += gy / divisor;
              r.dx_abs.v[xi] += std::abs(static_cast<double>(gy / divisor));
            }
          }
        }
  for (std::size_t i = 0; i < dx.size(); ++i) r.dx.v[i] = static_cast<double>(dx[i]);
  for (i64 o : overlap) r.max_overlap = std::max(r.max_overlap, o);
  return r;
}

struct Case {
  std::string name;
  i64 n, c, h, w;
  Pool2dOptions opts;  // layout and count_include_pad are set by the loops
};

std::vector<Case> cases() {
  return {
      {"2x2, stride = pool, odd width", 2, 3, 6, 7, {}},
      {"4x4 (the seed model's)", 1, 5, 9, 12, {.pool = {4, 4}}},
      {"3x3, stride 2, same",
       2,
       2,
       7,
       8,
       {.pool = {3, 3}, .stride = std::array<i64, 2>{2, 2}, .padding = Padding::same()}},
      {"2x3, stride 1, same (asymmetric pads)",
       1,
       3,
       5,
       6,
       {.pool = {2, 3}, .stride = std::array<i64, 2>{1, 1}, .padding = Padding::same()}},
      {"3x3, stride (1, 2), explicit (1, 0, 2, 1)",
       2,
       2,
       6,
       7,
       {.pool = {3, 3}, .stride = std::array<i64, 2>{1, 2}, .padding = Padding::explicit_pads(1, 0, 2, 1)}},
      {"67 channels (more than one NHWC channel block), 3x3 stride 1",
       1,
       67,
       5,
       5,
       {.pool = {3, 3}, .stride = std::array<i64, 2>{1, 1}, .padding = Padding::symmetric(1, 1)}},
  };
}

const std::vector<Layout> kLayouts{Layout::NHWC, Layout::NCHW};

TEST_P(Pool, MatchesReference) {
  TestRng rng;
  const Device device = GetParam();
  for (const Case& k : cases()) {
    const Geo g = make_geo(k.n, k.c, k.h, k.w, k.opts);
    const Ref x = random_ref(rng, {g.n, g.c, g.h, g.w}, kFloat32, -1, 1);
    const Ref dy = random_ref(rng, {g.n, g.c, g.oh, g.ow}, kFloat32, -1, 1);
    for (PoolKind kind : {PoolKind::Max, PoolKind::Average})
      for (bool include_pad : {false, true}) {
        if (kind == PoolKind::Max && include_pad) continue;
        const RefPool want = ref_pool(kind, g, x, include_pad, &dy);
        for (Layout l : kLayouts)
          for (DType dtype : float_dtypes()) {
            SCOPED_TRACE(k.name + ", " + std::string(name(kind)) + ", " + std::string(name(l)) + ", " +
                         std::string(name(dtype)) + (include_pad ? ", count_include_pad" : ""));
            Pool2dOptions o = k.opts;
            o.layout = l;
            o.count_include_pad = include_pad;
            const Tensor tx = to_tensor(with_dtype(image_to(x, l), dtype), device);
            const Tensor tdy = to_tensor(with_dtype(image_to(dy, l), dtype), device);
            EXPECT_EQ(pool2d_output_shape(tx.shape(), o), image_to(want.y, l).shape);
            const Tensor y = pool2d(kind, tx, o);
            const Ref y_want = with_dtype(image_to(want.y, l), dtype);
            if (kind == PoolKind::Max)
              EXPECT_TRUE(matches(y, y_want, exact()));
            else
              EXPECT_TRUE(
                  matches(y, y_want, sum_of_products_bound(image_to(want.y_abs, l), g.kh * g.kw + 1, dtype)));
            const Tensor dx = pool2d_backward(kind, kind == PoolKind::Max ? tx : Tensor(),
                                              kind == PoolKind::Max ? y : Tensor(), tdy, tx.shape(), o);
            EXPECT_TRUE(matches(dx, with_dtype(image_to(want.dx, l), dtype),
                                sum_of_products_bound(image_to(want.dx_abs, l), want.max_overlap + 1, dtype)))
                << "backward";
          }
      }
  }
}

// Inputs of distinct values at least 0.05 apart, so no finite-difference step
// changes a window's winner.
Tensor distinct_values(const Shape& shape, std::mt19937_64& engine, Device device) {
  std::vector<double> v(static_cast<std::size_t>(ref_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.05 * static_cast<double>(i) - 1.0;
  std::shuffle(v.begin(), v.end(), engine);
  return from_vector(v, shape, device);
}

TEST_P(Pool, Gradcheck) {
  TestRng rng;
  const Device device = GetParam();
  for (const Case& k : cases()) {
    for (Layout l : kLayouts)
      for (PoolKind kind : {PoolKind::Max, PoolKind::Average})
        for (bool include_pad : {false, true}) {
          if (kind == PoolKind::Max && include_pad) continue;
          SCOPED_TRACE(k.name + ", " + std::string(name(kind)) + ", " + std::string(name(l)) +
                       (include_pad ? ", count_include_pad" : ""));
          Pool2dOptions o = k.opts;
          o.layout = l;
          o.count_include_pad = include_pad;
          const i64 c = std::min<i64>(k.c, 3);
          const Shape xs = l == Layout::NHWC ? Shape{k.n, k.h, k.w, c} : Shape{k.n, c, k.h, k.w};
          EXPECT_GRADCHECK([kind, o](const Inputs& in) { return pool2d(kind, in[0], o); },
                           {distinct_values(xs, rng.engine(), device).requires_grad_()});
        }
  }
}

// Note [Max-pool ties]: the first maximum in row-major window order takes the whole gradient.
TEST_P(Pool, MaxTiesGoToTheFirstMaximum) {
  const Device device = GetParam();
  if (!device.is_cpu()) GTEST_SKIP() << "which tied element cuDNN picks is cuDNN's (Note [Max-pool ties])";
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const TensorOptions opts{.dtype = dtype, .device = device};
    // All equal, 2x2 windows without overlap: each window's top-left element.
    {
      const Tensor x = ones({1, 4, 4, 1}, opts).requires_grad_();
      const Tensor y = max_pool2d(x);
      y.backward(ones_like(y));
      EXPECT_EQ(x.grad().to_vector<double>(),
                (std::vector<double>{1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}));
    }
    // All equal, overlapping 2x2 windows at stride 1: each window's top-left, summed.
    {
      const Tensor x = ones({1, 1, 3, 3}, opts);
      const Pool2dOptions o{.pool = {2, 2}, .stride = std::array<i64, 2>{1, 1}, .layout = Layout::NCHW};
      const Tensor y = max_pool2d(x, o);
      const Tensor dx = pool2d_backward(PoolKind::Max, x, y, full(y.shape(), 2.0, opts), x.shape(), o);
      EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{2, 2, 0, 2, 2, 0, 0, 0, 0}));
    }
    // A tie at (0, 1) and (1, 0): row-major order puts (0, 1) first.
    {
      const Tensor x = from_vector(std::vector<double>{0, 5, 5, 1}, {1, 2, 2, 1}).to(dtype).to(device);
      const Tensor y = max_pool2d(x);
      const Tensor dx = pool2d_backward(PoolKind::Max, x, y, ones_like(y), x.shape(), {});
      EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 1, 0, 0}));
    }
    // Padding never wins, even against -infinity.
    {
      const double inf = std::numeric_limits<double>::infinity();
      const Tensor x =
          from_vector(std::vector<double>{-inf, -inf, -inf, -inf}, {1, 1, 2, 2}).to(dtype).to(device);
      const Pool2dOptions o{.pool = {2, 2},
                            .stride = std::array<i64, 2>{1, 1},
                            .padding = Padding::same(),
                            .layout = Layout::NCHW};
      const Tensor y = max_pool2d(x, o);
      EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-inf, -inf, -inf, -inf}));
      const Tensor dx = pool2d_backward(PoolKind::Max, x, y, ones_like(y), x.shape(), o);
      // Windows at (0,0) (0,1) (1,0) (1,1) start at x (0,0), (0,1), (1,0), (1,1): one gradient each.
      EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{1, 1, 1, 1}));
    }
  }
}

// A NaN in a window is its maximum (the first NaN takes the gradient); average pooling propagates it.
TEST_P(Pool, NaNPropagates) {
  const Device device = GetParam();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    // NCHW 1x1x2x4, 2x2 windows: [[1, NaN, 3, 4], [NaN, 2, 0, 9]].
    const Tensor x =
        from_vector(std::vector<double>{1, nan, 3, 4, nan, 2, 0, 9}, {1, 1, 2, 4}).to(dtype).to(device);
    const Pool2dOptions o{.layout = Layout::NCHW};
    const Tensor y = max_pool2d(x, o);
    const std::vector<double> yv = y.to_vector<double>();
    ASSERT_EQ(yv.size(), 2u);
    EXPECT_TRUE(std::isnan(yv[0]));
    EXPECT_EQ(yv[1], 9);
    const Tensor dx = pool2d_backward(PoolKind::Max, x, y, ones_like(y), x.shape(), o);
    if (device.is_cpu()) EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 1, 0, 0, 0, 0, 0, 1}));
    const std::vector<double> av = avg_pool2d(x, o).to_vector<double>();
    EXPECT_TRUE(std::isnan(av[0]));
    EXPECT_EQ(av[1], 4);
  }
}

// count_include_pad: divide by the real elements (TensorFlow, Keras) or by the whole window (PyTorch).
TEST_P(Pool, CountIncludePad) {
  const Device device = GetParam();
  for (Layout l : kLayouts) {
    SCOPED_TRACE(std::string(name(l)));
    const Shape xs = l == Layout::NHWC ? Shape{1, 3, 3, 1} : Shape{1, 1, 3, 3};
    const Tensor x = ones(xs, {.dtype = kFloat64, .device = device});
    Pool2dOptions o{
        .pool = {3, 3}, .stride = std::array<i64, 2>{1, 1}, .padding = Padding::same(), .layout = l};
    EXPECT_EQ(avg_pool2d(x, o).to_vector<double>(), std::vector<double>(9, 1.0));
    const Tensor dy = ones(xs, {.dtype = kFloat64, .device = device});
    // Corner x(0,0) lies in 4 windows: the corner one (4 real elements), two edge ones (6), the center one
    // (9).
    const double corner = 1.0 / 4 + 2.0 / 6 + 1.0 / 9;
    EXPECT_NEAR(
        pool2d_backward(PoolKind::Average, Tensor(), Tensor(), dy, x.shape(), o).to_vector<double>()[0],
        corner, 1e-15);
    o.count_include_pad = true;
    const double c = 4.0 / 9, e = 6.0 / 9;
    const std::vector<double> want{c, e, c, e, 1, e, c, e, c};
    const std::vector<double> got = avg_pool2d(x, o).to_vector<double>();
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(got[i], want[i], 1e-15) << i;
    EXPECT_NEAR(
        pool2d_backward(PoolKind::Average, Tensor(), Tensor(), dy, x.shape(), o).to_vector<double>()[0],
        4.0 / 9, 1e-15);
  }
}

// Every operand of the forward and of pool2d_backward (the input, the
// forward's output, grad_output) may be a view: a channel slice, a strided
// view, another layout's storage permuted. The result must be the contiguous
// copies' result, bit for bit.
TEST_P(Pool, NonContiguousOperandsGiveTheContiguousCopysResult) {
  TestRng rng;
  const Device device = GetParam();
  const std::vector<Pool2dOptions> options = {
      {}, {.pool = {3, 2}, .stride = std::array<i64, 2>{2, 1}, .padding = Padding::same()}};
  for (const Pool2dOptions& base : options)
    for (Layout l : kLayouts)
      for (PoolKind kind : {PoolKind::Max, PoolKind::Average}) {
        Pool2dOptions o = base;
        o.layout = l;
        SCOPED_TRACE(std::string(name(l)) + ", " + std::string(name(kind)) + ", pool " +
                     std::to_string(o.pool[0]) + "x" + std::to_string(o.pool[1]));
        const bool nhwc = l == Layout::NHWC;
        const Shape xs = nhwc ? Shape{2, 6, 7, 3} : Shape{2, 3, 6, 7};
        const int c = nhwc ? 3 : 1, h = nhwc ? 1 : 2, w = nhwc ? 2 : 3;
        const Tensor x = to_tensor(random_ref(rng, xs, kFloat32, -1, 1), device);
        const Tensor y = pool2d(kind, x, o);
        const Tensor dy = to_tensor(random_ref(rng, y.shape(), kFloat32, -1, 1), device);
        const bool is_max = kind == PoolKind::Max;
        const Tensor dx = pool2d_backward(kind, is_max ? x : Tensor(), is_max ? y : Tensor(), dy, xs, o);
        for (const Variant& v : non_contiguous_4d(x, c, h, w)) {
          SCOPED_TRACE("input " + v.name);
          ASSERT_FALSE(v.t.is_contiguous());
          EXPECT_TRUE(same_bits(pool2d(kind, v.t, o), y)) << "forward";
          if (is_max) EXPECT_TRUE(same_bits(pool2d_backward(kind, v.t, y, dy, xs, o), dx)) << "backward";
        }
        for (const Variant& v : non_contiguous_4d(dy, c, h, w)) {
          SCOPED_TRACE("grad_output " + v.name);
          ASSERT_FALSE(v.t.is_contiguous());
          EXPECT_TRUE(
              same_bits(pool2d_backward(kind, is_max ? x : Tensor(), is_max ? y : Tensor(), v.t, xs, o), dx))
              << "backward";
          if (is_max) {  // the forward's output as a view too
            EXPECT_TRUE(same_bits(
                pool2d_backward(kind, x, v.name == "transposed" ? transposed_storage(y) : sliced_along(y, c),
                                v.t, xs, o),
                dx))
                << "backward with the forward's output a view";
          }
        }
        // Through autograd, from a view of a leaf: the node saves the view.
        Tensor leaf = to_tensor(to_ref(x), device).requires_grad_();
        const Tensor view = transposed_storage(leaf);
        ASSERT_FALSE(view.is_contiguous());
        const Tensor y_view = pool2d(kind, view, o);
        EXPECT_TRUE(same_bits(y_view, y)) << "forward through autograd";
        y_view.backward(strided_along(dy, {h}));
        EXPECT_TRUE(same_bits(leaf.grad(), dx)) << "autograd";
      }
}

// Same inputs, same bits: twice, and with one OpenMP thread and with all of them.
TEST_P(Pool, Deterministic) {
  TestRng rng;
  const Device device = GetParam();
  for (Layout l : kLayouts)
    for (PoolKind kind : {PoolKind::Max, PoolKind::Average}) {
      SCOPED_TRACE(std::string(name(l)) + ", " + std::string(name(kind)));
      const Pool2dOptions o{
          .pool = {3, 3}, .stride = std::array<i64, 2>{1, 1}, .padding = Padding::same(), .layout = l};
      const Shape xs = l == Layout::NHWC ? Shape{3, 20, 21, 70} : Shape{3, 70, 20, 21};
      const Tensor x = to_tensor(random_ref(rng, xs, kFloat32, -1, 1), device);
      const Tensor dy = to_tensor(random_ref(rng, pool2d_output_shape(xs, o), kFloat32, -1, 1), device);
      auto run = [&] {
        const Tensor y = pool2d(kind, x, o);
        return std::vector<Tensor>{y, pool2d_backward(kind, x, y, dy, xs, o)};
      };
      expect_deterministic(run, Threads::Vary);
    }
}

TEST_P(Pool, Errors) {
  const Device device = GetParam();
  const TensorOptions f32{.dtype = kFloat32, .device = device};
  const Tensor x = ones({1, 3, 3, 2}, f32);
  EXPECT_PARITY_ERROR(max_pool2d(x, {.pool = {4, 4}}), {"max_pool2d", "larger than", "[1, 3, 3, 2]"});
  EXPECT_PARITY_ERROR(avg_pool2d(x, {.pool = {2, 4}}), {"avg_pool2d", "larger than", "[1, 3, 3, 2]"});
  EXPECT_PARITY_ERROR(max_pool2d(ones({3, 3, 2}, f32)), {"max_pool2d", "4-D input", "[3, 3, 2]"});
  EXPECT_PARITY_ERROR(max_pool2d(x, {.stride = std::array<i64, 2>{0, 1}}),
                      {"max_pool2d", "stride", "(0, 1)"});
  EXPECT_PARITY_ERROR(max_pool2d(x, {.pool = {0, 2}}), {"max_pool2d", "window", "0x2"});
  EXPECT_PARITY_ERROR(max_pool2d(x, {.padding = Padding::parse("sme")}), {"sme", "valid", "same"});
  EXPECT_PARITY_ERROR(avg_pool2d(x, {.padding = Padding::symmetric(2, 0)}),
                      {"avg_pool2d", "explicit(2, 2, 0, 0)", "smaller than the window"});
  EXPECT_PARITY_ERROR(max_pool2d(ones({1, 3, 3, 2}, {.dtype = kInt32, .device = device})),
                      {"max_pool2d", "int32"});
  const Tensor y = max_pool2d(ones({1, 4, 4, 2}, f32));
  EXPECT_PARITY_ERROR(
      pool2d_backward(PoolKind::Max, ones({1, 4, 4, 2}, f32), y, ones({1, 2, 3, 2}, f32), {1, 4, 4, 2}, {}),
      {"max_pool2d_backward", "[1, 2, 2, 2]", "[1, 2, 3, 2]"});
  EXPECT_PARITY_ERROR(
      pool2d_backward(PoolKind::Max, ones({1, 4, 4, 2}, {.dtype = kFloat64, .device = device}), y,
                      ones({1, 2, 2, 2}, f32), {1, 4, 4, 2}, {}),
      {"max_pool2d_backward", "float64", "float32"});
}

}  // namespace
}  // namespace parity::testing
