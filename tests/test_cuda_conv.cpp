// Convolution and pooling on CUDA (cuDNN, parity/cuda/conv.cpp and parity/cuda/pool.cpp)
// against the CPU backend, which tests/test_conv.cpp and test_pool.cpp check
// against naive references.
//
// - conv2d and its three gradient ops, float32 and float64, NHWC and NCHW
//   images, HWIO and OIHW kernels, cross-correlation and convolution, with
//   stride, dilation, symmetric, TensorFlow-"same" (asymmetric) and explicit
//   asymmetric padding, 1x1 kernels.
//   Tolerance: each output element is a sum of m products (forward: c*kh*kw
//   plus the bias; dx: cout*kh*kw; dw and dbias: n*oh*ow). Any order of summing
//   them errs by at most gamma_m * sum|products| ~ m * u * sum|products| (u the
//   unit roundoff), on the CPU and on the GPU alike, so both are compared with
//   a float64 reference within 16 (m + 1) u sum|products| per element: 2 for
//   the two sides, and 8 for the transforms of cuDNN's Winograd and FFT
//   algorithms, whose rounding is not a plain sum's (still far below a wrong
//   index, flip or pad, which errs by ~sum|products| itself). float64 uses the
//   same formula with u = 2^-53: ~1e-14 relative, i.e. tight. In the fastest
//   (non-deterministic) mode cuDNN may pick any algorithm: 4 times more room.
// - max and average pooling (count_include_pad both ways) over the same
//   layouts and paddings, on inputs whose values are all distinct (no ties:
//   Note [Max-pool ties]) and mostly negative near the borders, so padding that
//   won a max would show.
// - determinism: the same call twice gives the same bits (forward and both
//   gradients), as docs/ARCHITECTURE.md (principle 3) promises by default.
// - MathMode: on a long reduction (m = 3136) strict FP32 agrees with float64
//   to < 1e-5 (relative to the largest output) and TF32 differs by > 5e-5 and
//   < 1e-2 (TF32 keeps 10 mantissa bits: ~1e-3).
// - autograd: loss.backward() through conv2d + relu + max_pool2d on CUDA gives
//   the CPU's gradients.
// Every test puts guard bytes around each device allocation (parity/cuda/api.h) and
// fails if cuDNN or a copy wrote outside a buffer. Without a GPU every test skips.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "parity/cuda/api.h"
#if PARITY_WITH_CUDA
#include "parity/cuda/conv_testing.h"  // the test hooks: algorithms, layouts and chunks forced
#include "parity/cuda/cudnn.h"         // the status and version rules (internal; tested without a device)
#endif
#include "reference.h"
#include "parity/tensor/context.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;

const Device kCuda = Device::cuda(0);
const Device kCpu = Device::cpu();

void guard_setup() { cuda::set_guard_bytes(256); }

// Checks after the test that nothing wrote past a device buffer.
class GuardCheck {
 public:
  GuardCheck() : before_(cuda::guard_violations()) {}
  ~GuardCheck() {
    cuda::synchronize();
    cuda::set_guard_bytes(0);
    EXPECT_EQ(cuda::guard_violations() - before_, 0)
        << "a kernel wrote outside its buffer: " << cuda::last_guard_violation();
  }

 private:
  std::int64_t before_;
};

#define CUDA_CONV_PROLOGUE() \
  PARITY_REQUIRE_CUDA();     \
  guard_setup();             \
  GuardCheck guard_check_

double unit_roundoff(DType dtype) { return dtype == kFloat32 ? 0x1p-24 : 0x1p-53; }

Tensor make(TestRng& rng, const Shape& shape, DType dtype, double lo = -1.0, double hi = 1.0) {
  return from_vector(rng.values(numel(shape), kFloat32, lo, hi), shape).to(dtype);
}

std::vector<double> values64(const Tensor& t) { return t.to(kCpu).contiguous().to_vector<double>(); }

// |got - want| <= scale * mag + tiny, element by element (all three on any device).
::testing::AssertionResult within(const Tensor& got, const Tensor& want, const Tensor& mag, double scale) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << to_string(got.shape()) << ", expected " << to_string(want.shape());
  }
  const std::vector<double> g = values64(got), w = values64(want), m = values64(mag);
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - w[i]);
    const double bound = scale * m[i] + 1e-300;
    if (!(err <= bound) && (err / bound > worst || !(err == err))) {
      worst = err == err ? err / bound : std::numeric_limits<double>::infinity();
      at = i;
    }
  }
  if (worst == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "element " << index_string(unravel(static_cast<i64>(at), got.shape())) << ": got " << g[at]
         << ", expected " << w[at] << " (|error| " << std::abs(g[at] - w[at]) << " is " << worst
         << " times the bound " << scale * m[at] << ")";
}

