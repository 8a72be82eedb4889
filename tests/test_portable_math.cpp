// The elementary functions of Note [Same bits on every device]
// (parity/tensor/portable_math.h): float32 results against a long double
// reference over a stride of every float32 input (and, by hand, over every one:
// ctest -L exhaustive), float64 results within their stated bounds, the IEEE
// special values, and the same bits from every instruction set's loop (Note
// [One loop per instruction set], parity/cpu/elementwise_isa.h).
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "parity/cpu/elementwise_isa.h"
#include "parity/tensor/portable_math.h"

namespace parity::testing {
namespace {

// One float32 function: how the library computes it over many inputs at once,
// and its reference in long double (64-bit significand: its error is 2^-40 of
// a float32 ulp, so rounding it to float gives the correctly rounded result).
struct Float32Function {
  const char* name;
  std::function<void(const float* in, float* out, std::int64_t n)> library;
  long double (*reference)(long double);
  // Whether the sweep of every float32 input has run on this function's
  // current code (docs/NUMERICS.md has its result), and the inputs it found not
  // correctly rounded (the double result within its few ulps of a midpoint
  // between two floats): off by one ulp, each within kHardCaseUlps. For a swept
  // function any other misrounded input fails; for the others a strided sweep
  // checks kHardCaseUlps only. The CI sweep checks the known ones too.
  bool swept_exhaustively = false;
  std::vector<std::uint32_t> known_misrounded = {};
};

constexpr double kHardCaseUlps = 0.5 + 1.0 / (1 << 20);

// Through the tensor op on the CPU (the loop of the widest instruction set the
// machine has), or the scalar function where Parity has no op of it.
auto through_op(UnaryOp op) {
  return [op](const float* in, float* out, std::int64_t n) {
    const Tensor x = from_blob(in, {n}, kFloat32);
    const Tensor y = unary(op, x);
    std::memcpy(out, y.data<float>(), static_cast<std::size_t>(n) * sizeof(float));
  };
}
template <float (*F)(float)>
void through_scalar(const float* in, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = F(in[i]);
}
float scalar_expm1(float x) { return pmath::expm1(x); }
float scalar_log1p(float x) { return pmath::log1p(x); }

long double ref_sigmoid(long double x) { return 1.0L / (1.0L + expl(-x)); }
long double ref_softplus(long double x) { return (x > 0 ? x : 0.0L) + log1pl(expl(-fabsl(x))); }

std::vector<Float32Function> float32_functions() {
  return {
      {"exp", through_op(UnaryOp::Exp), [](long double x) { return expl(x); }, true},
      {"log", through_op(UnaryOp::Log), [](long double x) { return logl(x); }, true,
       {0x3c413d3a, 0x6f31a8ec, 0x41178feb, 0x4c5d65a5, 0x65d890d3}},
      {"tanh", through_op(UnaryOp::Tanh), [](long double x) { return tanhl(x); }},
      {"sigmoid", through_op(UnaryOp::Sigmoid), ref_sigmoid},
      {"softplus", through_op(UnaryOp::Softplus), ref_softplus},
      {"expm1", through_scalar<scalar_expm1>, [](long double x) { return expm1l(x); }},
      {"log1p", through_scalar<scalar_log1p>, [](long double x) { return log1pl(x); }},
  };
}

float float_of(std::uint32_t bits) { return std::bit_cast<float>(bits); }

struct SweepResult {
  std::int64_t inputs = 0;
  std::int64_t misrounded = 0;  // not the correctly rounded float
  double max_ulps = 0;          // largest |got - exact| in ulps of the exact value's float
  std::uint32_t worst = 0;
  std::vector<std::uint32_t> misrounded_inputs;  // the first 64 of each thread
};

// |got - ref| in units of the last place of the T nearest ref; 0 for a NaN
// both are, infinite for a NaN only one is or an infinity that differs.
template <typename T>
double ulps_off(T got, long double ref) {
  const T want = static_cast<T>(ref);
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(want) || std::isinf(got)) return got == want ? 0 : INFINITY;
  const T a = std::fabs(want);
  const long double ulp = a == 0 ? std::numeric_limits<T>::denorm_min()
                                 : static_cast<long double>(std::nextafter(a, std::numeric_limits<T>::infinity())) - a;
  return static_cast<double>(fabsl(static_cast<long double>(got) - ref) / ulp);
}

// Inputs offset, offset + stride, ... below 2^32 (every bit pattern: NaNs,
// infinities, subnormals and both zeros among them), on every core.
SweepResult sweep(const Float32Function& f, std::uint64_t stride, std::uint64_t offset) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const std::uint64_t count = ((std::uint64_t{1} << 32) - offset + stride - 1) / stride;
  std::vector<SweepResult> parts(threads);
  // The op runs on this thread (the library's own loop is parallel); the
  // reference, the costly part, on every core.
  constexpr std::uint64_t kBlock = std::uint64_t{1} << 22;
  std::vector<float> in(kBlock), out(kBlock);
  for (std::uint64_t first = 0; first < count; first += kBlock) {
    const std::uint64_t n = std::min(kBlock, count - first);
    for (std::uint64_t i = 0; i < n; ++i) in[i] = float_of(static_cast<std::uint32_t>(offset + (first + i) * stride));
    f.library(in.data(), out.data(), static_cast<std::int64_t>(n));
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        SweepResult& r = parts[t];
        for (std::uint64_t i = t; i < n; i += threads) {
          const double off = ulps_off(out[i], f.reference(in[i]));
          ++r.inputs;
          if (off > 0.5) {
            ++r.misrounded;
            if (r.misrounded_inputs.size() < 64) r.misrounded_inputs.push_back(std::bit_cast<std::uint32_t>(in[i]));
          }
          if (off > r.max_ulps) r.max_ulps = off, r.worst = std::bit_cast<std::uint32_t>(in[i]);
        }
      });
    }
    for (std::thread& t : pool) t.join();
  }
  SweepResult all;
  for (const SweepResult& r : parts) {
    all.inputs += r.inputs;
    all.misrounded += r.misrounded;
    if (r.max_ulps > all.max_ulps) all.max_ulps = r.max_ulps, all.worst = r.worst;
    all.misrounded_inputs.insert(all.misrounded_inputs.end(), r.misrounded_inputs.begin(), r.misrounded_inputs.end());
  }
  return all;
}

