// conv2d and its gradient ops against a naive reference written here: stride,
// dilation, asymmetric explicit padding, TensorFlow's "same" (even kernels,
// stride 2), 1x1 kernels, both image layouts, both kernel layouts, both
// modes, with and without bias, batch 1 and 3, float32 and float64; gradcheck
// of every option combination; the mode/flip and layout/permute identities;
// a case large enough for the CPU's im2col to run in several chunks;
// determinism; non-contiguous operands (channel-sliced, strided, transposed),
// forward and backward, against their contiguous copies; and the error messages.
//
// The reference works in one logical order (NCHW images, OIHW kernels,
// cross-correlation) in long double; the tensors under test get the same values
// permuted to their layouts, and Convolution mode is checked against the
// reference run with the kernel flipped. Inputs are float32 values, so the same
// reference serves both dtypes.
//
// Tolerance: any order of summing m products errs by at most about
// m eps sum|products| (gamma_m, doubled for room; as tests/test_ops_matmul.cpp).
// m counts every term of the element's sum (forward: c*kh*kw products plus the
// bias; dx: cout*kh*kw; dw and dbias: n*oh*ow). Far below the error of any
// wrong index, flip or pad, which is of the order of sum|products| itself.
#include <parity/autograd/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "parity/cpu/conv_onednn.h"
#include "noncontiguous.h"
#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;
using Inputs = std::vector<Tensor>;

// Each device, and on the CPU each algorithm (parity/tensor/context.h): im2col + GEMM,
// and oneDNN where Parity is built with it (float64 runs on im2col for both).
struct ConvTarget {
  Device device;
  CpuConvAlgorithm algorithm;
};
std::vector<ConvTarget> conv_targets() {
  std::vector<ConvTarget> targets{{Device::cpu(), CpuConvAlgorithm::Im2colGemm}};
  {
    CpuConvAlgorithmGuard onednn(CpuConvAlgorithm::OneDnn);
    if (cpu_conv_algorithm_used(kFloat32) == CpuConvAlgorithm::OneDnn)
      targets.push_back({Device::cpu(), CpuConvAlgorithm::OneDnn});
  }
  for (const Device& d : test_devices())
    if (!d.is_cpu()) targets.push_back({d, CpuConvAlgorithm::OneDnn});
  return targets;
}
std::string target_name(const ::testing::TestParamInfo<ConvTarget>& info) {
  const Device& d = info.param.device;
  return d.is_cpu() ? (info.param.algorithm == CpuConvAlgorithm::OneDnn ? "cpu_onednn" : "cpu")
                    : "cuda" + std::to_string(d.index);
}

class Conv : public ::testing::TestWithParam<ConvTarget> {
 protected:
  // The algorithm of this instance, for the whole test.
  CpuConvAlgorithmGuard algorithm_{GetParam().algorithm};
};
INSTANTIATE_TEST_SUITE_P(Devices, Conv, ::testing::ValuesIn(conv_targets()), target_name);

// ---- the test's own geometry (TensorFlow's rule for "same") ----

struct Geo {
  i64 n, c, h, w, co, kh, kw, sh, sw, dh, dw, pt = 0, pb = 0, pl = 0, pr = 0, oh = 0, ow = 0;
};

void resolve_axis(i64 in, i64 k, i64 s, i64 d, const Padding& pad, i64 before, i64 after, i64& pb, i64& pa,
                  i64& out) {
  const i64 extent = (k - 1) * d + 1;
  if (pad.kind == Padding::Kind::Same) {
    out = (in + s - 1) / s;
    const i64 total = std::max<i64>((out - 1) * s + extent - in, 0);
    pb = total / 2;
    pa = total - pb;
    return;
  }
  pb = pad.kind == Padding::Kind::Explicit ? before : 0;
  pa = pad.kind == Padding::Kind::Explicit ? after : 0;
  out = (in + pb + pa - extent) / s + 1;
}

Geo make_geo(i64 n, i64 c, i64 h, i64 w, i64 co, i64 kh, i64 kw, const Conv2dOptions& o) {
  Geo g{n, c, h, w, co, kh, kw, o.stride[0], o.stride[1], o.dilation[0], o.dilation[1]};
  resolve_axis(h, kh, g.sh, g.dh, o.padding, o.padding.top, o.padding.bottom, g.pt, g.pb, g.oh);
  resolve_axis(w, kw, g.sw, g.dw, o.padding, o.padding.left, o.padding.right, g.pl, g.pr, g.ow);
  return g;
}

// ---- layout conversions of logical refs (x, y: NCHW; kernel: OIHW) ----

