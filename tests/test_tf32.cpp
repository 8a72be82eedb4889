// MathMode::TF32 on every backend (Note [TF32 on the CPU], parity/cpu/tf32.h):
// rn::to_tf32 against an independent rounding in double; on the CPU, a TF32
// matmul or convolution is bit for bit the strict one of TF32-rounded operands
// (both CPU convolution algorithms, every direction, autograd's backward too);
// on a GPU, cuBLAS/cuDNN's TF32 agrees with the CPU's emulation within the
// float32 rounding of the sums, which tests the emulation's hypothesis
// (round to nearest, ties away, exact products, float32 sums).
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "parity/tensor/rounding.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

// Round to 11 significant bits, ties away from zero, computed in double with
// frexp/ldexp: another formula than rn::to_tf32's bit arithmetic.
float tf32_in_double(float x) {
  if (!std::isfinite(x) || x == 0) return x;
  int e = 0;
  const double m = std::frexp(static_cast<double>(x), &e);  // |m| in [0.5, 1)
  const int shift = std::min(11, e + 136);                    // denormals: TF32's grid stays at 2^-136
  const double scaled = std::ldexp(std::abs(m), shift);
  const double r = std::floor(scaled + 0.5);
  return static_cast<float>(std::copysign(std::ldexp(r, e - shift), static_cast<double>(x)));
}