// Every input swept correctly rounded but the known hard cases, which are
// within kHardCaseUlps; those are checked on every sweep, whatever its stride.
void expect_correctly_rounded(std::uint64_t stride, std::uint64_t offset, const char* only) {
  for (const Float32Function& f : float32_functions()) {
    if (only != nullptr && std::string(only).find(f.name) == std::string::npos) continue;
    const SweepResult r = sweep(f, stride, offset);
    std::printf("%-9s %lld inputs: %lld not correctly rounded, largest error %.9f ulp (at %a)\n", f.name,
                static_cast<long long>(r.inputs), static_cast<long long>(r.misrounded), r.max_ulps,
                static_cast<double>(float_of(r.worst)));
    for (const std::uint32_t bits : r.misrounded_inputs) {
      const bool known = std::find(f.known_misrounded.begin(), f.known_misrounded.end(), bits) != f.known_misrounded.end();
      std::printf("  misrounded: 0x%08x (%a)%s\n", bits, static_cast<double>(float_of(bits)), known ? ", known" : "");
      if (f.swept_exhaustively) {
        EXPECT_TRUE(known) << f.name << ": 0x" << std::hex << bits << " (" << float_of(bits)
                           << ") is not correctly rounded and not among the known hard cases";
      }
    }
    EXPECT_LE(r.max_ulps, kHardCaseUlps) << f.name << " at " << float_of(r.worst);
    for (const std::uint32_t bits : f.known_misrounded) {
      const float x = float_of(bits);
      float y;
      f.library(&x, &y, 1);
      EXPECT_LE(ulps_off(y, f.reference(x)), kHardCaseUlps) << f.name << " at the known hard case " << x;
    }
  }
}

