// Every op on CUDA against the same op on the CPU (as ggml's
// tests/test-backend-ops.cpp): the CPU backend is the reference here, itself
// checked against float64 by test_ops_*.cpp (which also run on CUDA).
//
// Agreement demanded:
// - bit for bit (a NaN matches any NaN: payloads differ between the CPU and the
//   GPU) for the ops that are one IEEE operation or none: neg, abs, sign, sqrt,
//   rsqrt, square, reciprocal, relu, add, sub, mul, div, maximum, minimum,
//   comparisons, where, clamp, cast, fill, in float32 and float64, and every
//   op on integers; for the RNG; for max, min, argmax, argmin, integer sums;
// - within a few ulps for exp, log, tanh, sigmoid and pow, which call each
//   platform's math library;
// - float sums and means within the error bound of any summation order
//   (reference.h sum_tolerance), and bit for bit between two runs on the GPU;
// - matmul within k * eps * (|A||B|) of the exact product, bit for bit between
//   two runs.
//
// Every test runs with guard bytes around every device allocation (parity/cuda/api.h
// set_guard_bytes): a kernel writing past its output fails the test. Inputs
// come dense, transposed, broadcast and misaligned (a view one element into a
// buffer, which takes the launcher's scalar path), at sizes that leave a tail
// after the 16-byte vectors. Without a GPU every test skips, saying so.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "parity/cuda/api.h"
#include "reference.h"
#include "parity/tensor/context.h"
#include "parity/tensor/functors.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

const Device kCuda = Device::cuda(0);
const Device kCpu = Device::cpu();

// Skips without a GPU; puts guard bytes around every device allocation and
// checks at the end that no kernel wrote outside its buffer.
class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    PARITY_REQUIRE_CUDA();
    cuda::set_guard_bytes(256);
    violations_ = cuda::guard_violations();
  }
  void TearDown() override {
    if (!cuda::is_available()) return;
    cuda::synchronize();
    cuda::set_guard_bytes(0);
    EXPECT_EQ(cuda::guard_violations() - violations_, expected_violations_)
        << "a kernel wrote outside its buffer: " << cuda::last_guard_violation();
  }
  std::int64_t expected_violations_ = 0;

 private:
  std::int64_t violations_ = 0;
};

// ---- comparisons ----

template <typename T>
bool same_value_bits(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a && b != b) return true;
  }
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// `gpu` (on CUDA) and `cpu` hold the same values bit for bit, any NaN matching any NaN.
::testing::AssertionResult identical(const Tensor& gpu, const Tensor& cpu) {
  if (gpu.shape() != cpu.shape() || gpu.dtype() != cpu.dtype()) {
    return ::testing::AssertionFailure() << "shape/dtype " << to_string(gpu.shape()) << " " << gpu.dtype()
                                         << " vs " << to_string(cpu.shape()) << " " << cpu.dtype();
  }
  if (!gpu.device().is_cuda()) return ::testing::AssertionFailure() << "the first tensor is not on CUDA";
  int bad = 0;
  std::ostringstream out;
  dispatch_dtype(gpu.dtype(), [&]<typename T>() {
    using H = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>;
    const Tensor g = gpu.to(kCpu).contiguous(), c = cpu.to(kCpu).contiguous();
    const H* gp = static_cast<const H*>(g.data_ptr());
    const H* cp = static_cast<const H*>(c.data_ptr());
    for (std::int64_t i = 0; i < g.numel(); ++i) {
      if (!same_value_bits(gp[i], cp[i]) && ++bad <= 6) {
        out << "\n  at flat index " << i << ": cuda " << std::setprecision(17) << +gp[i] << ", cpu "
            << +cp[i];
      }
    }
  });
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << gpu.numel() << " elements differ (shape "
                                       << to_string(gpu.shape()) << ", " << gpu.dtype() << "):" << out.str();
}

::testing::AssertionResult within_ulps(const Tensor& gpu, const Tensor& cpu, double n) {
  return matches(gpu, to_ref(cpu), ulps(n));
}

// ---- inputs ----

