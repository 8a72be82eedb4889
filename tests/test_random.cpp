// The counter-based RNG (parity/tensor/philox.h, parity/tensor/generator.h): the generator is
// the real Philox4x32-10 (Random123's known-answer vectors); the same seed and
// offset give the same tensor on every device; offsets advance and separate
// streams; rand/randn/randint have the documented ranges and distributions;
// the portable log and sin/cos of Box-Muller agree with libm.
//
// Statistical bounds are 6 standard errors (a false failure about once in 5e8
// runs per check), computed from the distribution's own moments.
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "reference.h"
#include "parity/tensor/philox.h"
#include "parity/tensor/portable_math.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

// Random123 1.14, tests/kat_vectors, the three "philox4x32 10" lines:
// counter (4 words), key (2 words), expected output (4 words).
struct Kat {
  std::uint32_t ctr[4], key[2], out[4];
};
constexpr Kat kPhiloxKat[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

std::uint64_t join(std::uint32_t lo, std::uint32_t hi) { return (static_cast<std::uint64_t>(hi) << 32) | lo; }

// Note [Random numbers keyed by element index]: counter {group, offset}, key {seed}.
TEST(Philox, MatchesRandom123KnownAnswers) {
  for (const Kat& k : kPhiloxKat) {
    const philox::Block b = philox::generate(join(k.key[0], k.key[1]), join(k.ctr[2], k.ctr[3]),
                                             join(k.ctr[0], k.ctr[1]));
    for (int j = 0; j < 4; ++j) EXPECT_EQ(b.w[j], k.out[j]) << "word " << j;
  }
}

class Random : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, Random, ::testing::ValuesIn(test_devices()), device_name);

// Through the public API on each device: seed 0, offset 0, group 0 is the
// all-zero known answer.
TEST_P(Random, FactoriesDrawFromPhilox) {
  const Device device = GetParam();
  const std::uint32_t* want = kPhiloxKat[0].out;
  // randint over the whole int32 range returns low + bits: the raw words.
  Generator g(0);
  const auto words = randint(INT32_MIN, std::int64_t{1} << 31, {4}, {.dtype = kInt32, .device = device}, &g)
                         .to_vector<std::int32_t>();
  for (int j = 0; j < 4; ++j) EXPECT_EQ(static_cast<std::uint32_t>(words[j]) ^ 0x80000000u, want[j]) << j;
  // float32 rand on [0, 1): the top 24 bits of each word, times 2^-24.
  Generator g2(0);
  const auto u = rand({4}, {.dtype = kFloat32, .device = device}, 0.0, 1.0, &g2).to_vector<float>();
  for (int j = 0; j < 4; ++j) EXPECT_EQ(u[j], static_cast<float>(want[j] >> 8) * 0x1p-24f) << j;
  // float64 rand: 53 bits from two words.
  Generator g3(0);
  const auto d = rand({2}, {.dtype = kFloat64, .device = device}, 0.0, 1.0, &g3).to_vector<double>();
  for (int j = 0; j < 2; ++j) {
    const std::uint64_t bits = (static_cast<std::uint64_t>(want[2 * j + 1] >> 5) << 26) | (want[2 * j] >> 6);
    EXPECT_EQ(d[j], static_cast<double>(bits) * 0x1p-53) << j;
  }
}

// The same seed and offset give the same bits on this device as on the CPU.
TEST_P(Random, SameNumbersOnEveryDevice) {
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    for (int kind = 0; kind < 2; ++kind) {
      Generator a(1234), b(1234);
      a.set_offset(77);
      b.set_offset(77);
      const Shape shape{1001, 3};  // not a multiple of a Philox block
      const Tensor here = kind == 0 ? rand(shape, {.dtype = dtype, .device = device}, -2, 5, &a)
                                    : randn(shape, {.dtype = dtype, .device = device}, 1, 3, &a);
      const Tensor cpu = kind == 0 ? rand(shape, {.dtype = dtype}, -2, 5, &b) : randn(shape, {.dtype = dtype}, 1, 3, &b);
      EXPECT_TRUE(same_bits(here, cpu)) << name(dtype) << (kind ? " randn" : " rand");
    }
  }
  for (DType dtype : {kInt32, kInt64, kUInt8}) {
    Generator a(99), b(99);
    EXPECT_TRUE(same_bits(randint(0, 200, {777}, {.dtype = dtype, .device = device}, &a),
                          randint(0, 200, {777}, {.dtype = dtype}, &b)));
  }
}