// CI: every 64th float32 input from an offset drawn afresh each run (printed:
// PARITY_MATH_SWEEP_OFFSET repeats a run). Functions swept exhaustively must
// be correctly rounded but for their known hard cases; the others within
// kHardCaseUlps (their misrounded inputs are printed).
TEST(PortableMath, Float32ResultsAreCorrectlyRoundedOnEvery64thInput) {
  std::uint64_t offset = std::random_device{}() % 64;
  if (const char* fixed = std::getenv("PARITY_MATH_SWEEP_OFFSET")) offset = std::strtoull(fixed, nullptr, 10) % 64;
  std::printf("offset %llu (PARITY_MATH_SWEEP_OFFSET=%llu repeats this run)\n",
              static_cast<unsigned long long>(offset), static_cast<unsigned long long>(offset));
  expect_correctly_rounded(64, offset, nullptr);
}

// By hand (ctest -L exhaustive, a few minutes on two cores): all 2^32 inputs.
// Its result is in docs/NUMERICS.md.
// PARITY_MATH_SWEEP_FUNCTIONS="exp tanh" sweeps only those.
TEST(PortableMath, DISABLED_Float32ResultsAreCorrectlyRoundedOnEveryInput) {
  expect_correctly_rounded(1, 0, std::getenv("PARITY_MATH_SWEEP_FUNCTIONS"));
}

// float64: within the bound docs/NUMERICS.md states for each (the largest error
// seen over 30 million samples, plus half an ulp), on fresh random inputs over the
// ranges where each function's result is a normal number, and near zero.
TEST(PortableMath, Float64ResultsAreWithinTheirStatedBounds) {
  struct Case {
    const char* name;
    double (*library)(double);
    long double (*reference)(long double);
    double lo, hi, bound_ulps;
  };
  const std::vector<Case> cases = {
      {"exp", [](double x) { return pmath::exp(x); }, [](long double x) { return expl(x); }, -708, 709, 1.5},
      {"expm1", [](double x) { return pmath::expm1(x); }, [](long double x) { return expm1l(x); }, -40, 709, 2.5},
      {"log", [](double x) { return pmath::log(x); }, [](long double x) { return logl(x); }, 1e-300, 1e300, 2.5},
      {"log near 1", [](double x) { return pmath::log(x); }, [](long double x) { return logl(x); }, 0.5, 2, 2.5},
      {"log1p", [](double x) { return pmath::log1p(x); }, [](long double x) { return log1pl(x); }, -0.999, 1e3, 3.0},
      {"tanh", [](double x) { return pmath::tanh(x); }, [](long double x) { return tanhl(x); }, -20, 20, 3.0},
      {"sigmoid", [](double x) { return pmath::sigmoid(x); }, ref_sigmoid, -700, 700, 3.0},
      {"softplus", [](double x) { return pmath::softplus(x); }, ref_softplus, -700, 700, 4.0},
  };
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (const Case& c : cases) {
    double worst = 0, worst_x = 0;
    for (const double scale : {1.0, 1e-3, 1e-9}) {  // and nearer zero, where expm1, log1p, tanh keep their relative error
      const double lo = c.lo > 0 ? c.lo : c.lo * scale;
      std::uniform_real_distribution<double> draw(lo, c.lo > 0 ? c.hi : c.hi * scale);
      for (int i = 0; i < 200000; ++i) {
        const double x = draw(rng);
        const double off = ulps_off(c.library(x), c.reference(x));
        if (off > worst) worst = off, worst_x = x;
      }
    }
    std::printf("%-10s float64: largest error %.3f ulp (at %a), bound %.1f\n", c.name, worst, worst_x, c.bound_ulps);
    EXPECT_LE(worst, c.bound_ulps) << c.name << " at " << worst_x;
  }
}

template <typename T>
void expect_same(T got, T want, const char* what, T x) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << "(" << x << ") = " << got << ", want NaN";
  } else {
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    EXPECT_EQ(std::bit_cast<Bits>(got), std::bit_cast<Bits>(want)) << what << "(" << x << ") = " << got << ", want " << want;
  }
}