// The same bits (float tensors of the same shape).
::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "shape or dtype";
  const Tensor ca = a.to(kCpu).contiguous(), cb = b.to(kCpu).contiguous();
  if (std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0) return ::testing::AssertionSuccess();
  const std::vector<double> va = ca.to_vector<double>(), vb = cb.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i) {
    if (va[i] != vb[i]) {
      return ::testing::AssertionFailure()
             << "first difference at element " << i << ": " << va[i] << " vs " << vb[i];
    }
  }
  return ::testing::AssertionFailure() << "the bits differ (NaN payloads or signed zeros)";
}

// max |a - b| / max |b|.
double relative_difference(const Tensor& a, const Tensor& b) {
  const Tensor a64 = a.to(kCpu).to(kFloat64), b64 = b.to(kCpu).to(kFloat64);
  return max(abs(sub(a64, b64))).item<double>() / max(abs(b64)).item<double>();
}

// ---- convolution: CPU against CUDA ----

struct ConvCase {
  const char* name;
  i64 n, c, h, w, co, kh, kw;
  std::array<i64, 2> stride, dilation;
  Padding padding;
};

const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {"valid", 2, 3, 9, 8, 4, 3, 3, {1, 1}, {1, 1}, Padding::valid()},
      {"stride_dilation_pad", 2, 3, 11, 10, 5, 3, 2, {2, 3}, {2, 1}, Padding::symmetric(2, 1)},
      // h: out 5, total pad 3 -> 1 top, 2 bottom; w: no pad.
      {"same_even_kernel_stride2", 2, 4, 9, 10, 3, 4, 2, {2, 2}, {1, 1}, Padding::same()},
      {"explicit_asymmetric", 1, 2, 7, 6, 3, 3, 3, {1, 2}, {1, 1}, Padding::explicit_pads(0, 2, 1, 0)},
      {"1x1", 3, 5, 4, 4, 6, 1, 1, {1, 1}, {1, 1}, Padding::valid()},
  };
  return cases;
}

using ConvParam = std::tuple<DType, Layout, KernelLayout, ConvMode, int>;

class CudaConvVsCpu : public ::testing::TestWithParam<ConvParam> {};

std::string conv_param_name(const ::testing::TestParamInfo<ConvParam>& info) {
  const auto& [dtype, layout, kernel_layout, mode, index] = info.param;
  std::string s = std::string(dtype == kFloat32 ? "f32" : "f64") + "_" + std::string(name(layout)) + "_" +
                  std::string(name(kernel_layout)) + "_" +
                  (mode == ConvMode::Convolution ? "conv" : "xcorr") + "_" +
                  conv_cases()[static_cast<std::size_t>(index)].name;
  return s;
}

Shape kernel_shape(KernelLayout layout, i64 co, i64 c, i64 kh, i64 kw) {
  return layout == KernelLayout::HWIO ? Shape{kh, kw, c, co} : Shape{co, c, kh, kw};
}

Shape image(Layout layout, i64 n, i64 c, i64 h, i64 w) {
  return layout == Layout::NHWC ? Shape{n, h, w, c} : Shape{n, c, h, w};
}

// Forward and the three gradients of one configuration on CUDA, each within
// `factor` (m + 1) u sum|products| of the float64 CPU result, and the CUDA
// and CPU results of the configuration's dtype within twice that.
void check_conv(TestRng& rng, DType dtype, const ConvCase& cc, const Conv2dOptions& o, double factor) {
  const Shape x_shape = image(o.layout, cc.n, cc.c, cc.h, cc.w);
  const Shape w_shape = kernel_shape(o.kernel_layout, cc.co, cc.c, cc.kh, cc.kw);
  const Tensor x = make(rng, x_shape, dtype), w = make(rng, w_shape, dtype), b = make(rng, {cc.co}, dtype);
  const Shape y_shape = conv2d_output_shape(x_shape, w_shape, o);
  const Tensor dy = make(rng, y_shape, dtype);
  const i64 oh = o.layout == Layout::NHWC ? y_shape[1] : y_shape[2];
  const i64 ow = o.layout == Layout::NHWC ? y_shape[2] : y_shape[3];
  const double u = unit_roundoff(dtype);

  // The float64 reference and the magnitudes sum|products| (same ops on |.|).
  const Tensor x64 = x.to(kFloat64), w64 = w.to(kFloat64), b64 = b.to(kFloat64), dy64 = dy.to(kFloat64);
  const Tensor ax = abs(x64), aw = abs(w64), ab = abs(b64), ady = abs(dy64);
  const Tensor xg = x.to(kCuda), wg = w.to(kCuda), bg = b.to(kCuda), dyg = dy.to(kCuda);

  struct Output {
    const char* what;
    Tensor gpu, cpu, ref, mag;
    i64 m;
  };
  const Output outputs[] = {
      {"forward", conv2d(xg, wg, bg, o), conv2d(x, w, b, o), conv2d(x64, w64, b64, o), conv2d(ax, aw, ab, o),
       cc.c * cc.kh * cc.kw + 1},
      {"backward_input", conv2d_backward_input(dyg, wg, x_shape, o), conv2d_backward_input(dy, w, x_shape, o),
       conv2d_backward_input(dy64, w64, x_shape, o), conv2d_backward_input(ady, aw, x_shape, o),
       cc.co * cc.kh * cc.kw},
      {"backward_weight", conv2d_backward_weight(xg, dyg, w_shape, o),
       conv2d_backward_weight(x, dy, w_shape, o), conv2d_backward_weight(x64, dy64, w_shape, o),
       conv2d_backward_weight(ax, ady, w_shape, o), cc.n * oh * ow},
      {"backward_bias", conv2d_backward_bias(dyg, o.layout), conv2d_backward_bias(dy, o.layout),
       conv2d_backward_bias(dy64, o.layout), conv2d_backward_bias(ady, o.layout), cc.n * oh * ow},
  };
  for (const Output& out : outputs) {
    SCOPED_TRACE(out.what);
    const double scale = factor * static_cast<double>(out.m + 1) * u;
    EXPECT_EQ(out.gpu.device(), kCuda);
    EXPECT_EQ(out.gpu.dtype(), dtype);
    EXPECT_TRUE(within(out.gpu, out.ref, out.mag, scale)) << "CUDA against float64";
    EXPECT_TRUE(within(out.gpu, out.cpu, out.mag, 2 * scale)) << "CUDA against the CPU";
  }
}