Tensor host_random(TestRng& rng, const Shape& shape, DType dtype, double lo, double hi) {
  return to_tensor(random_ref(rng, shape, dtype, lo, hi), kCpu);
}

// Magnitudes over many binades, random signs when `signed_values`.
Tensor host_magnitudes(TestRng& rng, const Shape& shape, DType dtype, bool signed_values) {
  std::vector<double> v = rng.log_uniform(ref_numel(shape), dtype, 1e-6, 1e6);
  if (signed_values) {
    for (double& x : v) x = rng.coin() ? -x : x;
  }
  return to_tensor(make_ref(shape, dtype, std::move(v)), kCpu);
}

// Writes NaN, -0, +0, +inf, -inf, 1 into the first elements of a float tensor.
void add_specials(Tensor& cpu) {
  if (!is_floating(cpu.dtype()) || cpu.numel() < 6) return;
  Tensor flat = cpu.reshape({-1});
  const double specials[] = {
      std::numeric_limits<double>::quiet_NaN(), -0.0, 0.0, std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(), 1.0};
  for (int i = 0; i < 6; ++i) flat.narrow(0, i, 1).fill_(specials[i]);
}

// The same values laid out three ways on the CPU and on CUDA: dense, as the
// transpose of a dense tensor, and one element into a larger buffer (misaligned
// for the vector path).
struct Layout {
  std::string name;
  Tensor cpu, gpu;
};

std::vector<Layout> layouts_of(const Tensor& base) {
  std::vector<Layout> out;
  out.push_back({"dense", base, base.to(kCuda)});
  if (base.dim() == 2) {
    const Tensor stored = base.t().contiguous();  // base == stored.t(), a non-contiguous view
    out.push_back({"transposed", stored.t(), stored.to(kCuda).t()});
  }
  const std::int64_t n = base.numel();
  Tensor buffer = zeros({n + 1}, {.dtype = base.dtype()});
  buffer.narrow(0, 1, n).copy_(base.reshape({-1}));
  const Tensor gpu_buffer = buffer.to(kCuda);
  out.push_back({"misaligned", buffer.narrow(0, 1, n).view(base.shape()),
                 gpu_buffer.narrow(0, 1, n).view(base.shape())});
  return out;
}

bool op_accepts(functors::Accepts accepts, DType dtype) {
  return dispatch_dtype(dtype, [&]<typename T>() { return functors::accepts<T>(accepts); });
}

// ---- elementwise ----

TEST_F(CudaOps, UnaryMatchesCpu) {
  TestRng rng;
  const Shape shape = {37, 129};  // 4773 elements: a tail after the vectors
  for (int o = 0; o < static_cast<int>(UnaryOp::kCount); ++o) {
    const auto op = static_cast<UnaryOp>(o);
    for (DType dtype : all_dtypes()) {
      if (!op_accepts(functors::accepts_of(op), dtype)) continue;
      SCOPED_TRACE(std::string(name(op)) + " " + std::string(name(dtype)));
      Tensor base;
      if (op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt) {
        base = host_magnitudes(rng, shape, dtype, false);
      } else if (op == UnaryOp::Reciprocal) {
        base = host_magnitudes(rng, shape, dtype, true);
      } else if (dtype == kUInt8) {
        base = host_random(rng, shape, dtype, 0, 255);
      } else {
        base = host_random(rng, shape, dtype, -20, 20);
      }
      add_specials(base);
      for (const Layout& l : layouts_of(base)) {
        SCOPED_TRACE(l.name);
        // Every unary op, exp, log, tanh, sigmoid and softplus included, gives
        // the CPU's bits (Note [Same bits on every device]).
        EXPECT_TRUE(identical(unary(op, l.gpu), unary(op, l.cpu)));
      }
    }
  }
}