Ref image_to(const Ref& nchw, Layout layout) {
  return layout == Layout::NCHW ? nchw : ref_permute(nchw, {0, 2, 3, 1});
}
Ref kernel_to(const Ref& oihw, KernelLayout kl) {
  return kl == KernelLayout::OIHW ? oihw : ref_permute(oihw, {2, 3, 1, 0});
}
// The kernel flipped in both spatial dims.
Ref flip(const Ref& oihw) {
  Ref out = oihw;
  const i64 kh = oihw.shape[2], kw = oihw.shape[3];
  for (i64 i = 0; i < oihw.numel(); ++i) {
    const i64 q = i % kw, p = (i / kw) % kh, base = i - p * kw - q;
    out.v[i] = oihw.v[base + (kh - 1 - p) * kw + (kw - 1 - q)];
  }
  return out;
}
Ref with_dtype(Ref r, DType dtype) {
  r.dtype = dtype;
  return r;
}

// ---- the reference (cross-correlation, logical order, long double) ----

struct RefConv {
  Ref y, y_abs;                            // forward
  Ref dx, dx_abs, dw, dw_abs, db, db_abs;  // adjoints for a given dy
};

// y = xcorr(x, w) + bias; with dy, also dx, dw, db. abs: sum of |terms| per element.
RefConv ref_conv(const Geo& g, const Ref& x, const Ref& w, const Ref* bias, const Ref* dy) {
  const Shape ys{g.n, g.co, g.oh, g.ow}, xs{g.n, g.c, g.h, g.w}, ws{g.co, g.c, g.kh, g.kw};
  auto zero = [](const Shape& s) { return Ref{s, kFloat64, std::vector<double>(ref_numel(s), 0.0)}; };
  RefConv r{zero(ys), zero(ys), zero(xs), zero(xs), zero(ws), zero(ws), zero({g.co}), zero({g.co})};
  std::vector<long double> y(ref_numel(ys)), dx(ref_numel(xs)), dw(ref_numel(ws)), db(g.co);
  for (i64 n = 0; n < g.n; ++n)
    for (i64 o = 0; o < g.co; ++o)
      for (i64 i = 0; i < g.oh; ++i)
        for (i64 j = 0; j < g.ow; ++j) {
          const i64 yi = ((n * g.co + o) * g.oh + i) * g.ow + j;
          long double acc = bias ? bias->v[o] : 0.0L, abs = bias ? std::abs(bias->v[o]) : 0.0L;
          const long double gy = dy ? dy->v[yi] : 0.0L;
          if (dy) {
            db[o] += gy;
            r.db_abs.v[o] += std::abs(static_cast<double>(gy));
          }
          for (i64 c = 0; c < g.c; ++c)
            for (i64 p = 0; p < g.kh; ++p)
              for (i64 q = 0; q < g.kw; ++q) {
                const i64 ih = i * g.sh + p * g.dh - g.pt, iw = j * g.sw + q * g.dw - g.pl;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                const i64 xi = ((n * g.c + c) * g.h + ih) * g.w + iw,
                          wi = ((o * g.c + c) * g.kh + p) * g.kw + q;
                const long double prod = static_cast<long double>(x.v[xi]) * w.v[wi];
                acc += prod;
                abs += std::abs(prod);
                if (dy) {
                  dx[xi] += gy * w.v[wi];
                  r.dx_abs.v[xi] += static_cast<double>(std::abs(gy * w.v[wi]));
                  dw[wi] += gy * x.v[xi];
                  r.dw_abs.v[wi] += static_cast<double>(std::abs(gy * x.v[xi]));
                }
              }
          y[yi] = acc;
          r.y_abs.v[yi] = static_cast<double>(abs);
        }
  for (std::size_t i = 0; i < y.size(); ++i) r.y.v[i] = static_cast<double>(y[i]);
  for (std::size_t i = 0; i < dx.size(); ++i) r.dx.v[i] = static_cast<double>(dx[i]);
  for (std::size_t i = 0; i < dw.size(); ++i) r.dw.v[i] = static_cast<double>(dw[i]);
  for (std::size_t i = 0; i < db.size(); ++i) r.db.v[i] = static_cast<double>(db[i]);
  return r;
}

// ---- the cases ----

struct Case {
  std::string name;
  i64 n, c, h, w, co, kh, kw;
  Conv2dOptions opts;  // layout, kernel_layout and mode are set by the loops
};

std::vector<Case> cases() {
  return {
      {"3x3 valid", 1, 3, 7, 6, 4, 3, 3, {}},
      {"stride 2", 3, 2, 9, 8, 5, 3, 2, {.stride = {2, 2}}},
      {"dilation 2", 1, 3, 9, 10, 2, 3, 3, {.dilation = {2, 2}}},
      {"asymmetric explicit padding, stride (1, 2)",
       3,
       2,
       6,
       7,
       3,
       3,
       3,
       {.stride = {1, 2}, .padding = Padding::explicit_pads(1, 2, 0, 3)}},
      {"same, even kernel 4x2, stride 2",
       3,
       2,
       7,
       9,
       3,
       4,
       2,
       {.stride = {2, 2}, .padding = Padding::same()}},
      {"same, 3x3, stride 1", 1, 3, 5, 6, 2, 3, 3, {.padding = Padding::same()}},
      {"1x1", 3, 5, 4, 3, 3, 1, 1, {}},
      {"1x1, stride 2, padded", 1, 4, 5, 5, 2, 1, 1, {.stride = {2, 2}, .padding = Padding::symmetric(1, 1)}},
      {"stride, dilation and padding",
       3,
       2,
       11,
       9,
       2,
       2,
       3,
       {.stride = {2, 1}, .padding = Padding::explicit_pads(2, 0, 1, 2), .dilation = {2, 3}}},
  };
}