TEST_P(CudaConvVsCpu, ForwardAndGradientsMatch) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  const auto& [dtype, layout, kernel_layout, mode, index] = GetParam();
  const ConvCase& cc = conv_cases()[static_cast<std::size_t>(index)];
  const Conv2dOptions o{.stride = cc.stride,
                        .padding = cc.padding,
                        .dilation = cc.dilation,
                        .layout = layout,
                        .kernel_layout = kernel_layout,
                        .mode = mode};
  check_conv(rng, dtype, cc, o, 16.0);
}

INSTANTIATE_TEST_SUITE_P(
    All, CudaConvVsCpu,
    ::testing::Combine(::testing::Values(kFloat32, kFloat64), ::testing::Values(Layout::NHWC, Layout::NCHW),
                       ::testing::Values(KernelLayout::HWIO, KernelLayout::OIHW),
                       ::testing::Values(ConvMode::CrossCorrelation, ConvMode::Convolution),
                       ::testing::Range(0, 5)),
    conv_param_name);

// The fastest algorithms (cudnnFind, timed) compute the same convolution.
TEST(CudaConv, FastestModeMatchesCpu) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  DeterministicGuard fastest(false);
  for (const Layout layout : {Layout::NHWC, Layout::NCHW}) {
    SCOPED_TRACE(std::string(name(layout)));
    const ConvCase cc{"fastest", 4, 8, 16, 15, 16, 3, 3, {1, 1}, {1, 1}, Padding::same()};
    const Conv2dOptions o{.padding = cc.padding, .layout = layout};
    check_conv(rng, kFloat32, cc, o, 64.0);
  }
}

// Defect 8: the fastest mode's first call times algorithms with cudnnFind on a
// workspace of up to 1 GiB; that workspace goes back to the pool when the call
// returns (nothing stays allocated once the call's tensors are gone).
TEST(CudaConv, TheFastestModeSearchGivesItsWorkspaceBack) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  DeterministicGuard fastest(false);
  const Tensor x = make(rng, {8, 32, 32, 16}, kFloat32).to(kCuda), w = make(rng, {5, 5, 16, 32}, kFloat32).to(kCuda);
  cuda::synchronize();
  const std::int64_t before = cuda::memory_stats().allocated_bytes;
  {
    const Tensor y = conv2d(x, w);  // the first call of this configuration: cudnnFind
    const Tensor dx = conv2d_backward_input(y, w, x.shape());
    const Tensor dw = conv2d_backward_weight(x, y, w.shape());
    cuda::synchronize();
  }
  cuda::synchronize();
  EXPECT_EQ(cuda::memory_stats().allocated_bytes, before) << "a workspace stayed allocated";
}

// ---- determinism ----

TEST(CudaConv, DeterministicByDefault) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  ASSERT_TRUE(deterministic());
  for (const Layout layout : {Layout::NHWC, Layout::NCHW}) {
    SCOPED_TRACE(std::string(name(layout)));
    const Conv2dOptions o{.padding = Padding::same(),
                          .layout = layout,
                          .kernel_layout = layout == Layout::NHWC ? KernelLayout::HWIO : KernelLayout::OIHW};
    const Shape x_shape = image(layout, 4, 16, 20, 20);
    const Shape w_shape = kernel_shape(o.kernel_layout, 32, 16, 5, 5);
    const Tensor x = make(rng, x_shape, kFloat32).to(kCuda), w = make(rng, w_shape, kFloat32).to(kCuda);
    const Tensor b = make(rng, {32}, kFloat32).to(kCuda);
    const Tensor dy = make(rng, conv2d_output_shape(x_shape, w_shape, o), kFloat32).to(kCuda);
    EXPECT_TRUE(same_bits(conv2d(x, w, b, o), conv2d(x, w, b, o))) << "forward";
    EXPECT_TRUE(same_bits(conv2d_backward_input(dy, w, x_shape, o), conv2d_backward_input(dy, w, x_shape, o)))
        << "backward_input";
    EXPECT_TRUE(
        same_bits(conv2d_backward_weight(x, dy, w_shape, o), conv2d_backward_weight(x, dy, w_shape, o)))
        << "backward_weight";
    EXPECT_TRUE(same_bits(conv2d_backward_bias(dy, layout), conv2d_backward_bias(dy, layout)))
        << "backward_bias";
  }
}