// Note [Same bits on every device], over a stride of every float32 input
// (NaNs, infinities, subnormals, both zeros among them) and fresh float64 values
// of every magnitude: the GPU's elementary functions give the CPU's bits.
TEST_F(CudaOps, ElementaryFunctionsGiveTheCpusBitsOnEvery257thFloat32) {
  std::vector<std::uint32_t> bits;
  for (std::uint64_t u = 0; u < (std::uint64_t{1} << 32); u += 257) bits.push_back(static_cast<std::uint32_t>(u));
  const Tensor x32 = from_blob(bits.data(), {static_cast<std::int64_t>(bits.size())}, kFloat32);
  TestRng rng;
  Tensor x64 = host_magnitudes(rng, {1 << 20}, kFloat64, true);
  add_specials(x64);
  for (const UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Softplus}) {
    SCOPED_TRACE(std::string(name(op)));
    EXPECT_TRUE(identical(unary(op, x32.to(kCuda)), unary(op, x32)));
    EXPECT_TRUE(identical(unary(op, x64.to(kCuda)), unary(op, x64)));
    EXPECT_TRUE(identical(unary(op, (x64 * 1e-3).to(kCuda)), unary(op, x64 * 1e-3)));
  }
}

Tensor binary_input(TestRng& rng, BinaryOp op, bool second, const Shape& shape, DType dtype) {
  if (dtype == kUInt8) return host_random(rng, shape, dtype, 0, 255);
  if (dtype == kBool) return host_random(rng, shape, dtype, 0, 1);
  if (op == BinaryOp::Pow)
    return second ? host_random(rng, shape, dtype, -4, 4) : host_random(rng, shape, dtype, 0.1, 10);
  if (op == BinaryOp::Div && second) return host_magnitudes(rng, shape, dtype, true);
  // Small integers make ties for maximum/minimum and the comparisons.
  if (rng.coin() || !is_floating(dtype)) return host_random(rng, shape, dtype, -8, 8);
  return host_random(rng, shape, dtype, -100, 100);
}

TEST_F(CudaOps, BinaryMatchesCpu) {
  TestRng rng;
  for (int o = 0; o < static_cast<int>(BinaryOp::kCount); ++o) {
    const auto op = static_cast<BinaryOp>(o);
    const double tol = op == BinaryOp::Pow ? 8 : 0;
    for (DType dtype : all_dtypes()) {
      if (!op_accepts(functors::accepts_of(op), dtype)) continue;
      SCOPED_TRACE(std::string(name(op)) + " " + std::string(name(dtype)));
      Tensor a = binary_input(rng, op, false, {33, 65}, dtype);
      Tensor b = binary_input(rng, op, true, {33, 65}, dtype);
      if (op != BinaryOp::Pow) {
        add_specials(a);
        add_specials(b);
      }
      const std::vector<Layout> la = layouts_of(a), lb = layouts_of(b);
      for (std::size_t i = 0; i < la.size(); ++i) {
        SCOPED_TRACE(la[i].name);
        const Tensor got = binary(op, la[i].gpu, lb[i].gpu), want = binary(op, la[i].cpu, lb[i].cpu);
        if (tol > 0)
          EXPECT_TRUE(within_ulps(got, want, tol));
        else
          EXPECT_TRUE(identical(got, want));
      }
      // Broadcasting: [7, 1, 65] with [9, 65] (the strided path, stride-0 operands).
      const Tensor x = binary_input(rng, op, false, {7, 1, 65}, dtype);
      const Tensor y = binary_input(rng, op, true, {9, 65}, dtype);
      const Tensor got = binary(op, x.to(kCuda), y.to(kCuda)), want = binary(op, x, y);
      if (tol > 0)
        EXPECT_TRUE(within_ulps(got, want, tol)) << "broadcast";
      else
        EXPECT_TRUE(identical(got, want)) << "broadcast";
      const Tensor got_t = binary(op, y.to(kCuda), x.to(kCuda)), want_t = binary(op, y, x);
      if (tol > 0)
        EXPECT_TRUE(within_ulps(got_t, want_t, tol)) << "broadcast, swapped";
      else
        EXPECT_TRUE(identical(got_t, want_t)) << "broadcast, swapped";
    }
  }
}