const std::vector<Layout> kLayouts{Layout::NHWC, Layout::NCHW};
const std::vector<KernelLayout> kKernelLayouts{KernelLayout::HWIO, KernelLayout::OIHW};
const std::vector<ConvMode> kModes{ConvMode::CrossCorrelation, ConvMode::Convolution};

std::string describe(const Case& k, Layout l, KernelLayout kl, ConvMode m) {
  std::ostringstream s;
  s << k.name << ", " << l << ", " << kl << ", " << m;
  return s.str();
}

// Logical (NCHW / OIHW) random operands of one case, float32 values.
struct Operands {
  Ref x, w, b, dy;
};
Operands random_operands(TestRng& rng, const Geo& g) {
  return {random_ref(rng, {g.n, g.c, g.h, g.w}, kFloat32, -1, 1),
          random_ref(rng, {g.co, g.c, g.kh, g.kw}, kFloat32, -1, 1), random_ref(rng, {g.co}, kFloat32, -1, 1),
          random_ref(rng, {g.n, g.co, g.oh, g.ow}, kFloat32, -1, 1)};
}

// Checks forward and all three gradient ops of one configuration against the
// reference: `want` with bias and adjoints, `want_no_bias` the forward without
// bias (used when !with_bias). The reference's kernel is `ops.w`; in
// Convolution mode the user passes it flipped, and gets dw flipped back.
void check_configuration(const Geo& g, const Operands& ops, const RefConv& want, const RefConv* want_no_bias,
                         const Conv2dOptions& opts, DType dtype, Device device, bool with_bias) {
  const Layout l = opts.layout;
  const bool flipped = opts.mode == ConvMode::Convolution;
  const Tensor x = to_tensor(with_dtype(image_to(ops.x, l), dtype), device);
  const Tensor w =
      to_tensor(with_dtype(kernel_to(flipped ? flip(ops.w) : ops.w, opts.kernel_layout), dtype), device);
  const Tensor b = with_bias ? to_tensor(with_dtype(ops.b, dtype), device) : Tensor();
  const Tensor dy = to_tensor(with_dtype(image_to(ops.dy, l), dtype), device);

  const RefConv& fwd = with_bias ? want : *want_no_bias;
  EXPECT_TRUE(matches(conv2d(x, w, b, opts), with_dtype(image_to(fwd.y, l), dtype),
                      sum_of_products_bound(image_to(fwd.y_abs, l), g.c * g.kh * g.kw + 1, dtype)))
      << "forward";
  EXPECT_TRUE(matches(conv2d_backward_input(dy, w, x.shape(), opts), with_dtype(image_to(want.dx, l), dtype),
                      sum_of_products_bound(image_to(want.dx_abs, l), g.co * g.kh * g.kw, dtype)))
      << "backward input";
  const Ref dw = kernel_to(flipped ? flip(want.dw) : want.dw, opts.kernel_layout);
  const Ref dw_abs = kernel_to(flipped ? flip(want.dw_abs) : want.dw_abs, opts.kernel_layout);
  EXPECT_TRUE(matches(conv2d_backward_weight(x, dy, w.shape(), opts), with_dtype(dw, dtype),
                      sum_of_products_bound(dw_abs, g.n * g.oh * g.ow, dtype)))
      << "backward weight";
  EXPECT_TRUE(matches(conv2d_backward_bias(dy, l), with_dtype(want.db, dtype),
                      sum_of_products_bound(want.db_abs, g.n * g.oh * g.ow, dtype)))
      << "backward bias";
}

TEST_P(Conv, MatchesReference) {
  TestRng rng;
  const Device device = GetParam().device;
  for (const Case& k : cases()) {
    const Geo g = make_geo(k.n, k.c, k.h, k.w, k.co, k.kh, k.kw, k.opts);
    const Operands ops = random_operands(rng, g);
    const RefConv want = ref_conv(g, ops.x, ops.w, &ops.b, &ops.dy);
    const RefConv want_no_bias = ref_conv(g, ops.x, ops.w, nullptr, nullptr);
    for (Layout l : kLayouts)
      for (KernelLayout kl : kKernelLayouts)
        for (ConvMode m : kModes)
          for (DType dtype : float_dtypes())
            for (bool with_bias : {true, false}) {
              SCOPED_TRACE(describe(k, l, kl, m) + ", " + std::string(name(dtype)) +
                           (with_bias ? ", bias" : ""));
              Conv2dOptions o = k.opts;
              o.layout = l;
              o.kernel_layout = kl;
              o.mode = m;
              EXPECT_EQ(conv2d_output_shape(image_to(ops.x, l).shape, kernel_to(ops.w, kl).shape, o),
                        image_to(want.y, l).shape);
              check_configuration(g, ops, want, &want_no_bias, o, dtype, device, with_bias);
            }
  }
}