// ---- math mode ----

TEST(CudaConv, StrictFp32IsFloat32AndTf32IsTf32) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  // m = 64 * 7 * 7 = 3136 products per output, the seed model's second layer.
  const Conv2dOptions o{};  // NHWC, HWIO, valid
  const Shape x_shape{2, 24, 24, 64}, w_shape{7, 7, 64, 64};
  const Tensor x = make(rng, x_shape, kFloat32), w = make(rng, w_shape, kFloat32);
  const Tensor dy = make(rng, conv2d_output_shape(x_shape, w_shape, o), kFloat32);
  const Tensor y64 = conv2d(x.to(kFloat64), w.to(kFloat64), Tensor(), o);
  const Tensor dx64 = conv2d_backward_input(dy.to(kFloat64), w.to(kFloat64), x_shape, o);
  const Tensor xg = x.to(kCuda), wg = w.to(kCuda), dyg = dy.to(kCuda);
  const auto run = [&](MathMode mode) {
    MathModeGuard guard(mode);
    return std::pair{conv2d(xg, wg, Tensor(), o), conv2d_backward_input(dyg, wg, x_shape, o)};
  };
  const auto [y_strict, dx_strict] = run(MathMode::StrictFP32);
  const auto [y_tf32, dx_tf32] = run(MathMode::TF32);
  EXPECT_LT(relative_difference(y_strict, y64), 1e-5);
  EXPECT_LT(relative_difference(dx_strict, dx64), 1e-5);
  const double fwd = relative_difference(y_tf32, y64), bwd = relative_difference(dx_tf32, dx64);
  EXPECT_GT(fwd, 5e-5) << "TF32 mode computed the forward in full float32";
  EXPECT_LT(fwd, 1e-2);
  EXPECT_GT(bwd, 5e-5) << "TF32 mode computed the input gradient in full float32";
  EXPECT_LT(bwd, 1e-2);
  // Strict again after TF32: the cached choices are per math mode.
  EXPECT_TRUE(same_bits(run(MathMode::StrictFP32).first, y_strict));
}

// ---- pooling: CPU against CUDA ----

struct PoolCase {
  const char* name;
  i64 n, c, h, w;
  std::array<i64, 2> pool;
  std::optional<std::array<i64, 2>> stride;
  Padding padding;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {"2x2", 2, 3, 8, 8, {2, 2}, std::nullopt, Padding::valid()},
      {"4x4_seed", 1, 2, 13, 12, {4, 4}, std::nullopt, Padding::valid()},
      // h: out 5, pads 1/1; w: out 4, pads 0/1 (asymmetric).
      {"3x3_stride2_same", 2, 3, 9, 8, {3, 3}, std::array<i64, 2>{2, 2}, Padding::same()},
      {"3x3_stride1_pad1", 1, 2, 6, 7, {3, 3}, std::array<i64, 2>{1, 1}, Padding::symmetric(1, 1)},
      {"2x3_explicit_asymmetric",
       2,
       2,
       7,
       8,
       {2, 3},
       std::array<i64, 2>{1, 2},
       Padding::explicit_pads(1, 0, 0, 2)},
  };
  return cases;
}

enum class PoolVariant { Max, AvgInclude, AvgExclude };
using PoolParam = std::tuple<DType, Layout, PoolVariant, int>;

class CudaPoolVsCpu : public ::testing::TestWithParam<PoolParam> {};

std::string pool_param_name(const ::testing::TestParamInfo<PoolParam>& info) {
  const auto& [dtype, layout, variant, index] = info.param;
  const char* v =
      variant == PoolVariant::Max ? "max" : (variant == PoolVariant::AvgInclude ? "avg_incl" : "avg_excl");
  return std::string(dtype == kFloat32 ? "f32" : "f64") + "_" + std::string(name(layout)) + "_" + v + "_" +
         pool_cases()[static_cast<std::size_t>(index)].name;
}