TEST_F(CudaOps, ScalarOpsMatchCpu) {
  TestRng rng;
  for (int o = 0; o < static_cast<int>(BinaryOp::kCount); ++o) {
    const auto op = static_cast<BinaryOp>(o);
    const double tol = op == BinaryOp::Pow ? 8 : 0;
    for (DType dtype : all_dtypes()) {
      if (!op_accepts(functors::accepts_of(op), dtype)) continue;
      std::vector<Scalar> scalars;
      if (is_floating(dtype))
        scalars = {Scalar(2.5), Scalar(-1.75), Scalar(-0.0), Scalar(0.0)};
      else if (dtype == kBool)
        scalars = {Scalar(true), Scalar(false)};
      else
        scalars = {Scalar(3), Scalar(0)};
      Tensor x = binary_input(rng, op, false, {17, 67}, dtype);
      if (op != BinaryOp::Pow) add_specials(x);
      for (const Scalar& s : scalars) {
        for (bool first : {false, true}) {
          SCOPED_TRACE(std::string(name(op)) + " " + std::string(name(dtype)) + " scalar " +
                       std::to_string(s.to_double()) + (first ? " first" : " second"));
          for (const Layout& l : layouts_of(x)) {
            SCOPED_TRACE(l.name);
            const Tensor got = first ? binary(op, s, l.gpu) : binary(op, l.gpu, s);
            const Tensor want = first ? binary(op, s, l.cpu) : binary(op, l.cpu, s);
            if (tol > 0)
              EXPECT_TRUE(within_ulps(got, want, tol));
            else
              EXPECT_TRUE(identical(got, want));
          }
        }
      }
    }
  }
}

TEST_F(CudaOps, WhereClampCastFillMatchCpu) {
  TestRng rng;
  for (DType dtype : all_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Tensor cond = host_random(rng, {23, 1}, kBool, 0, 1);
    const Tensor a = host_random(rng, {23, 45}, dtype, 0, 100), b = host_random(rng, {45}, dtype, 0, 100);
    EXPECT_TRUE(identical(where(cond.to(kCuda), a.to(kCuda), b.to(kCuda)), where(cond, a, b))) << "where";
    if (dtype != kBool) {
      Tensor x = host_random(rng, {23, 45}, dtype, 0, 100);
      add_specials(x);
      for (const Layout& l : layouts_of(x)) {
        EXPECT_TRUE(identical(clamp(l.gpu, 10, 60), clamp(l.cpu, 10, 60))) << "clamp, " << l.name;
      }
    }
    for (const Scalar& v : {Scalar(0), Scalar(1), Scalar(7)}) {
      Tensor g = empty({5, 39}, {.dtype = dtype, .device = kCuda}), c = empty({5, 39}, {.dtype = dtype});
      EXPECT_TRUE(identical(g.fill_(v), c.fill_(v))) << "fill " << v;
    }
    if (is_floating(dtype)) {
      Tensor g = empty({1001}, {.dtype = dtype, .device = kCuda}), c = empty({1001}, {.dtype = dtype});
      EXPECT_TRUE(identical(g.fill_(-0.0), c.fill_(-0.0))) << "fill -0";
    }
    // Every conversion, values inside every target's range (out-of-range
    // float-to-integer conversion is undefined in C++ and differs by platform).
    const Tensor from = host_random(rng, {31, 37}, dtype, 0, 100);
    for (DType to : all_dtypes()) {
      for (const Layout& l : layouts_of(from)) {
        EXPECT_TRUE(identical(l.gpu.to(to), l.cpu.to(to))) << "cast to " << to << ", " << l.name;
      }
    }
  }
}

TEST_F(CudaOps, SizesAroundTheVectorWidth) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64, kInt32, kUInt8, kBool}) {
    for (std::int64_t n : {1, 2, 3, 7, 15, 16, 17, 31, 33, 255, 257, 1023, 4097, (1 << 20) + 5}) {
      SCOPED_TRACE(std::string(name(dtype)) + " n=" + std::to_string(n));
      const Tensor a = host_random(rng, {n}, dtype, 0, 50), b = host_random(rng, {n}, dtype, 0, 50);
      if (dtype != kBool) EXPECT_TRUE(identical(add(a.to(kCuda), b.to(kCuda)), add(a, b)));
      EXPECT_TRUE(identical(eq(a.to(kCuda), b.to(kCuda)), eq(a, b)));
      EXPECT_TRUE(identical(a.to(kCuda).to(kFloat64), a.to(kFloat64)));
    }
  }
}