// The gradients autograd computes, against finite differences, for every option combination.
TEST_P(Conv, Gradcheck) {
  TestRng rng;
  const Device device = GetParam().device;
  for (const Case& k : cases()) {
    // Smaller operands than the reference test: gradcheck costs two forwards per input element.
    const i64 n = std::min<i64>(k.n, 2), c = std::min<i64>(k.c, 2), co = std::min<i64>(k.co, 2);
    for (Layout l : kLayouts)
      for (KernelLayout kl : kKernelLayouts)
        for (ConvMode m : kModes) {
          SCOPED_TRACE(describe(k, l, kl, m));
          Conv2dOptions o = k.opts;
          o.layout = l;
          o.kernel_layout = kl;
          o.mode = m;
          const Shape xs = l == Layout::NHWC ? Shape{n, k.h, k.w, c} : Shape{n, c, k.h, k.w};
          const Shape ws = kl == KernelLayout::HWIO ? Shape{k.kh, k.kw, c, co} : Shape{co, c, k.kh, k.kw};
          auto input = [&](const Shape& s) { return to_tensor(random_ref(rng, s, kFloat64, -1, 1), device); };
          EXPECT_GRADCHECK(
              [o](const Inputs& in) { return conv2d(in[0], in[1], in[2], o); },
              {input(xs).requires_grad_(), input(ws).requires_grad_(), input({co}).requires_grad_()});
        }
  }
}

// Through autograd, the gradients are exactly what the gradient ops return.
TEST_P(Conv, AutogradUsesTheGradientOps) {
  TestRng rng;
  const Device device = GetParam().device;
  const Conv2dOptions o{.stride = {2, 1},
                        .padding = Padding::same(),
                        .layout = Layout::NCHW,
                        .kernel_layout = KernelLayout::HWIO,
                        .mode = ConvMode::Convolution};
  const Tensor x = to_tensor(random_ref(rng, {2, 3, 8, 7}, kFloat32, -1, 1), device).requires_grad_();
  const Tensor w = to_tensor(random_ref(rng, {3, 2, 3, 4}, kFloat32, -1, 1), device).requires_grad_();
  const Tensor b = to_tensor(random_ref(rng, {4}, kFloat32, -1, 1), device).requires_grad_();
  const Tensor y = conv2d(x, w, b, o);
  const Tensor dy = to_tensor(random_ref(rng, y.shape(), kFloat32, -1, 1), device);
  y.backward(dy);
  EXPECT_TRUE(same_bits(x.grad(), conv2d_backward_input(dy, w.detach(), x.shape(), o)));
  EXPECT_TRUE(same_bits(w.grad(), conv2d_backward_weight(x.detach(), dy, w.shape(), o)));
  EXPECT_TRUE(same_bits(b.grad(), conv2d_backward_bias(dy, o.layout)));
}

// Theano's convolution with kernel k computes TensorFlow's cross-correlation with k flipped.
TEST_P(Conv, ConvolutionIsCrossCorrelationWithFlippedKernel) {
  TestRng rng;
  const Device device = GetParam().device;
  for (Layout l : kLayouts)
    for (KernelLayout kl : kKernelLayouts)
      for (DType dtype : float_dtypes()) {
        SCOPED_TRACE(std::string(name(l)) + ", " + std::string(name(kl)) + ", " + std::string(name(dtype)));
        const Ref x = random_ref(rng, {2, 3, 9, 8}, dtype, -1, 1),
                  k = random_ref(rng, {4, 3, 3, 2}, dtype, -1, 1);
        const Tensor tx = to_tensor(image_to(x, l), device);
        Conv2dOptions conv{.stride = {2, 1},
                           .padding = Padding::same(),
                           .layout = l,
                           .kernel_layout = kl,
                           .mode = ConvMode::Convolution};
        Conv2dOptions xcorr = conv;
        xcorr.mode = ConvMode::CrossCorrelation;
        const Tensor a = conv2d(tx, to_tensor(kernel_to(k, kl), device), Tensor(), conv);
        const Tensor b = conv2d(tx, to_tensor(kernel_to(flip(k), kl), device), Tensor(), xcorr);
        // The same canonical kernel reaches the same GEMM on the CPU: bit for bit.
        if (device.is_cpu()) EXPECT_TRUE(same_bits(a, b));
        const Geo g = make_geo(2, 3, 9, 8, 4, 3, 2, conv);
        const RefConv want = ref_conv(g, x, flip(k), nullptr, nullptr);
        EXPECT_TRUE(matches(a, with_dtype(image_to(want.y, l), dtype),
                            sum_of_products_bound(image_to(want.y_abs, l), 3 * 3 * 2, dtype)));
        EXPECT_TRUE(matches(b, with_dtype(image_to(want.y, l), dtype),
                            sum_of_products_bound(image_to(want.y_abs, l), 3 * 3 * 2, dtype)));
      }
}