// Distinct values (no ties), negative towards the borders: v = -(distance to
// the nearest border) plus a distinct fraction, in a shuffled order of fractions.
Tensor distinct_image(TestRng& rng, Layout layout, i64 n, i64 c, i64 h, i64 w, DType dtype) {
  const Shape shape = image(layout, n, c, h, w);
  const i64 count = numel(shape);
  std::vector<double> fraction(static_cast<std::size_t>(count));
  for (i64 i = 0; i < count; ++i)
    fraction[static_cast<std::size_t>(i)] = static_cast<double>(i) / static_cast<double>(count);
  std::shuffle(fraction.begin(), fraction.end(), rng.engine());
  std::vector<double> v(static_cast<std::size_t>(count));
  for (i64 i = 0; i < count; ++i) {
    const std::vector<i64> idx = unravel(i, shape);
    const i64 row = layout == Layout::NHWC ? idx[1] : idx[2], col = layout == Layout::NHWC ? idx[2] : idx[3];
    const i64 border = std::min({row, h - 1 - row, col, w - 1 - col});
    // Border elements are all negative; inner ones lower the further in, so a
    // window's maximum is often at its edge.
    v[static_cast<std::size_t>(i)] =
        -static_cast<double>(border) * 0.25 - 0.5 + 0.25 * fraction[static_cast<std::size_t>(i)];
  }
  return from_vector(v, shape).to(dtype);
}

TEST_P(CudaPoolVsCpu, ForwardAndBackwardMatch) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  const auto& [dtype, layout, variant, index] = GetParam();
  const PoolCase& pc = pool_cases()[static_cast<std::size_t>(index)];
  const PoolKind kind = variant == PoolVariant::Max ? PoolKind::Max : PoolKind::Average;
  const Pool2dOptions o{.pool = pc.pool,
                        .stride = pc.stride,
                        .padding = pc.padding,
                        .layout = layout,
                        .count_include_pad = variant == PoolVariant::AvgInclude};
  const Tensor x = distinct_image(rng, layout, pc.n, pc.c, pc.h, pc.w, dtype);
  const Tensor xg = x.to(kCuda);
  const Tensor y = pool2d(kind, x, o), yg = pool2d(kind, xg, o);
  ASSERT_EQ(yg.shape(), y.shape());
  const double u = unit_roundoff(dtype);
  const double window = static_cast<double>(pc.pool[0] * pc.pool[1]);
  // Max: exact. Average: a sum of `window` terms and a division (or, for
  // asymmetric padding without counting it, a scaling: parity/cuda/pool.cpp), each
  // within (window + 4) u of max |x| (< 2 here).
  if (kind == PoolKind::Max) {
    EXPECT_TRUE(same_bits(yg, y)) << "max pooling is exact";
    EXPECT_LT(max(yg).to(kCpu).item<double>(), 0.0) << "padding won a max (every input is negative)";
  } else {
    EXPECT_TRUE(within(yg, y, full(y.shape(), 2.0, {.dtype = dtype}), 2 * (window + 4) * u));
  }
  // The backward: dy in [-1, 1); each dx element sums the dy of the windows
  // that hold it (at most ceil(kh/sh) * ceil(kw/sw), each scaled for average).
  const Tensor dy = make(rng, y.shape(), dtype);
  const Tensor dyg = dy.to(kCuda);
  const Tensor dx = kind == PoolKind::Max ? pool2d_backward(kind, x, y, dy, x.shape(), o)
                                          : pool2d_backward(kind, Tensor(), Tensor(), dy, x.shape(), o);
  const Tensor dxg = kind == PoolKind::Max ? pool2d_backward(kind, xg, yg, dyg, x.shape(), o)
                                           : pool2d_backward(kind, Tensor(), Tensor(), dyg, x.shape(), o);
  ASSERT_EQ(dxg.device(), kCuda);
  EXPECT_TRUE(within(dxg, dx, ones_like(dx), 4 * (window + 4) * u));
}

INSTANTIATE_TEST_SUITE_P(
    All, CudaPoolVsCpu,
    ::testing::Combine(::testing::Values(kFloat32, kFloat64), ::testing::Values(Layout::NHWC, Layout::NCHW),
                       ::testing::Values(PoolVariant::Max, PoolVariant::AvgInclude, PoolVariant::AvgExclude),
                       ::testing::Range(0, 5)),
    pool_param_name);

TEST(CudaPool, DeterministicByDefault) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  // Overlapping windows (3x3, stride 1), the case where a max-pool backward
  // with atomics would not be reproducible.
  const Pool2dOptions o{.pool = {3, 3}, .stride = std::array<i64, 2>{1, 1}, .padding = Padding::same()};
  const Tensor x = make(rng, {4, 32, 32, 16}, kFloat32).to(kCuda);
  const Tensor y = max_pool2d(x, o);
  const Tensor dy = make(rng, y.shape(), kFloat32).to(kCuda);
  EXPECT_TRUE(same_bits(max_pool2d(x, o), y));
  EXPECT_TRUE(same_bits(pool2d_backward(PoolKind::Max, x, y, dy, x.shape(), o),
                        pool2d_backward(PoolKind::Max, x, y, dy, x.shape(), o)));
}

// ---- autograd ----