template <typename T>
void expect_ieee_special_values() {
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T tiny = std::numeric_limits<T>::denorm_min();
  struct Case {
    const char* name;
    T (*f)(T);
    T x, want;
  };
  // Through lambdas: the pmath functions are always_inline, and g++ refuses
  // such a function called through a pointer it cannot resolve.
  T (*f_exp)(T) = [](T x) { return pmath::exp(x); };
  T (*f_expm1)(T) = [](T x) { return pmath::expm1(x); };
  T (*f_log)(T) = [](T x) { return pmath::log(x); };
  T (*f_log1p)(T) = [](T x) { return pmath::log1p(x); };
  T (*f_tanh)(T) = [](T x) { return pmath::tanh(x); };
  T (*f_sigmoid)(T) = [](T x) { return pmath::sigmoid(x); };
  T (*f_softplus)(T) = [](T x) { return pmath::softplus(x); };
  const std::vector<Case> cases = {
      {"exp", f_exp, nan, nan},        {"exp", f_exp, inf, inf},
      {"exp", f_exp, -inf, T(0)},      {"exp", f_exp, T(0), T(1)},
      {"exp", f_exp, T(-0.0), T(1)},   {"exp", f_exp, T(1e6), inf},
      {"exp", f_exp, T(-1e6), T(0)},   {"expm1", f_expm1, T(-0.0), T(-0.0)},
      {"expm1", f_expm1, T(0), T(0)},  {"expm1", f_expm1, -inf, T(-1)},
      {"expm1", f_expm1, inf, inf},    {"expm1", f_expm1, nan, nan},
      {"expm1", f_expm1, tiny, tiny},  {"log", f_log, T(0), -inf},
      {"log", f_log, T(-0.0), -inf},   {"log", f_log, T(-1), nan},
      {"log", f_log, inf, inf},        {"log", f_log, -inf, nan},
      {"log", f_log, nan, nan},        {"log", f_log, T(1), T(0)},
      {"log1p", f_log1p, T(-1), -inf}, {"log1p", f_log1p, T(-2), nan},
      {"log1p", f_log1p, inf, inf},    {"log1p", f_log1p, T(-0.0), T(-0.0)},
      {"log1p", f_log1p, tiny, tiny},  {"log1p", f_log1p, nan, nan},
      {"tanh", f_tanh, T(0), T(0)},    {"tanh", f_tanh, T(-0.0), T(-0.0)},
      {"tanh", f_tanh, inf, T(1)},     {"tanh", f_tanh, -inf, T(-1)},
      {"tanh", f_tanh, nan, nan},      {"tanh", f_tanh, -tiny, -tiny},
      {"sigmoid", f_sigmoid, T(0), T(0.5)},       {"sigmoid", f_sigmoid, inf, T(1)},
      {"sigmoid", f_sigmoid, -inf, T(0)},         {"sigmoid", f_sigmoid, nan, nan},
      {"softplus", f_softplus, -inf, T(0)},       {"softplus", f_softplus, inf, inf},
      {"softplus", f_softplus, nan, nan},         {"softplus", f_softplus, T(1e30), T(1e30)},
  };
  for (const Case& c : cases) expect_same(c.f(c.x), c.want, c.name, c.x);
  // The ends of the range: the largest finite exp, the smallest subnormal one.
  EXPECT_TRUE(std::isfinite(pmath::exp(sizeof(T) == 4 ? T(88.72283) : T(709.78))));
  EXPECT_TRUE(std::isinf(pmath::exp(sizeof(T) == 4 ? T(88.7229) : T(709.79))));
  EXPECT_GT(pmath::exp(sizeof(T) == 4 ? T(-103.9) : T(-745.1)), T(0));
  EXPECT_EQ(pmath::log(tiny), static_cast<T>(logl(static_cast<long double>(tiny))));
  // Sigmoid of a large negative x is e^x, subnormal, not 0.
  EXPECT_GT(pmath::sigmoid(sizeof(T) == 4 ? T(-100) : T(-740)), T(0));
}

TEST(PortableMath, IeeeSpecialValuesFloat32) { expect_ieee_special_values<float>(); }
TEST(PortableMath, IeeeSpecialValuesFloat64) { expect_ieee_special_values<double>(); }