// Guard buffers by hand: an in-place op on a view in the middle of a larger
// buffer must leave the margins as they were (poison before, check after).
TEST_F(CudaOps, InPlaceOpsOnViewsKeepTheMargins) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64, kInt32, kInt64, kUInt8}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const std::int64_t margin = 67, n = 1000, rows = 10, cols = 100;
    const Tensor poison_value = full({1}, dtype == kUInt8 ? 0xA5 : 12345, {.dtype = dtype});
    Tensor big_cpu = full({margin + n + margin}, dtype == kUInt8 ? 0xA5 : 12345, {.dtype = dtype});
    Tensor big_gpu = big_cpu.to(kCuda);
    auto mid = [&](Tensor& big) { return big.narrow(0, margin, n).view({rows, cols}); };
    const Tensor src = host_random(rng, {rows, cols}, dtype, 0, 100);
    const Tensor src_t = host_random(rng, {cols, rows}, dtype, 0, 100).t();  // non-contiguous source
    auto both = [&](auto&& f) {
      Tensor mc = mid(big_cpu), mg = mid(big_gpu);
      f(mc, kCpu);
      f(mg, kCuda);
    };
    // Each step runs on both devices, the CUDA one on views of big_gpu.
    both([&](Tensor& m, Device) { m.fill_(3); });
    both([&](Tensor& m, Device d) { m.copy_(src.to(d)); });
    both([&](Tensor& m, Device d) { m.add_(src_t.to(d)); });
    both([&](Tensor& m, Device) { m.mul_(2); });
    both([&](Tensor& m, Device) { m.clamp_(5, 150); });
    both([&](Tensor& m, Device) { m.relu_(); });
    both([&](Tensor& m, Device d) { m.copy_(src_t.to(d)); });
    both([&](Tensor& m, Device d) { m.t().copy_(src.t().to(d)); });
    both([&](Tensor& m, Device) { m.narrow(1, 3, 50).sub_(1); });
    EXPECT_TRUE(identical(big_gpu, big_cpu));
    const Tensor margins = big_gpu.to(kCpu);
    EXPECT_TRUE(
        identical(margins.narrow(0, 0, margin).to(kCuda), poison_value.expand({margin}).contiguous()));
    EXPECT_TRUE(identical(margins.narrow(0, margin + n, margin).to(kCuda),
                          poison_value.expand({margin}).contiguous()));
  }
}

// The allocator's guard bytes catch a write past the end of a buffer.
TEST_F(CudaOps, GuardBytesCatchAnOverrun) {
  {
    const Tensor t = empty({256}, {.device = kCuda});
    // A view 44 elements longer than its storage (no public op does this).
    Tensor over = make_tensor(t.storage(), 0, {300}, {1}, kFloat32);
    over.fill_(1.0f);
  }
  cuda::synchronize();
  expected_violations_ = 1;
}

// ---- reductions ----

struct ReduceCase {
  Shape shape;
  std::vector<std::int64_t> dims;  // empty: all
};

std::vector<ReduceCase> reduce_cases() {
  return {
      {{1000003}, {}},        // one long row: split into segments, two passes
      {{37, 70001}, {1}},     // few long rows: segments
      {{2000, 513}, {1}},     // many rows: one block each
      {{513, 7}, {1}},        // short rows: one thread each
      {{100, 300, 3}, {1}},   // columns, split along r
      {{5000, 64}, {0}},      // few columns, long: split along r
      {{64, 5000}, {0}},      // many columns
      {{7, 11, 13}, {0, 2}},  // non-adjacent dims: a permuted copy, then rows
      {{6, 5}, {}},           // tiny
      {{4, 0, 3}, {1}},       // empty extent: sum 0, mean NaN
      {{3, 1, 4}, {1}},       // extent 1
  };
}