// The same convolution in NHWC and NCHW gives the same values, permuted.
TEST_P(Conv, LayoutsAgree) {
  TestRng rng;
  const Device device = GetParam().device;
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Ref x = random_ref(rng, {3, 5, 10, 9}, dtype, -1, 1),
              k = random_ref(rng, {6, 5, 3, 3}, dtype, -1, 1);
    const Ref b = random_ref(rng, {6}, dtype, -1, 1);
    Conv2dOptions o{.stride = {2, 2}, .padding = Padding::explicit_pads(1, 0, 2, 1), .dilation = {1, 2}};
    o.layout = Layout::NCHW;
    const Tensor y_nchw = conv2d(to_tensor(x, device), to_tensor(kernel_to(k, o.kernel_layout), device),
                                 to_tensor(b, device), o);
    o.layout = Layout::NHWC;
    const Tensor y_nhwc = conv2d(to_tensor(image_to(x, Layout::NHWC), device),
                                 to_tensor(kernel_to(k, o.kernel_layout), device), to_tensor(b, device), o);
    const Geo g = make_geo(3, 5, 10, 9, 6, 3, 3, o);
    const RefConv want = ref_conv(g, x, k, &b, nullptr);
    // Two roundings of the same sum: twice the reference tolerance apart at most.
    EXPECT_TRUE(
        matches(y_nhwc, image_to(to_ref(y_nchw), Layout::NHWC),
                sum_of_products_bound(image_to(want.y_abs, Layout::NHWC), 2 * (5 * 3 * 3 + 1), dtype)));
  }
}

// Operands large enough that the CPU's im2col buffer (32 MiB of columns) is
// filled several times per call: chunk boundaries fall mid-image and mid-row.
TEST_P(Conv, ChunkedColumnsMatchReference) {
  TestRng rng;
  const Device device = GetParam().device;
  struct Big {
    std::string name;
    i64 n, c, h, w, co, kh, kw;
    Conv2dOptions opts;
  };
  // float32: 7281 output pixels per chunk in the first case, 29127 in the second.
  const std::vector<Big> bigs = {
      {"128 channels, 90x90, same 3x3", 2, 128, 90, 90, 3, 3, 3, {.padding = Padding::same()}},
      {"32 channels, stride 2, dilation 2, asymmetric padding",
       4,
       32,
       181,
       170,
       2,
       3,
       3,
       {.stride = {2, 2}, .padding = Padding::explicit_pads(2, 1, 0, 3), .dilation = {2, 2}}},
  };
  for (const Big& k : bigs) {
    const Geo g = make_geo(k.n, k.c, k.h, k.w, k.co, k.kh, k.kw, k.opts);
    const Operands ops = random_operands(rng, g);
    const RefConv want = ref_conv(g, ops.x, ops.w, &ops.b, &ops.dy);
    for (Layout l : kLayouts) {
      if (k.opts.stride[0] > 1 && l == Layout::NCHW)
        continue;  // chunks only split NCHW images of > 7281 pixels
      for (DType dtype : float_dtypes()) {
        SCOPED_TRACE(k.name + ", " + std::string(name(l)) + ", " + std::string(name(dtype)));
        Conv2dOptions o = k.opts;
        o.layout = l;
        o.kernel_layout = l == Layout::NHWC ? KernelLayout::HWIO : KernelLayout::OIHW;
        check_configuration(g, ops, want, nullptr, o, dtype, device, true);
      }
    }
  }
}