// Fresh random values of every magnitude, with the special values among them.
template <typename T>
Tensor mixed_values(std::mt19937_64& rng, std::int64_t n) {
  std::vector<T> v(static_cast<std::size_t>(n));
  std::uniform_real_distribution<double> unit(-1, 1);
  std::uniform_int_distribution<int> exponent(-40, 40);
  const T specials[] = {T(0), T(-0.0), std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                        std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::denorm_min(), T(1), T(-1)};
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = i % 97 < 8 ? specials[i % 97] : static_cast<T>(unit(rng) * std::ldexp(1.0, exponent(rng) / 4));
  }
  return from_vector(v, {n});
}

// The same bits, but for NaNs: a NaN is a NaN on every path, its sign and
// payload unspecified (IEEE 754 leaves them open; which operand's NaN an x86
// instruction passes on depends on the order the compiler chose, and a GPU
// gives one canonical NaN).
template <typename T>
bool same_bits_but_nan(const Tensor& a, const Tensor& b) {
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    }
    if (std::memcmp(&x[i], &y[i], sizeof(T)) != 0) {
      ADD_FAILURE() << "element " << i << ": " << x[i] << " against " << y[i];
      return false;
    }
  }
  return true;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  if (ca.dtype() == kFloat32) return same_bits_but_nan<float>(ca, cb);
  if (ca.dtype() == kFloat64) return same_bits_but_nan<double>(ca, cb);
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<std::size_t>(ca.numel()) * element_size(ca.dtype())) == 0;
}

// Note [One loop per instruction set]: the AVX2 and AVX-512 loops give the
// bits the baseline loop gives (NaN for NaN), for every floating op, dense, strided and with
// a broadcast scalar, on sizes that leave a vector remainder.
TEST(PortableMath, EveryInstructionSetGivesTheBaselinesBits) {
  using cpu::Isa;
  const Isa widest = cpu::widest_isa_available();
  if (widest == Isa::Baseline) GTEST_SKIP() << "this build or CPU has no wider instruction set than the baseline";
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (DType dtype : {kFloat32, kFloat64}) {
    const std::int64_t n = 3 * 40000 + 13;  // past one parallel chunk, and not a multiple of a vector
    const Tensor a = dtype == kFloat32 ? mixed_values<float>(rng, n) : mixed_values<double>(rng, n);
    const Tensor b = dtype == kFloat32 ? mixed_values<float>(rng, n) : mixed_values<double>(rng, n);
    const Tensor a2 = a.slice(0, 0, 300 * 400).reshape({300, 400}).t();  // strided
    const Tensor b2 = b.slice(0, 0, 300 * 400).reshape({300, 400}).t();
    const Tensor scalar = b.slice(0, 5, 6).reshape({});  // a 0-dim tensor broadcast
    auto every_path = [&](Isa isa) {
      cpu::ForceIsa force(isa);
      std::vector<Tensor> out;
      for (int op = 0; op < static_cast<int>(UnaryOp::kCount); ++op) {
        out.push_back(unary(static_cast<UnaryOp>(op), a));
        out.push_back(unary(static_cast<UnaryOp>(op), a2));
      }
      for (int op = 0; op < static_cast<int>(BinaryOp::kCount); ++op) {
        const auto bop = static_cast<BinaryOp>(op);
        out.push_back(binary(bop, a, b));
        out.push_back(binary(bop, a2, b2));
        out.push_back(binary(bop, a, scalar));
        out.push_back(binary(bop, a, Scalar(0.37)));
        out.push_back(binary(bop, Scalar(-2.5), a));
      }
      return out;
    };
    const std::vector<Tensor> baseline = every_path(Isa::Baseline);
    for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
      if (isa > widest) continue;
      const std::vector<Tensor> wide = every_path(isa);
      ASSERT_EQ(wide.size(), baseline.size());
      for (std::size_t i = 0; i < wide.size(); ++i) {
        EXPECT_TRUE(same_bits(wide[i], baseline[i])) << cpu::name(isa) << ", " << name(dtype) << ", result " << i;
      }
    }
  }
}

}  // namespace
}  // namespace parity::testing