TEST_P(Random, SeedAndOffsetDetermineTheTensor) {
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const TensorOptions o{.dtype = dtype, .device = device};
    Generator a(42), b(42);
    const Tensor x = randn({100}, o, 0, 1, &a);
    EXPECT_TRUE(same_bits(x, randn({100}, o, 0, 1, &b)));
    // Successive calls draw different offsets: different numbers.
    const Tensor y = randn({100}, o, 0, 1, &a);
    EXPECT_FALSE(same_bits(x, y));
    // Going back to an offset reproduces its tensor.
    a.set_offset(0);
    EXPECT_TRUE(same_bits(x, randn({100}, o, 0, 1, &a)));
    // Another seed, other numbers.
    Generator c(43);
    EXPECT_FALSE(same_bits(x, randn({100}, o, 0, 1, &c)));
    // Element i depends on (seed, offset, i) only: not on the shape or the size.
    Generator d(42), e(42);
    const auto longer = rand({2, 50}, o, 0, 1, &d).to_vector<double>();
    const auto shorter = rand({7}, o, 0, 1, &e).to_vector<double>();
    for (int i = 0; i < 7; ++i) EXPECT_EQ(longer[i], shorter[i]) << i;
    // No two elements of one tensor are equal (float64: 53-bit draws).
    if (dtype == kFloat64) {
      auto v = rand({4096}, o, 0, 1, &d).to_vector<double>();
      std::sort(v.begin(), v.end());
      EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end());
    }
  }
}

TEST(Generator, OffsetsAdvanceAndManualSeedResets) {
  Generator g(5);
  EXPECT_EQ(g.seed(), 5u);
  EXPECT_EQ(g.offset(), 0u);
  (void)rand({3}, {}, 0, 1, &g);
  EXPECT_EQ(g.offset(), 1u);
  (void)randn({3}, {.dtype = kFloat64}, 0, 1, &g);
  (void)randint(0, 5, {3}, {.dtype = kInt64}, &g);
  EXPECT_EQ(g.offset(), 3u);
  (void)rand({0}, {}, 0, 1, &g);  // an empty tensor draws nothing
  EXPECT_EQ(g.next_offset(), 3u);
  EXPECT_EQ(g.offset(), 4u);
  g.manual_seed(6);
  EXPECT_EQ(g.seed(), 6u);
  EXPECT_EQ(g.offset(), 0u);
  // The default generator: manual_seed makes runs repeat.
  manual_seed(2024);
  EXPECT_EQ(default_generator().offset(), 0u);
  const Tensor first = randn({10});
  const Tensor second = randn({10});
  EXPECT_EQ(default_generator().offset(), 2u);
  manual_seed(2024);
  EXPECT_TRUE(same_bits(randn({10}), first));
  EXPECT_TRUE(same_bits(randn({10}), second));
  Generator same(2024);
  EXPECT_TRUE(same_bits(randn({10}, {}, 0, 1, &same), first));
}

// Mean and variance of a sample, with the bounds of 6 standard errors.
struct Moments {
  double mean = 0, var = 0;
};
Moments moments(const std::vector<double>& v) {
  long double s = 0, s2 = 0;
  for (double x : v) s += x;
  const long double m = s / v.size();
  for (double x : v) s2 += (x - m) * (x - m);
  return {static_cast<double>(m), static_cast<double>(s2 / (v.size() - 1))};
}