// conv2d (+ bias) -> relu -> max_pool2d -> weighted sum, backward on CUDA and on the CPU.
void check_autograd(TestRng& rng, Layout layout, KernelLayout kernel_layout, ConvMode mode) {
  const Conv2dOptions co{
      .padding = Padding::same(), .layout = layout, .kernel_layout = kernel_layout, .mode = mode};
  const Pool2dOptions po{.pool = {2, 2}, .layout = layout};
  const Shape x_shape = image(layout, 2, 3, 10, 9), w_shape = kernel_shape(kernel_layout, 4, 3, 3, 3);
  const Tensor x = make(rng, x_shape, kFloat64), w = make(rng, w_shape, kFloat64),
               b = make(rng, {4}, kFloat64);
  const Shape z_shape = pool2d_output_shape(conv2d_output_shape(x_shape, w_shape, co), po);
  const Tensor r = make(rng, z_shape, kFloat64);
  const auto grads = [&](Device device) {
    Tensor xd = x.to(device).detach().requires_grad_(), wd = w.to(device).detach().requires_grad_(),
           bd = b.to(device).detach().requires_grad_();
    const Tensor loss = sum(mul(max_pool2d(relu(conv2d(xd, wd, bd, co)), po), r.to(device)));
    loss.backward();
    return std::vector<Tensor>{xd.grad(), wd.grad(), bd.grad()};
  };
  const std::vector<Tensor> cpu = grads(kCpu), gpu = grads(kCuda);
  const char* names[] = {"x", "weight", "bias"};
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(names[i]);
    ASSERT_TRUE(gpu[i].defined() && cpu[i].defined());
    EXPECT_EQ(gpu[i].device(), kCuda);
    // float64: sums of at most a few hundred terms of magnitude ~1.
    EXPECT_TRUE(within(gpu[i], cpu[i], ones_like(cpu[i]), 1e-12));
  }
}

TEST(CudaConv, AutogradMatchesCpu) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  {
    SCOPED_TRACE("Keras: NHWC, HWIO, cross-correlation");
    check_autograd(rng, Layout::NHWC, KernelLayout::HWIO, ConvMode::CrossCorrelation);
  }
  {
    SCOPED_TRACE("Theano: NCHW, OIHW, convolution");
    check_autograd(rng, Layout::NCHW, KernelLayout::OIHW, ConvMode::Convolution);
  }
}


#if PARITY_WITH_CUDA
// cuDNN statuses and versions: run on any machine
// of a CUDA build.
TEST(CudnnStatus, AMissingSubLibraryIsNotUnsupported) {
  EXPECT_TRUE(cuda::cudnn_status_not_supported(CUDNN_STATUS_NOT_SUPPORTED));
  EXPECT_TRUE(cuda::cudnn_status_not_supported(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT));
  EXPECT_FALSE(cuda::cudnn_status_not_supported(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE));
  EXPECT_FALSE(cuda::cudnn_status_not_supported(CUDNN_STATUS_SUCCESS));
  EXPECT_FALSE(cuda::cudnn_status_not_supported(CUDNN_STATUS_BAD_PARAM));
}

TEST(CudnnStatus, VersionCompatibility) {
  EXPECT_TRUE(cuda::cudnn_version_compatible(91900, 91900));
  EXPECT_TRUE(cuda::cudnn_version_compatible(92003, 91900));   // a later 9.x
  EXPECT_FALSE(cuda::cudnn_version_compatible(91801, 91900));  // older than the headers
  EXPECT_FALSE(cuda::cudnn_version_compatible(100000, 91900)); // another major
  EXPECT_FALSE(cuda::cudnn_version_compatible(81000, 91900));
}
#endif

// An offset view (a batch slice, misaligned for cuDNN's vectorized kernels) and
// the aligned whole reuse no plan of each other's alignment (defect 3): both run,
// twice (the second time from the cache), and agree with the contiguous copy.
TEST(CudaConv, OffsetBatchSlicesRunAndMatchTheirCopies) {
  PARITY_REQUIRE_CUDA();
  const Tensor x = rand({9, 13, 13, 3}, {.device = kCuda}, -1, 1);
  const Tensor w = rand({3, 3, 3, 5}, {.device = kCuda}, -1, 1);
  for (int round = 0; round < 2; ++round) {
    const Tensor whole = conv2d(x.slice(0, 0, 8), w);
    const Tensor offset = conv2d(x.slice(0, 1, 9), w);  // starts 13*13*3 floats in: 4-byte aligned only
    EXPECT_TRUE(same_bits(offset, conv2d(x.slice(0, 1, 9).clone(), w))) << "round " << round;
    EXPECT_EQ(whole.shape(), offset.shape());
  }
}