std::string case_name(const ReduceCase& c) {
  std::string s = to_string(c.shape) + " dims";
  for (auto d : c.dims) s += " " + std::to_string(d);
  return c.dims.empty() ? to_string(c.shape) + " all" : s;
}

TEST_F(CudaOps, SumAndMeanMatchCpuAndRepeat) {
  TestRng rng;
  for (DType dtype : all_dtypes()) {
    for (const ReduceCase& c : reduce_cases()) {
      SCOPED_TRACE(std::string(name(dtype)) + " " + case_name(c));
      const Tensor x = host_random(rng, c.shape, dtype, dtype == kUInt8 ? 0 : -1, dtype == kUInt8 ? 255 : 1);
      const Tensor xg = x.to(kCuda);
      for (bool keepdim : {false, true}) {
        const Tensor got = sum(xg, c.dims, keepdim), again = sum(xg, c.dims, keepdim);
        EXPECT_TRUE(same_bits(got, again)) << "two runs of sum differ";
        if (!is_floating(dtype)) {
          EXPECT_TRUE(identical(got, sum(x, c.dims, keepdim)));
          continue;
        }
        // Both within the summation-order error bound of the exact sum.
        const Ref xr = to_ref(x);
        const std::vector<double> abs_sums = ref_abs_sums(xr, c.dims, keepdim);
        const std::int64_t n = x.numel() / std::max<std::int64_t>(got.numel(), 1);
        std::vector<double> tol(abs_sums.size());
        for (std::size_t i = 0; i < tol.size(); ++i) tol[i] = sum_tolerance(n, abs_sums[i], dtype);
        EXPECT_TRUE(matches(got, ref_reduce(xr, RefReduce::Sum, c.dims, keepdim, dtype), {0, tol}));
        const Tensor m = mean(xg, c.dims, keepdim);
        EXPECT_TRUE(same_bits(m, mean(xg, c.dims, keepdim))) << "two runs of mean differ";
        for (double& t : tol) t /= static_cast<double>(std::max<std::int64_t>(n, 1));
        EXPECT_TRUE(matches(m, ref_reduce(xr, RefReduce::Mean, c.dims, keepdim, dtype), {1, tol}));
      }
    }
  }
}

TEST_F(CudaOps, MaxMinArgMatchCpuExactly) {
  TestRng rng;
  for (DType dtype : numeric_dtypes()) {
    for (const ReduceCase& c : reduce_cases()) {
      if (ref_numel(c.shape) == 0) continue;
      SCOPED_TRACE(std::string(name(dtype)) + " " + case_name(c));
      // Few distinct values: many ties, where the first index must win.
      Tensor x = host_random(rng, c.shape, kInt32, 0, 5).to(dtype);
      if (is_floating(dtype) && rng.coin()) {
        // NaNs at two places: the first counts as the extreme.
        Tensor flat = x.reshape({-1});
        const std::int64_t n = flat.numel();
        flat.narrow(0, n / 3, 1).fill_(std::numeric_limits<double>::quiet_NaN());
        flat.narrow(0, n - 1, 1).fill_(std::numeric_limits<double>::quiet_NaN());
      }
      if (is_floating(dtype)) {  // -0 and +0 tie
        Tensor flat = x.reshape({-1});
        flat.narrow(0, 0, 1).fill_(-0.0);
      }
      const Tensor xg = x.to(kCuda);
      for (bool keepdim : {false, true}) {
        EXPECT_TRUE(identical(max(xg, c.dims, keepdim), max(x, c.dims, keepdim))) << "max";
        EXPECT_TRUE(identical(min(xg, c.dims, keepdim), min(x, c.dims, keepdim))) << "min";
        if (c.dims.size() == 1) {
          EXPECT_TRUE(identical(argmax(xg, c.dims[0], keepdim), argmax(x, c.dims[0], keepdim))) << "argmax";
          EXPECT_TRUE(identical(argmin(xg, c.dims[0], keepdim), argmin(x, c.dims[0], keepdim))) << "argmin";
        }
      }
      EXPECT_TRUE(identical(argmax(xg), argmax(x))) << "argmax of all";
      EXPECT_TRUE(identical(argmin(xg), argmin(x))) << "argmin of all";
    }
  }
}