// Every operand of the forward and of the three gradient ops may be a view:
// a channel slice (an NHWC image's channels narrowed from a wider tensor), a
// strided view, another layout's storage permuted. The result must be the
// contiguous copies' result, bit for bit (the same dense operands reach the
// same kernel). Before the front end made its operands dense, a channel-sliced
// NHWC input gave a result 13.0 off.
TEST_P(Conv, NonContiguousOperandsGiveTheContiguousCopysResult) {
  TestRng rng;
  const Device device = GetParam().device;
  const std::vector<Conv2dOptions> options = {
      {}, {.stride = {2, 1}, .padding = Padding::same(), .dilation = {1, 2}, .mode = ConvMode::Convolution}};
  for (const Conv2dOptions& base : options)
    for (Layout l : kLayouts)
      for (KernelLayout kl : kKernelLayouts) {
        Conv2dOptions o = base;
        o.layout = l;
        o.kernel_layout = kl;
        SCOPED_TRACE(std::string(name(l)) + ", " + std::string(name(kl)) + ", " + std::string(name(o.mode)));
        const bool nhwc = l == Layout::NHWC, hwio = kl == KernelLayout::HWIO;
        const Shape xs = nhwc ? Shape{2, 7, 6, 3} : Shape{2, 3, 7, 6};
        const Shape ws = hwio ? Shape{3, 2, 3, 4} : Shape{4, 3, 3, 2};
        const Tensor x = to_tensor(random_ref(rng, xs, kFloat32, -1, 1), device);
        const Tensor w = to_tensor(random_ref(rng, ws, kFloat32, -1, 1), device);
        const Tensor b = to_tensor(random_ref(rng, {4}, kFloat32, -1, 1), device);
        const Shape ys = conv2d_output_shape(xs, ws, o);
        const Tensor dy = to_tensor(random_ref(rng, ys, kFloat32, -1, 1), device);
        const int xc = nhwc ? 3 : 1, xh = nhwc ? 1 : 2, xw = nhwc ? 2 : 3;
        // The dims to slice and stride; OIHW kernels are sliced along their input
        // channels (a slice of dim 0 would still be dense).
        const int wo = hwio ? 3 : 1, wh = hwio ? 0 : 2, ww = hwio ? 1 : 3;

        const Tensor y = conv2d(x, w, b, o);
        const Tensor dx = conv2d_backward_input(dy, w, xs, o);
        const Tensor dw = conv2d_backward_weight(x, dy, ws, o);
        const Tensor db = conv2d_backward_bias(dy, l);
        for (const Variant& v : non_contiguous_4d(x, xc, xh, xw)) {
          SCOPED_TRACE("input " + v.name);
          ASSERT_FALSE(v.t.is_contiguous());
          EXPECT_TRUE(same_bits(conv2d(v.t, w, b, o), y)) << "forward";
          EXPECT_TRUE(same_bits(conv2d_backward_weight(v.t, dy, ws, o), dw)) << "backward weight";
        }
        for (const Variant& v : non_contiguous_4d(w, wo, wh, ww)) {
          SCOPED_TRACE("weight " + v.name);
          ASSERT_FALSE(v.t.is_contiguous());
          EXPECT_TRUE(same_bits(conv2d(x, v.t, b, o), y)) << "forward";
          EXPECT_TRUE(same_bits(conv2d_backward_input(dy, v.t, xs, o), dx)) << "backward input";
        }
        const Tensor strided_bias = strided_along(b, {0});
        ASSERT_FALSE(strided_bias.is_contiguous());
        EXPECT_TRUE(same_bits(conv2d(x, w, strided_bias, o), y)) << "strided bias";
        for (const Variant& v : non_contiguous_4d(dy, xc, xh, xw)) {
          SCOPED_TRACE("grad_output " + v.name);
          ASSERT_FALSE(v.t.is_contiguous());
          EXPECT_TRUE(same_bits(conv2d_backward_input(v.t, w, xs, o), dx)) << "backward input";
          EXPECT_TRUE(same_bits(conv2d_backward_weight(x, v.t, ws, o), dw)) << "backward weight";
          EXPECT_TRUE(same_bits(conv2d_backward_bias(v.t, l), db)) << "backward bias";
        }
        // Through autograd, from views of leaves: the node saves the views.
        Tensor x_leaf = to_tensor(to_ref(x), device).requires_grad_();
        Tensor w_leaf = to_tensor(to_ref(w), device).requires_grad_();
        Tensor b_leaf = to_tensor(to_ref(b), device).requires_grad_();
        const Tensor x_view =
            x_leaf
                .permute(nhwc ? std::vector<std::int64_t>{0, 3, 1, 2} : std::vector<std::int64_t>{0, 2, 3, 1})
                .contiguous()
                .permute(nhwc ? std::vector<std::int64_t>{0, 2, 3, 1}
                              : std::vector<std::int64_t>{0, 3, 1, 2});
        const Tensor w_view = transposed_storage(w_leaf);
        ASSERT_FALSE(x_view.is_contiguous());
        ASSERT_FALSE(w_view.is_contiguous());
        const Tensor y_view = conv2d(x_view, w_view, b_leaf, o);
        EXPECT_TRUE(same_bits(y_view, y)) << "forward through autograd";
        y_view.backward(transposed_storage(dy));
        EXPECT_TRUE(same_bits(x_leaf.grad(), dx)) << "autograd dx";
        EXPECT_TRUE(same_bits(w_leaf.grad(), dw)) << "autograd dw";
        EXPECT_TRUE(same_bits(b_leaf.grad(), db)) << "autograd db";
      }
}