TEST_P(Random, UniformRangeAndMoments) {
  TestRng rng;  // seeds the generator: a fresh stream each run
  const Device device = GetParam();
  constexpr std::int64_t n = 1 << 20;
  for (DType dtype : float_dtypes()) {
    for (auto [lo, hi] : {std::pair{0.0, 1.0}, std::pair{-3.0, 5.0}, std::pair{1.0, 1.5}}) {
      SCOPED_TRACE(std::string(name(dtype)) + " [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
      Generator g(rng.engine()());
      const auto v = rand({n}, {.dtype = dtype, .device = device}, lo, hi, &g).to_vector<double>();
      const double vmin = *std::min_element(v.begin(), v.end()), vmax = *std::max_element(v.begin(), v.end());
      EXPECT_GE(vmin, lo);
      EXPECT_LT(vmax, hi);
      const double w = hi - lo;
      EXPECT_LT(vmin - lo, w * 1e-4);  // 2^20 draws reach within w/2^20 of each end, w.h.p.
      EXPECT_LT(hi - vmax, w * 1e-4);
      const Moments m = moments(v);
      const double var = w * w / 12;
      EXPECT_NEAR(m.mean, (lo + hi) / 2, 6 * std::sqrt(var / n));
      EXPECT_NEAR(m.var, var, 6 * std::sqrt((w * w * w * w / 80 - var * var) / n));
    }
  }
  // [low, high) holds even where low + (high - low) u rounds up to high for u
  // near 1: the ulp at `low` is much larger than the ulp of u near 1.
  for (auto [dtype, lo] : {std::pair{kFloat32, 1024.0}, std::pair{kFloat64, 0x1p40}}) {
    Generator g(rng.engine()());
    const auto v = rand({n}, {.dtype = dtype, .device = device}, lo, lo + 1, &g).to_vector<double>();
    EXPECT_LT(*std::max_element(v.begin(), v.end()), lo + 1) << name(dtype);
    EXPECT_GE(*std::min_element(v.begin(), v.end()), lo) << name(dtype);
  }
  // low == high: every value is low.
  Generator g(1);
  const auto same = rand({10}, {.dtype = kFloat32, .device = device}, 2.5, 2.5, &g).to_vector<float>();
  for (float x : same) EXPECT_EQ(x, 2.5f);
}

TEST_P(Random, NormalMoments) {
  TestRng rng;
  const Device device = GetParam();
  constexpr std::int64_t n = 1 << 20;
  for (DType dtype : float_dtypes()) {
    for (auto [mu, sigma] : {std::pair{0.0, 1.0}, std::pair{2.0, 3.0}}) {
      SCOPED_TRACE(std::string(name(dtype)) + " N(" + std::to_string(mu) + ", " + std::to_string(sigma) + ")");
      Generator g(rng.engine()());
      const auto v = randn({n}, {.dtype = dtype, .device = device}, mu, sigma, &g).to_vector<double>();
      const Moments m = moments(v);
      const double s2 = sigma * sigma;
      EXPECT_NEAR(m.mean, mu, 6 * sigma / std::sqrt(n));
      EXPECT_NEAR(m.var, s2, 6 * s2 * std::sqrt(2.0 / n));  // var of the sample variance: 2 sigma^4 / n
      // The shape, not just two moments: P(|z| < 1) = 0.682689, P(|z| < 2) = 0.954500.
      std::int64_t within1 = 0, within2 = 0;
      for (double x : v) {
        within1 += std::abs(x - mu) < sigma;
        within2 += std::abs(x - mu) < 2 * sigma;
      }
      const double p1 = 0.682689492137, p2 = 0.954499736104;
      EXPECT_NEAR(static_cast<double>(within1) / n, p1, 6 * std::sqrt(p1 * (1 - p1) / n));
      EXPECT_NEAR(static_cast<double>(within2) / n, p2, 6 * std::sqrt(p2 * (1 - p2) / n));
      for (double x : v) ASSERT_TRUE(std::isfinite(x));
    }
  }
}

TEST_P(Random, IntegerRangeAndUniformity) {
  TestRng rng;
  const Device device = GetParam();
  struct Case {
    DType dtype;
    std::int64_t lo, hi;
  };
  for (const Case& c : {Case{kInt64, -5, 7}, Case{kInt32, 100, 117}, Case{kUInt8, 0, 256}, Case{kUInt8, 250, 256},
                        Case{kInt64, (std::int64_t{1} << 53) - 3, std::int64_t{1} << 53},
                        Case{kInt64, -(std::int64_t{1} << 53), -(std::int64_t{1} << 53) + 2}, Case{kInt32, -1, 0}}) {
    SCOPED_TRACE(std::string(name(c.dtype)) + " [" + std::to_string(c.lo) + ", " + std::to_string(c.hi) + ")");
    Generator g(rng.engine()());
    constexpr std::int64_t n = 200000;
    const Tensor t = randint(c.lo, c.hi, {n}, {.dtype = c.dtype, .device = device}, &g);
    EXPECT_EQ(t.dtype(), c.dtype);
    const auto v = t.to_vector<std::int64_t>();
    std::map<std::int64_t, std::int64_t> counts;
    for (std::int64_t x : v) ++counts[x];
    EXPECT_GE(counts.begin()->first, c.lo);
    EXPECT_LT(counts.rbegin()->first, c.hi);
    const std::int64_t k = c.hi - c.lo;
    EXPECT_EQ(static_cast<std::int64_t>(counts.size()), k) << "every value appears";
    const double p = 1.0 / k;
    for (const auto& [value, count] : counts) {
      EXPECT_NEAR(static_cast<double>(count) / n, p, 6 * std::sqrt(p * (1 - p) / n)) << "value " << value;
    }
  }
  // The default dtype is int64.
  EXPECT_EQ(randint(0, 3, {2}).dtype(), kInt64);
  // Bounds travel to the kernels as float64: beyond 2^53 they are refused
  // rather than rounded (a range rounded to 0 used to divide by zero).
  EXPECT_PARITY_ERROR(randint(INT64_MIN / 2, INT64_MIN / 2 + 3, {4}, {.dtype = kInt64, .device = device}),
                      {"randint:", "2^53"});
}

// Box-Muller's log and sin/cos are built from rounded IEEE operations only
// (so host and device agree bit for bit); they must still be accurate.
TEST(PortableMath, LogMatchesLibm) {
  TestRng rng;
  double worst = 0;
  auto check = [&](double x) {
    const double got = pmath::log(x), want = std::log(x);
    const double rel = want == 0 ? std::abs(got) : std::abs(got - want) / std::abs(want);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-15) << "log(" << x << ") = " << got << ", libm says " << want;
  };
  for (int i = 0; i < 200000; ++i) {
    check(std::ldexp(rng.uniform(1, 2), static_cast<int>(rng.integer(-1021, 1023))));  // every binade
    check(1 + rng.uniform(-1e-3, 1e-3));                                                // near 1, where log is small
    check(rng.uniform(0x1p-24, 1));  // the range Box-Muller uses: 1 - u for u in [0, 1)
  }
  for (double x : {1.0, 2.0, 0.5, 1.4142135623730951, 1.4142135623730949, std::nextafter(1.0, 0.0),
                   std::nextafter(1.0, 2.0), 0x1p-24, 0x1p-53, std::numeric_limits<double>::max(),
                   std::numeric_limits<double>::min()}) {
    check(x);
  }
  EXPECT_EQ(pmath::log(1.0), 0.0);
  std::ostringstream worst_text;
  worst_text << std::scientific << std::setprecision(3) << worst;
  RecordProperty("worst_relative_error", worst_text.str());
}