// ---- matmul ----

struct MatmulCase {
  Shape a, b;
  bool ta = false, tb = false;  // pass the operand as the transpose of a stored matrix
};

TEST_F(CudaOps, MatmulMatchesTheExactProductAndRepeats) {
  TestRng rng;
  const std::vector<MatmulCase> cases = {
      {{5, 7}, {7, 3}},
      {{64, 128}, {128, 33}},
      {{64, 128}, {128, 33}, true, false},
      {{64, 128}, {128, 33}, false, true},
      {{64, 128}, {128, 33}, true, true},
      {{1, 300}, {300, 1}},
      {{300}, {300, 17}},
      {{17, 300}, {300}},
      {{3, 17, 19}, {3, 19, 5}},     // one strided batch
      {{3, 1, 17, 19}, {4, 19, 5}},  // broadcast batch dims: a loop of strided batches
      {{2, 3, 17, 19}, {19, 5}},     // B shared by every batch (stride 0)
      {{257, 129}, {129, 255}},
  };
  for (DType dtype : float_dtypes()) {
    for (const MatmulCase& c : cases) {
      SCOPED_TRACE(std::string(name(dtype)) + " " + to_string(c.a) + (c.ta ? "^T" : "") + " x " +
                   to_string(c.b) + (c.tb ? "^T" : ""));
      const Tensor a = host_random(rng, c.a, dtype, -1, 1), b = host_random(rng, c.b, dtype, -1, 1);
      auto place = [](const Tensor& t, bool trans) {
        const Tensor g = t.to(kCuda);
        if (!trans || t.dim() < 2) return g;
        return g.transpose(-1, -2).contiguous().transpose(-1, -2);  // same values, column-major storage
      };
      const Tensor ag = place(a, c.ta), bg = place(b, c.tb);
      const Tensor got = matmul(ag, bg);
      EXPECT_TRUE(same_bits(got, matmul(ag, bg))) << "two runs differ";
      std::vector<double> scale;
      const Ref want = ref_matmul(to_ref(a), to_ref(b), &scale);
      const std::int64_t k = c.a.back();
      const double eps = dtype == kFloat32 ? 0x1p-24 : 0x1p-53;
      for (double& s : scale) s = 2.0 * static_cast<double>(k) * eps * s + 1e-300;
      EXPECT_TRUE(matches(got, want, {0, scale}));
    }
  }
}

// ---- random numbers ----

TEST_F(CudaOps, RandomNumbersMatchCpuBitForBit) {
  TestRng rng;
  const std::uint64_t seed = rng.engine()();
  for (std::int64_t n : {1, 3, 4, 5, 7, 1000, 1000003}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    for (DType dtype : float_dtypes()) {
      Generator gc(seed), gg(seed);
      for (int draw = 0; draw < 2; ++draw) {  // successive draws use successive offsets
        EXPECT_TRUE(identical(rand({n}, {.dtype = dtype, .device = kCuda}, -2, 3, &gg),
                              rand({n}, {.dtype = dtype}, -2, 3, &gc)))
            << "rand " << dtype;
        EXPECT_TRUE(identical(randn({n}, {.dtype = dtype, .device = kCuda}, 0.5, 2, &gg),
                              randn({n}, {.dtype = dtype}, 0.5, 2, &gc)))
            << "randn " << dtype;
      }
    }
    for (DType dtype : {kInt32, kInt64, kUInt8}) {
      Generator gc(seed), gg(seed);
      const std::int64_t lo = dtype == kUInt8 ? 3 : -1000, hi = dtype == kUInt8 ? 250 : 123457;
      EXPECT_TRUE(identical(randint(lo, hi, {n}, {.dtype = dtype, .device = kCuda}, &gg),
                            randint(lo, hi, {n}, {.dtype = dtype}, &gc)))
          << "randint " << dtype;
    }
  }
}

// ---- copies ----