// Same inputs, same bits: run twice, and with one OpenMP thread and with all of
// them (OpenBLAS's thread count is left alone: its GEMM bits depend on it, parity/cpu/conv.cpp).
TEST_P(Conv, Deterministic) {
  TestRng rng;
  const Device device = GetParam().device;
  for (Layout l : kLayouts) {
    SCOPED_TRACE(std::string(name(l)));
    const Conv2dOptions o{
        .stride = {1, 2}, .padding = Padding::same(), .layout = l, .kernel_layout = KernelLayout::HWIO};
    const Shape xs = l == Layout::NHWC ? Shape{2, 90, 90, 128} : Shape{2, 128, 90, 90};
    const Tensor x = to_tensor(random_ref(rng, xs, kFloat32, -1, 1), device);
    const Tensor w = to_tensor(random_ref(rng, {3, 3, 128, 8}, kFloat32, -1, 1), device);
    const Tensor b = to_tensor(random_ref(rng, {8}, kFloat32, -1, 1), device);
    const Tensor dy =
        to_tensor(random_ref(rng, conv2d_output_shape(xs, w.shape(), o), kFloat32, -1, 1), device);
    // The GEMMs' bits depend on OpenBLAS's thread count: the same count, the same bits.
    expect_deterministic(
        [&] {
          return std::vector<Tensor>{conv2d(x, w, b, o), conv2d_backward_input(dy, w, xs, o),
                                     conv2d_backward_weight(x, dy, w.shape(), o)};
        },
        Threads::Fixed);
    // The bias gradient is Parity's own loop: the same bits at any thread count.
    expect_deterministic([&] { return std::vector<Tensor>{conv2d_backward_bias(dy, l)}; }, Threads::Vary);
  }
}

TEST_P(Conv, Errors) {
  const Device device = GetParam().device;
  const TensorOptions f32{.dtype = kFloat32, .device = device};
  const Tensor x = ones({1, 5, 5, 3}, f32), w = ones({3, 3, 3, 2}, f32);
  EXPECT_PARITY_ERROR(conv2d(ones({5, 5, 3}, f32), w), {"conv2d", "4-D input", "[5, 5, 3]"});
  EXPECT_PARITY_ERROR(conv2d(x, ones({3, 3, 3}, f32)), {"conv2d", "4-D weight", "[3, 3, 3]"});
  EXPECT_PARITY_ERROR(conv2d(x, ones({3, 3, 4, 2}, f32)),
                      {"conv2d", "3 channels", "[1, 5, 5, 3]", "[3, 3, 4, 2]"});
  EXPECT_PARITY_ERROR(conv2d(x, ones({2, 4, 3, 3}, f32), Tensor(), {.kernel_layout = KernelLayout::OIHW}),
                      {"conv2d", "3 channels", "[2, 4, 3, 3]", "OIHW"});
  EXPECT_PARITY_ERROR(conv2d(x, ones({6, 6, 3, 2}, f32)), {"conv2d", "larger than", "[1, 5, 5, 3]"});
  EXPECT_PARITY_ERROR(conv2d(x, w, Tensor(), {.padding = Padding::parse("sme")}), {"sme", "valid", "same"});
  EXPECT_PARITY_ERROR(conv2d(x, w, Tensor(), {.stride = {0, 1}}), {"conv2d", "stride", "(0, 1)"});
  EXPECT_PARITY_ERROR(conv2d(x, w, Tensor(), {.dilation = {1, 0}}), {"conv2d", "dilation", "(1, 0)"});
  EXPECT_PARITY_ERROR(conv2d(x, w, Tensor(), {.padding = Padding::explicit_pads(-1, 0, 0, 0)}),
                      {"conv2d", "negative", "explicit(-1, 0, 0, 0)"});
  EXPECT_PARITY_ERROR(conv2d(x, ones({3, 3, 3, 2}, {.dtype = kFloat64, .device = device})),
                      {"conv2d", "float32", "float64", "[1, 5, 5, 3]"});
  EXPECT_PARITY_ERROR(conv2d(ones({1, 5, 5, 3}, {.dtype = kInt32, .device = device}), w),
                      {"conv2d", "int32"});
  EXPECT_PARITY_ERROR(conv2d(x, w, ones({3}, f32)), {"conv2d", "bias", "[2]", "[3]"});
  EXPECT_PARITY_ERROR(conv2d(x, w, ones({2}, {.dtype = kFloat64, .device = device})), {"conv2d", "float64"});
  if (device.is_cpu() && cuda::is_available()) {
    EXPECT_PARITY_ERROR(conv2d(x, w.to(Device::cuda())), {"conv2d", "same device"});
  }
  EXPECT_PARITY_ERROR(conv2d_backward_input(ones({1, 3, 3, 3}, f32), w, x.shape()),
                      {"conv2d_backward_input", "grad_output", "[1, 3, 3, 2]", "[1, 3, 3, 3]"});
  EXPECT_PARITY_ERROR(conv2d_backward_weight(x, ones({1, 4, 3, 2}, f32), w.shape()),
                      {"conv2d_backward_weight", "[1, 3, 3, 2]", "[1, 4, 3, 2]"});
  EXPECT_PARITY_ERROR(conv2d_backward_bias(ones({3, 2}, f32), Layout::NHWC),
                      {"conv2d_backward_bias", "[3, 2]"});
}

}  // namespace
}  // namespace parity::testing