TEST(Tf32Rounding, TiesGoAwayFromZeroAndSpecialValuesPassThrough) {
  const float one = 1.0f;
  EXPECT_EQ(rn::to_tf32(one), one);
  EXPECT_EQ(rn::to_tf32(1.0f + 0x1p-11f), 1.0f + 0x1p-10f);  // a tie: away (ties-to-even would give 1)
  EXPECT_EQ(rn::to_tf32(-(1.0f + 0x1p-11f)), -(1.0f + 0x1p-10f));
  EXPECT_EQ(rn::to_tf32(1.0f + 0x1p-11f - 0x1p-23f), 1.0f);   // just under the tie
  EXPECT_EQ(rn::to_tf32(1.0f + 0x1p-12f), 1.0f);
  EXPECT_EQ(rn::to_tf32(1.0f + 0x1p-10f + 0x1p-11f), 1.0f + 0x1p-9f);
  EXPECT_EQ(rn::to_tf32(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(rn::to_tf32(-std::numeric_limits<float>::infinity()), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(rn::to_tf32(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(rn::to_tf32(FLT_MAX), std::numeric_limits<float>::infinity());  // past the largest TF32 value
  EXPECT_EQ(rn::to_tf32(0x1p-149f), 0.0f);                                // below half of TF32's smallest step
  EXPECT_EQ(bits_of(rn::to_tf32(-0.0f)), bits_of(-0.0f));
}

TEST(Tf32Rounding, MatchesRoundingInDoubleOnFreshValues) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<std::uint32_t> any_bits;
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t b = any_bits(rng);
    if (i % 4 == 0) b = (b & 0xFFFFE000u) | 0x1000u;  // exact ties
    float x;
    std::memcpy(&x, &b, 4);
    if (!std::isfinite(x) || std::abs(x) >= 0x1.FFEp127f) continue;  // overflow is checked above
    const float r = rn::to_tf32(x);
    ASSERT_EQ(bits_of(r) & 0x1FFFu, 0u) << x;
    ASSERT_EQ(bits_of(r), bits_of(tf32_in_double(x))) << std::hexfloat << x;
  }
}

// The host values of t rounded to TF32, as a CPU tensor.
Tensor rounded(const Tensor& t) {
  const Tensor c = t.to(Device::cpu()).contiguous();
  std::vector<float> v = c.to_vector<float>();
  for (float& x : v) x = rn::to_tf32(x);
  return from_vector(v, c.shape());
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to(Device::cpu()).contiguous().to_vector<float>();
  const std::vector<float> vb = b.to(Device::cpu()).contiguous().to_vector<float>();
  return va.size() == vb.size() && std::memcmp(va.data(), vb.data(), va.size() * 4) == 0;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(sub(a.to(Device::cpu()).to(kFloat64), b.to(Device::cpu()).to(kFloat64)))).item<double>();
}

TEST(Tf32Cpu, MatmulIsTheStrictProductOfRoundedOperands) {
  const Tensor a = randn({3, 37, 129}), b = randn({3, 129, 45});
  const Tensor strict = matmul(a, b);
  Tensor tf32, tf32_transposed;
  {
    MathModeGuard guard(MathMode::TF32);
    tf32 = matmul(a, b);
    tf32_transposed = matmul(b.transpose(1, 2), a.transpose(1, 2));  // transposed operands
  }
  EXPECT_TRUE(same_bits(tf32, matmul(rounded(a), rounded(b))));
  EXPECT_TRUE(same_bits(tf32_transposed, matmul(rounded(b).transpose(1, 2), rounded(a).transpose(1, 2))));
  // TF32 keeps 11 significant bits: errors near 1e-3 of the terms, not float32's 1e-7.
  const double scale = max(abs(strict)).item<double>();
  EXPECT_GT(max_abs_diff(tf32, strict), 1e-4 * scale);
  EXPECT_LT(max_abs_diff(tf32, strict), 3e-2 * scale);
}

TEST(Tf32Cpu, Float64IsNotRounded) {
  const Tensor a = randn({20, 30}, {.dtype = kFloat64}), b = randn({30, 10}, {.dtype = kFloat64});
  const Tensor strict = matmul(a, b);
  MathModeGuard guard(MathMode::TF32);
  EXPECT_EQ(max_abs_diff(matmul(a, b), strict), 0.0);
}

TEST(Tf32Cpu, DenseGradientsAreRoundedProductsToo) {
  // y = x w; dL/dx = dy wᵀ and dL/dw = xᵀ dy, each under TF32.
  const Tensor x = randn({16, 40}).requires_grad_(), w = randn({40, 24}).requires_grad_();
  const Tensor dy = randn({16, 24});
  {
    MathModeGuard guard(MathMode::TF32);
    matmul(x, w).backward(dy);
  }
  EXPECT_TRUE(same_bits(x.grad(), matmul(rounded(dy), rounded(w).transpose(0, 1))));
  EXPECT_TRUE(same_bits(w.grad(), matmul(rounded(x).transpose(0, 1), rounded(dy))));
}

class Tf32CpuConv : public ::testing::TestWithParam<CpuConvAlgorithm> {};
INSTANTIATE_TEST_SUITE_P(Algorithms, Tf32CpuConv,
                         ::testing::Values(CpuConvAlgorithm::Im2colGemm, CpuConvAlgorithm::OneDnn),
                         [](const auto& info) { return std::string(name(info.param)); });

TEST_P(Tf32CpuConv, EveryDirectionIsTheStrictOneOfRoundedOperands) {
  CpuConvAlgorithmGuard algorithm(GetParam());
  for (const Layout layout : {Layout::NHWC, Layout::NCHW}) {
    const Conv2dOptions o{.stride = {2, 1}, .padding = Padding::same(), .layout = layout,
                          .kernel_layout = layout == Layout::NHWC ? KernelLayout::HWIO : KernelLayout::OIHW,
                          .mode = layout == Layout::NHWC ? ConvMode::CrossCorrelation : ConvMode::Convolution};
    const Shape xs = layout == Layout::NHWC ? Shape{4, 13, 11, 5} : Shape{4, 5, 13, 11};
    const Shape ws = layout == Layout::NHWC ? Shape{3, 3, 5, 6} : Shape{6, 5, 3, 3};
    const Tensor x = randn(xs), w = randn(ws), bias = randn({6});
    const Shape ys = conv2d_output_shape(xs, ws, o);
    const Tensor dy = randn(ys);
    Tensor y, dx, dw, y_strict;
    y_strict = conv2d(x, w, bias, o);
    {
      MathModeGuard guard(MathMode::TF32);
      y = conv2d(x, w, bias, o);
      dx = conv2d_backward_input(dy, w, xs, o);
      dw = conv2d_backward_weight(x, dy, ws, o);
    }
    SCOPED_TRACE(::testing::Message() << layout);
    EXPECT_TRUE(same_bits(y, conv2d(rounded(x), rounded(w), bias, o)));  // the bias is added in float32
    EXPECT_TRUE(same_bits(dx, conv2d_backward_input(rounded(dy), rounded(w), xs, o)));
    EXPECT_TRUE(same_bits(dw, conv2d_backward_weight(rounded(x), rounded(dy), ws, o)));
    EXPECT_GT(max_abs_diff(y, y_strict), 1e-4 * max(abs(y_strict)).item<double>());
  }
}

// On a GPU: cuBLAS / cuDNN's TF32 against the CPU's emulation. The two may sum
// in other orders, so they agree within 2 γ_k Σ|terms| of the rounded operands'
// products (k terms per output); a different operand rounding (truncation, say)
// would miss by about 2^-11 of the terms, ~100x that bound.
class Tf32Gpu : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, Tf32Gpu, ::testing::ValuesIn(test_devices()), device_name);

double sum_bound(std::int64_t k) {
  const double ku = static_cast<double>(k) * 0x1p-24;
  return 2.0 * ku / (1.0 - ku);
}

TEST_P(Tf32Gpu, MatchesTheCpuEmulationWithinSumRounding) {
  if (GetParam().is_cpu()) GTEST_SKIP() << "compares a GPU's TF32 with the CPU's emulation: no CUDA device here";
  const Tensor a = randn({64, 300}), b = randn({300, 48});
  Tensor cpu, gpu;
  {
    MathModeGuard guard(MathMode::TF32);
    cpu = matmul(a, b);
    gpu = matmul(a.to(GetParam()), b.to(GetParam())).to(Device::cpu());
  }
  const Tensor terms = matmul(abs(rounded(a)).to(kFloat64), abs(rounded(b)).to(kFloat64));
  const Tensor excess = sub(abs(sub(gpu.to(kFloat64), cpu.to(kFloat64))), mul(terms, Scalar(sum_bound(300))));
  EXPECT_LE(max(excess).item<double>(), 0.0) << "cuBLAS's TF32 is not the CPU's emulation: see Note [TF32 on the CPU]";

  const Conv2dOptions o{.layout = Layout::NCHW, .kernel_layout = KernelLayout::OIHW};
  const Tensor x = randn({8, 16, 20, 20}), w = randn({32, 16, 7, 7});
  Tensor ycpu, ygpu;
  {
    MathModeGuard guard(MathMode::TF32);
    ycpu = conv2d(x, w, Tensor(), o);
    ygpu = conv2d(x.to(GetParam()), w.to(GetParam()), Tensor(), o).to(Device::cpu());
  }
  const Tensor cterms = conv2d(abs(rounded(x)).to(kFloat64), abs(rounded(w)).to(kFloat64), Tensor(), o);
  const Tensor cexcess =
      sub(abs(sub(ygpu.to(kFloat64), ycpu.to(kFloat64))), mul(cterms, Scalar(sum_bound(16 * 7 * 7))));
  EXPECT_LE(max(cexcess).item<double>(), 0.0) << "cuDNN's TF32 is not the CPU's emulation: see Note [TF32 on the CPU]";
}

}  // namespace
}  // namespace parity::testing