TEST(PortableMath, SinCos2PiMatchesLibm) {
  TestRng rng;
  // The reference computes 2 pi v in long double; the comparison is absolute,
  // since both functions cross zero (a relative bound means nothing there) and
  // |sin|, |cos| <= 1: 1e-15 is a few ulp of 1.
  const long double two_pi = 6.283185307179586476925286766559L;
  auto check = [&](double v) {
    double s, c;
    pmath::sincos_2pi(v, s, c);
    const long double x = two_pi * v;
    EXPECT_NEAR(s, static_cast<double>(std::sin(x)), 1e-15) << "sin(2 pi " << v << ")";
    EXPECT_NEAR(c, static_cast<double>(std::cos(x)), 1e-15) << "cos(2 pi " << v << ")";
  };
  for (int i = 0; i < 300000; ++i) check(rng.uniform(0, 1));
  for (double q : {0.0, 0.25, 0.5, 0.75}) {  // quadrant boundaries and their neighbours
    check(q);
    check(std::nextafter(q, 1.0));
    if (q > 0) check(std::nextafter(q, 0.0));
  }
  check(std::nextafter(1.0, 0.0));
  check(0x1p-53);
  double s, c;
  pmath::sincos_2pi(0.25, s, c);
  EXPECT_EQ(s, 1.0);
  pmath::sincos_2pi(0.0, s, c);
  EXPECT_EQ(s, 0.0);
  EXPECT_EQ(c, 1.0);
}

}  // namespace
}  // namespace parity::testing