// Max-pool ties on CUDA: where a window holds several equal maxima,
// cuDNN may give the gradient to another one than the CPU, but each window's
// gradient goes to one of its maxima and the total is conserved.
TEST(CudaPool, TiesConserveTheGradient) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  // Values from {0, 1, 2}: most 4x4 windows hold ties; non-overlapping windows.
  std::vector<double> v = rng.values(2 * 16 * 16 * 3, kFloat64, 0, 3);
  for (double& x : v) x = std::floor(x);
  const Tensor x = from_vector(v, {2, 16, 16, 3}).to(kFloat32);
  const Pool2dOptions o{.pool = {4, 4}};
  const Tensor y = max_pool2d(x.to(kCuda), o);
  const Tensor dy = make(rng, y.shape(), kFloat32);
  const Tensor dx = pool2d_backward(PoolKind::Max, x.to(kCuda), y, dy.to(kCuda), x.shape(), o).to(kCpu);
  EXPECT_TRUE(same_bits(y.to(kCpu), max_pool2d(x, o)));
  EXPECT_NEAR(sum(dx.to(kFloat64)).item<double>(), sum(dy.to(kFloat64)).item<double>(), 1e-4);
  // Every nonzero gradient sits on a maximum of its window.
  const std::vector<float> xs = x.to_vector<float>(), gs = dx.to_vector<float>(), ys = y.to(kCpu).to_vector<float>();
  for (std::size_t i = 0; i < gs.size(); ++i) {
    if (gs[i] == 0.0f) continue;
    const std::size_t c = i % 3, w = (i / 3) % 16, h = (i / 48) % 16, n = i / (48 * 16);
    const float window_max = ys[((n * 4 + h / 4) * 4 + w / 4) * 3 + c];
    EXPECT_EQ(xs[i], window_max) << "gradient at " << i << " is not on a maximum";
  }
}

// TF32 on the weight gradient too: strict FP32 is float32 math, TF32 is not.
TEST(CudaConv, Tf32ReachesTheWeightGradient) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  const Tensor x = make(rng, {8, 24, 24, 64}, kFloat32), dy = make(rng, {8, 18, 18, 64}, kFloat32);
  const Shape w_shape{7, 7, 64, 64};
  const Tensor want = conv2d_backward_weight(x.to(kFloat64), dy.to(kFloat64), w_shape);
  const auto rel = [&](const Tensor& got) {
    const Tensor d = sub(got.to(kCpu).to(kFloat64), want);
    return std::sqrt(sum(mul(d, d)).item<double>() / sum(mul(want, want)).item<double>());
  };
  const double strict = rel(conv2d_backward_weight(x.to(kCuda), dy.to(kCuda), w_shape));
  double tf32;
  {
    MathModeGuard guard(MathMode::TF32);
    tf32 = rel(conv2d_backward_weight(x.to(kCuda), dy.to(kCuda), w_shape));
  }
  EXPECT_LT(strict, 1e-5);
  EXPECT_GT(tf32, 5e-5);
  EXPECT_LT(tf32, 1e-2);
}

// Determinism across processes: a new process chooses the same
// algorithms and gives the same bits. The child is this binary, rerun on the
// test below with PARITY_CHILD_OUT set: it writes its result there.
TEST(CudaConv, ANewProcessGivesTheSameBits) {
  CUDA_CONV_PROLOGUE();
  Generator gen(20170519);
  const Tensor xs = rand({4, 40, 40, 16}, {}, -1, 1, &gen), ws = rand({5, 5, 16, 32}, {}, -1, 1, &gen);
  const Tensor here = conv2d(xs.to(kCuda), ws.to(kCuda)).to(kCpu);
  const char* child_out = std::getenv("PARITY_CHILD_OUT");
  if (child_out != nullptr) {
    io::save_npy(child_out, here);
    return;
  }
  const std::string out = ::testing::TempDir() + "parity_child_conv.npy";
  char exe[4096] = {0};
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(len, 0);
  const std::string cmd = "PARITY_CHILD_OUT='" + out + "' '" + std::string(exe, static_cast<std::size_t>(len)) +
                          "' --gtest_filter=CudaConv.ANewProcessGivesTheSameBits > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(same_bits(io::load_npy(out), here));
}

#if PARITY_WITH_CUDA
// ---- the paths cuDNN's own choices may never take on a given card ----

using cuda::testing::ConvForcing;
using cuda::testing::ConvOpKind;
using cuda::testing::ForceConv;
using cuda::testing::last_conv_run;