TEST_F(CudaOps, CopiesRoundTripAtEverySize) {
  TestRng rng;
  // Across the direct/staged threshold (1 MiB) and the staging chunk (8 MiB).
  for (std::int64_t bytes :
       {std::int64_t{4}, std::int64_t{4096}, (std::int64_t{1} << 20) - 4, std::int64_t{1} << 20,
        (std::int64_t{8} << 20) + 4, (std::int64_t{16} << 20) + 12, (std::int64_t{41} << 20) + 8}) {
    SCOPED_TRACE("bytes=" + std::to_string(bytes));
    const Tensor x = rand({bytes / 4}, {}, -1, 1);
    const Tensor g = x.to(kCuda);
    EXPECT_EQ(g.device(), kCuda);
    EXPECT_TRUE(identical(g, x));
    EXPECT_TRUE(same_bits(g.to(kCpu), x));
    // Into a strided CPU destination.
    Tensor host = zeros({bytes / 4, 2});
    host.select(1, 1).copy_(g);
    EXPECT_TRUE(same_bits(host.select(1, 1), x));
  }
  const Tensor g = rand({10}, {.device = kCuda});
  EXPECT_TRUE(g.to(kCuda).is_same(g)) << "to() onto the same device aliases";
  EXPECT_EQ(g.to(kCpu).to(kCuda).to_vector<float>(), g.to_vector<float>());
  EXPECT_EQ(full({}, 2.5, {.device = kCuda}).item<float>(), 2.5f);
  EXPECT_EQ(full({}, 7, {.dtype = kInt64, .device = kCuda}).item<std::int64_t>(), 7);
}

TEST_F(CudaOps, CopiesBetweenTwoGpus) {
  if (cuda::device_count() < 2) GTEST_SKIP() << "one CUDA device: nothing to copy between";
  const Tensor x = rand({1 << 20}, {.device = Device::cuda(0)}, -1, 1);
  const Tensor y = x.to(Device::cuda(1));
  EXPECT_EQ(y.device(), Device::cuda(1));
  EXPECT_TRUE(same_bits(y, x));
  EXPECT_TRUE(same_bits(add(y, y).to(Device::cuda(0)), add(x, x)));
}

// ---- 64-bit indexing ----

TEST_F(CudaOps, TensorsPastTwoGigabytes) {
  if (cuda::memory_info(0).free_bytes < (std::int64_t{20} << 30))
    GTEST_SKIP() << "needs 20 GiB of device memory";
  cuda::set_guard_bytes(0);  // 12 GiB of traffic; the guarded ops are above
  {
    // float32 [2^29, 2]: 4 GiB; its transpose takes the 64-bit strided path.
    const std::int64_t rows = std::int64_t{1} << 29;
    const Tensor x = full({rows, 2}, 1.0f, {.device = kCuda});
    Tensor y = add(x.t(), 1.0);  // [2, 2^29], every element 2
    EXPECT_EQ(y.shape(), (Shape{2, rows}));
    EXPECT_EQ(sum(y).item<double>(), 4.0 * static_cast<double>(rows));  // 2^31: exact in float32
    y.select(0, 1).narrow(0, rows - 3, 1).fill_(5.0f);
    EXPECT_EQ(argmax(y).item<std::int64_t>(), 2 * rows - 3);
    EXPECT_EQ(y.select(0, 1).narrow(0, rows - 4, 4).to_vector<float>(), (std::vector<float>{2, 5, 2, 2}));
  }
  {
    // uint8 with more than 2^31 elements: indices past int32 in the contiguous
    // launcher and in the reductions.
    const std::int64_t n = (std::int64_t{1} << 31) + 64;
    Tensor x = zeros({n}, {.dtype = kUInt8, .device = kCuda});
    x.narrow(0, n - 54, 1).fill_(7);
    EXPECT_EQ(argmax(x).item<std::int64_t>(), n - 54);
    const Tensor y = add(x, 1);
    EXPECT_EQ(sum(y).item<std::int64_t>(), n + 7);
    EXPECT_EQ(max(y).item<std::int64_t>(), 8);
  }
  cuda::empty_cache(0);
}

}  // namespace
}  // namespace parity::testing