namespace parity::testing {
namespace {

// The seed model's two convolutions (7x7, 32 filters at 32x32; 7x7, 64
// filters; batch 8), both layouts and modes: oneDNN's float32 forward and
// gradients within gamma_m sum|terms| of the float64 result (im2col in
// float64, which Conv.MatchesReference checks against the exact reference),
// and not on oneDNN's reference kernels (which would be correct but slow).
TEST(ConvOneDnn, SeedLayersOnJitKernelsWithinRoundingOfFloat64) {
  CpuConvAlgorithmGuard onednn(CpuConvAlgorithm::OneDnn);
  if (cpu_conv_algorithm_used(kFloat32) != CpuConvAlgorithm::OneDnn) GTEST_SKIP() << "built without oneDNN";
  EXPECT_EQ(cpu_conv_algorithm_used(kFloat64), CpuConvAlgorithm::Im2colGemm);
  TestRng rng;
  struct Layer {
    i64 c, h, co;
  };
  for (const Layer& layer : {Layer{3, 32, 32}, Layer{32, 26, 64}})
    for (Layout l : kLayouts)
      for (ConvMode m : kModes) {
        const Conv2dOptions o{.layout = l,
                              .kernel_layout = l == Layout::NHWC ? KernelLayout::HWIO : KernelLayout::OIHW,
                              .mode = m};
        SCOPED_TRACE(std::to_string(layer.c) + " channels, " + std::string(name(l)) + ", " +
                     std::string(name(m)));
        const Shape xs = l == Layout::NHWC ? Shape{8, layer.h, layer.h, layer.c} : Shape{8, layer.c, layer.h, layer.h};
        const Shape ws = l == Layout::NHWC ? Shape{7, 7, layer.c, layer.co} : Shape{layer.co, layer.c, 7, 7};
        const Tensor x = to_tensor(random_ref(rng, xs, kFloat32, -1, 1), Device::cpu());
        const Tensor w = to_tensor(random_ref(rng, ws, kFloat32, -1, 1), Device::cpu());
        const Tensor dy = to_tensor(random_ref(rng, conv2d_output_shape(xs, ws, o), kFloat32, -1, 1), Device::cpu());
        const Tensor x64 = x.to(kFloat64), w64 = w.to(kFloat64), dy64 = dy.to(kFloat64);
        const Tensor ax = abs(x64), aw = abs(w64), ady = abs(dy64);
        const i64 oh = layer.h - 6;
        struct Check {
          const char* what;
          Tensor got, want, magnitude;
          i64 terms;
        };
        const Check checks[] = {
            {"forward", conv2d(x, w, Tensor(), o), conv2d(x64, w64, Tensor(), o), conv2d(ax, aw, Tensor(), o),
             layer.c * 49},
            {"backward input", conv2d_backward_input(dy, w, xs, o), conv2d_backward_input(dy64, w64, xs, o),
             conv2d_backward_input(ady, aw, xs, o), layer.co * 49},
            {"backward weight", conv2d_backward_weight(x, dy, ws, o), conv2d_backward_weight(x64, dy64, ws, o),
             conv2d_backward_weight(ax, ady, ws, o), 8 * oh * oh},
        };
        for (const Check& c : checks) {
          const std::vector<double> got = c.got.to(kFloat64).to_vector<double>(), want = c.want.to_vector<double>(),
                                    mag = c.magnitude.to_vector<double>();
          ASSERT_EQ(got.size(), want.size()) << c.what;
          double worst = 0;
          for (std::size_t i = 0; i < got.size(); ++i)
            worst = std::max(worst, std::abs(got[i] - want[i]) / (2.0 * c.terms * 0x1p-24 * mag[i] + 1e-300));
          EXPECT_LE(worst, 1.0) << c.what << ": error over the rounding bound";
        }
#if PARITY_WITH_ONEDNN
        const Conv2dArgs args = [&] {
          Conv2dArgs a;
          a.win = resolve_window("conv2d", xs, {.window = {7, 7}, .layout = l});
          a.out_channels = layer.co;
          a.kernel_layout = o.kernel_layout;
          return a;
        }();
        const std::string impl = cpu::onednn::implementation(args);
        std::cout << "[ oneDNN   ] " << to_string(xs) << " " << name(l) << ": " << impl << "\n";
        EXPECT_EQ(impl.find("ref"), std::string::npos) << impl;
#endif
      }
}

}  // namespace
}  // namespace parity::testing