// Every algorithm of each cuDNN op forced in turn (parity/cuda/conv_testing.h),
// deterministic or not: each one cuDNN runs computes the convolution within
// the bound of the tests above (16 (m + 1) u sum|products|, room for Winograd's
// and FFT's transforms); one it turns down is the usual "no usable algorithm"
// error naming the forced algorithm; the default algorithm of each op runs.
TEST(CudaConv, EveryAlgorithmForcedInTurn) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  struct OpAlgorithms {
    ConvOpKind op;
    int count;
    const char* name;
  };
  const OpAlgorithms ops[] = {{ConvOpKind::Forward, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, "forward"},
                              {ConvOpKind::BackwardData, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, "backward data"},
                              {ConvOpKind::BackwardFilter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                               "backward filter"}};
  const ConvCase cc{"algorithms", 2, 8, 12, 12, 8, 3, 3, {1, 1}, {1, 1}, Padding::symmetric(1, 1)};
  for (const DType dtype : {kFloat32, kFloat64}) {
    for (const Layout layout : {Layout::NHWC, Layout::NCHW}) {
      const Conv2dOptions o{.padding = cc.padding, .layout = layout};
      for (const OpAlgorithms& op : ops) {
        std::ostringstream ran;
        int count = 0;
        for (int algo = 0; algo < op.count; ++algo) {
          SCOPED_TRACE(std::string(op.name) + " algorithm " + std::to_string(algo) + ", " +
                       (dtype == kFloat32 ? "float32 " : "float64 ") + std::string(name(layout)));
          const ForceConv force(ConvForcing{.algorithm = algo, .op = op.op});
          try {
            check_conv(rng, dtype, cc, o, 16.0);
          } catch (const Error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("no usable algorithm"), std::string::npos) << what;
            EXPECT_NE(what.find("forced algo " + std::to_string(algo)), std::string::npos) << what;
            continue;
          }
          EXPECT_EQ(last_conv_run().algorithm >= 0, true);
          ran << " " << algo;
          ++count;
        }
        std::cout << "[  parity  ] " << op.name << ", " << (dtype == kFloat32 ? "float32 " : "float64 ")
                  << name(layout) << ": algorithms run" << ran.str() << "\n";
        EXPECT_GE(count, 1) << op.name << ": cuDNN ran none of its algorithms";
      }
    }
  }
}

// cuDNN turning NHWC down (forced): the call falls back to NCHW/KCRS copies
// and still computes the convolution, its gradients in the user's layouts.
TEST(CudaConv, RefusedNhwcFallsBackToNchw) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  const ForceConv force(ConvForcing{.refuse_nhwc = true});
  for (const KernelLayout kernel_layout : {KernelLayout::HWIO, KernelLayout::OIHW}) {
    const ConvCase& cc = conv_cases()[1];  // stride, dilation, padding
    const Conv2dOptions o{.stride = cc.stride,
                          .padding = cc.padding,
                          .dilation = cc.dilation,
                          .layout = Layout::NHWC,
                          .kernel_layout = kernel_layout};
    check_conv(rng, kFloat32, cc, o, 16.0);
    EXPECT_EQ(last_conv_run().layout, Layout::NCHW);
  }
}

// Batch chunking (32-bit indexing) at a forced small limit: a batch of 8 in
// chunks of 3 images gives the whole batch's results within the same bounds,
// weight and bias gradients summed over the chunks.
TEST(CudaConv, ChunkedBatchesMatchTheFloat64Result) {
  CUDA_CONV_PROLOGUE();
  TestRng rng;
  const ConvCase cc{"chunked", 8, 4, 10, 9, 6, 3, 3, {1, 1}, {1, 1}, Padding::same()};
  const i64 per_image = std::max(cc.c * cc.h * cc.w, cc.co * cc.h * cc.w);
  const ForceConv force(ConvForcing{.chunk_elements = 3 * per_image});
  for (const Layout layout : {Layout::NHWC, Layout::NCHW}) {
    SCOPED_TRACE(std::string(name(layout)));
    check_conv(rng, kFloat32, cc, {.padding = cc.padding, .layout = layout}, 16.0);
    EXPECT_EQ(last_conv_run().chunks, 3);
  }
}

// The real limit: a batch past 2^31 elements runs in chunks; images on both
// sides of the chunk boundary match the CPU within the bound.
TEST(CudaConv, BatchesPastTwoToThe31ElementsRunInChunks) {
  CUDA_CONV_PROLOGUE();
  const i64 n = 520, h = 2048, w = 2048;  // 520 * 2048^2 = 2.18e9 elements > 2^31 - 1
  const i64 bytes = n * h * w * 4;
  if (cuda::memory_info().free_bytes < 3 * bytes) GTEST_SKIP() << "needs " << 3 * bytes << " bytes free";
  Generator gen(2026);
  const Tensor x = rand({n, 1, h, w}, {.device = kCuda}, -1, 1, &gen);
  const Tensor k = rand({1, 1, 3, 3}, {.device = kCuda}, -1, 1, &gen);
  const Conv2dOptions o{.layout = Layout::NCHW, .kernel_layout = KernelLayout::OIHW};
  const Tensor y = conv2d(x, k, Tensor(), o);
  EXPECT_EQ(last_conv_run().chunks, 2);
  const Tensor k64 = k.to(kCpu).to(kFloat64);
  for (const i64 image : {i64{0}, i64{510}, i64{511}, n - 1}) {
    SCOPED_TRACE("image " + std::to_string(image));
    const Tensor xi = x.narrow(0, image, 1).to(kCpu).to(kFloat64);
    const Tensor want = conv2d(xi, k64, Tensor(), o);
    const Tensor mag = conv2d(abs(xi), abs(k64), Tensor(), o);
    EXPECT_TRUE(within(y.narrow(0, image, 1), want, mag, 16.0 * 10 * unit_roundoff(kFloat32)));
  }
}
#endif  // PARITY_WITH_CUDA
}  // namespace
}  // namespace parity::testing
