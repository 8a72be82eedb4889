// train/: batching and shuffling, the row gather, fit / evaluate / predict,
// History, callbacks and stopping, the progress bar's exact output, and the
// errors. The models here are small Module subclasses of this file (a linear
// layer, a probe), so these tests depend on nn/module only, not on the layers.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parity/nn/losses.h"
#include "parity/nn/module.h"
#include "parity/optim/sgd.h"
#include "reference.h"
#include "test_devices.h"
#include "parity/train/train.h"

using namespace parity;
using parity::testing::TestRng;

namespace {

// y = x @ kernel + bias, the kernel [in, units] and bias [units] zero at build.
class Linear : public nn::Module {
 public:
  explicit Linear(std::int64_t units) : units_(units) {}
  std::string type_name() const override { return "TestLinear"; }
  std::vector<bool> training_seen;  // is_training() at each forward

 protected:
  Shape build_impl(const Shape& input_shape, const nn::BuildContext& context) override {
    const TensorOptions options{.dtype = context.options.dtype, .device = context.options.device};
    register_parameter("kernel", zeros({input_shape.back(), units_}, options));
    register_parameter("bias", zeros({units_}, options));
    return {units_};
  }
  Tensor forward_impl(const Tensor& x) override {
    training_seen.push_back(is_training());
    return add(matmul(x, parameter("kernel")), parameter("bias"));
  }

 private:
  std::int64_t units_;
};

// mean((p - t)^2) over all elements: the loss of these tests (independent of nn/losses).
Tensor squared_error(const Tensor& p, const Tensor& t) { return mean(square(sub(p, t))); }

// Rows of x as vectors of floats.
std::vector<std::vector<float>> rows(const Tensor& x) {
  const std::vector<float> v = x.contiguous().to_vector<float>();
  const std::int64_t n = x.size(0), w = n == 0 ? 0 : x.numel() / n;
  std::vector<std::vector<float>> out;
  for (std::int64_t i = 0; i < n; ++i) out.emplace_back(v.begin() + i * w, v.begin() + (i + 1) * w);
  return out;
}

// x[i, j] = 100 i + j, so each row names itself.
Tensor numbered(std::int64_t n, std::int64_t width, Device device = Device::cpu()) {
  std::vector<float> v(static_cast<std::size_t>(n * width));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < width; ++j) v[static_cast<std::size_t>(i * width + j)] = float(100 * i + j);
  }
  return from_vector(v, {n, width}, device);
}

// A linear-regression problem: y = x @ w + b + small noise, x [n, 3], y [n, 2].
struct Problem {
  Tensor x, y;
};
Problem regression(TestRng& rng, std::int64_t n) {
  const std::vector<double> w = {1.5, -2.0, 0.5, 1.0, -0.5, 2.5}, b = {0.3, -0.7};
  std::vector<float> xs(static_cast<std::size_t>(n * 3)), ys(static_cast<std::size_t>(n * 2));
  for (std::int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j)
      xs[static_cast<std::size_t>(i * 3 + j)] = static_cast<float>(rng.uniform(-1, 1));
    for (int k = 0; k < 2; ++k) {
      double s = b[k] + rng.uniform(-0.01, 0.01);
      for (int j = 0; j < 3; ++j) s += xs[static_cast<std::size_t>(i * 3 + j)] * w[j * 2 + k];
      ys[static_cast<std::size_t>(i * 2 + k)] = static_cast<float>(s);
    }
  }
  return {from_vector(xs, {n, 3}), from_vector(ys, {n, 2})};
}

// A built linear model and an SGD optimizer over it.
struct LinearFixture {
  std::shared_ptr<Linear> model;
  std::unique_ptr<optim::SGD> optimizer;
};
LinearFixture linear_setup(Device device = Device::cpu(), double lr = 0.3) {
  LinearFixture s;
  s.model = std::make_shared<Linear>(2);
  s.model->build({3}, {.device = device});
  s.optimizer = std::make_unique<optim::SGD>(s.model->parameters(), optim::SgdOptions{.lr = lr});
  return s;
}

// A clock that reads the value of *now.
train::Clock fake_clock(const double* now) {
  return [now] { return *now; };
}

}  // namespace

// ---- batches ----

static_assert(std::ranges::input_range<train::Batches>);

TEST(TrainBatches, CoverAllRowsInOrderWithASmallerLastBatch) {
  const Tensor x = numbered(10, 3), y = numbered(10, 1);
  const train::Batches range = train::batches(x, y, 4);
  EXPECT_EQ(range.size(), 3);
  EXPECT_EQ(range.samples(), 10);
  EXPECT_FALSE(range.shuffled());
  std::vector<std::int64_t> sizes;
  std::vector<std::vector<float>> seen_x, seen_y;
  for (auto& [xb, yb] : range) {
    sizes.push_back(xb.size(0));
    EXPECT_EQ(yb.size(0), xb.size(0));
    // In order, a batch is a view of the dataset.
    EXPECT_EQ(xb.storage().get(), x.storage().get());
    EXPECT_EQ(yb.storage().get(), y.storage().get());
    for (auto& r : rows(xb)) seen_x.push_back(r);
    for (auto& r : rows(yb)) seen_y.push_back(r);
  }
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{4, 4, 2}));
  EXPECT_EQ(seen_x, rows(x));
  EXPECT_EQ(seen_y, rows(y));
}

TEST(TrainBatches, ExactMultipleAndOversizedBatch) {
  const Tensor x = numbered(8, 2);
  std::vector<std::int64_t> sizes;
  for (const train::Batch& b : train::batches(x, 4)) {
    sizes.push_back(b.size());
    EXPECT_FALSE(b.y.defined());
  }
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{4, 4}));
  const train::Batches one = train::batches(x, 100);
  ASSERT_EQ(one.size(), 1);
  EXPECT_EQ(rows(one[0].x), rows(x));
  // A 1-D dataset batches too.
  const Tensor v = arange(5, {.dtype = kFloat32});
  std::vector<float> all;
  for (const train::Batch& b : train::batches(v, 2)) {
    for (float f : b.x.to_vector<float>()) all.push_back(f);
  }
  EXPECT_EQ(all, (std::vector<float>{0, 1, 2, 3, 4}));
}

TEST(TrainBatches, ShuffledFollowTheOrder) {
  const Tensor x = numbered(7, 3), y = numbered(7, 2);
  const std::vector<std::int64_t> order = train::permutation(7, 42);
  const train::Batches range = train::batches(x, y, 3, order);
  EXPECT_TRUE(range.shuffled());
  EXPECT_EQ(range.size(), 3);
  std::vector<std::vector<float>> got_x, got_y;
  for (auto& [xb, yb] : range) {
    for (auto& r : rows(xb)) got_x.push_back(r);
    for (auto& r : rows(yb)) got_y.push_back(r);
  }
  const auto all_x = rows(x), all_y = rows(y);
  ASSERT_EQ(got_x.size(), 7u);
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(got_x[i], all_x[static_cast<std::size_t>(order[i])]) << i;
    EXPECT_EQ(got_y[i], all_y[static_cast<std::size_t>(order[i])]) << i;
  }
  // Any list of row indices (here a subset with a repeat) works as an order.
  const train::Batches subset = train::batches(x, 2, {6, 6, 0});
  EXPECT_EQ(subset.samples(), 3);
  EXPECT_EQ(rows(subset[0].x), (std::vector<std::vector<float>>{all_x[6], all_x[6]}));
  EXPECT_EQ(rows(subset[1].x), (std::vector<std::vector<float>>{all_x[0]}));
}

TEST(TrainBatches, Errors) {
  const Tensor x = numbered(10, 3), y = numbered(9, 1);
  EXPECT_PARITY_ERROR(train::batches(x, y, 4), {"batches", "[10, 3]", "[9, 1]"});
  EXPECT_PARITY_ERROR(train::batches(x, 0), {"batches", "batch_size", "0"});
  EXPECT_PARITY_ERROR(train::batches(scalar_tensor(1.0), 2), {"batches", "0-d"});
  EXPECT_PARITY_ERROR(train::batches(x, 2, {0, 10}), {"batches", "order[1] = 10", "[0, 10)"});
  EXPECT_PARITY_ERROR(train::batches(x, 4)[3], {"batches", "batch 3", "3 batches"});
}

// ---- permutation ----

TEST(TrainPermutation, DeterministicPerSeedAndATruePermutation) {
  for (std::int64_t n : {0, 1, 2, 5, 64, 1000}) {
    const auto p = train::permutation(n, 7);
    EXPECT_EQ(p, train::permutation(n, 7)) << n;
    std::vector<std::int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> iota(static_cast<std::size_t>(n));
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota) << n;
  }
  // Seeds and streams give different orders.
  EXPECT_NE(train::permutation(1000, 7), train::permutation(1000, 8));
  EXPECT_NE(train::permutation(1000, 7, 0), train::permutation(1000, 7, 1));
  EXPECT_NE(train::permutation(1000, 7), [] {
    std::vector<std::int64_t> iota(1000);
    std::iota(iota.begin(), iota.end(), 0);
    return iota;
  }());
  EXPECT_PARITY_ERROR(train::permutation(-1, 0), {"permutation", "-1"});
}

// An independent permutation, written from Note [Shuffling from a seed]
// (parity/train/batches.h) and the algorithms it names, sharing no code with Parity:
//  - Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
//    SC'11; Random123): counter (c0, c1, c2, c3), key (k0, k1); a round maps
//    (c0, c1, c2, c3) to (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1,
//    lo(M0 c0)), the key advancing by the Weyl constants between rounds;
//    checked here against Random123's known-answer vectors;
//  - the permutation's word stream: block b is Philox of counter
//    (lo b, hi b, lo stream, hi stream) under key (lo seed, hi seed), and its
//    64-bit words are (w1 << 32 | w0), then (w3 << 32 | w2);
//  - a draw uniform in [0, range): Lemire's multiply-and-reject ("Fast Random
//    Integer Generation in an Interval", 2019): the high 64 bits of word * range,
//    rejecting words whose low 64 bits fall below 2^64 mod range;
//  - Fisher-Yates (Durstenfeld): for i = n-1 down to 1, swap p[i] and p[j], j
//    uniform in [0, i].
namespace {
namespace reference_shuffle {

using Block = std::array<std::uint32_t, 4>;

Block philox4x32_10(Block c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint64_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57;
  constexpr std::uint32_t kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const std::uint64_t p0 = kM0 * c[0], p1 = kM1 * c[2];
    c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k1, static_cast<std::uint32_t>(p0)};
  }
  return c;
}

std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  std::vector<std::uint64_t> words;  // drawn on demand, in order
  std::uint64_t block = 0;
  std::size_t next = 0;
  const auto word = [&]() {
    if (next == words.size()) {
      const Block w =
          philox4x32_10({static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                         static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
                        static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
      ++block;
      words.push_back((std::uint64_t{w[1]} << 32) | w[0]);
      words.push_back((std::uint64_t{w[3]} << 32) | w[2]);
    }
    return words[next++];
  };
  const auto below = [&](std::uint64_t range) {
    const std::uint64_t threshold = (std::numeric_limits<std::uint64_t>::max() - range + 1) % range;
    for (;;) {
      const unsigned __int128 m = static_cast<unsigned __int128>(word()) * range;
      if (static_cast<std::uint64_t>(m) >= threshold) return static_cast<std::uint64_t>(m >> 64);
    }
  };
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(below(static_cast<std::uint64_t>(i) + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[j]);
  }
  return p;
}

}  // namespace reference_shuffle
}  // namespace

// Random123 1.14 tests/kat_vectors, "philox4x32 10": the reference's Philox is the real one.
TEST(TrainPermutation, ReferencePhiloxMatchesRandom123KnownAnswers) {
  struct Kat {
    reference_shuffle::Block ctr;
    std::uint32_t k0, k1;
    reference_shuffle::Block out;
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, 0, 0, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       0xffffffff,
       0xffffffff,
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       0xa4093822,
       0x299f31d0,
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) EXPECT_EQ(reference_shuffle::philox4x32_10(k.ctr, k.k0, k.k1), k.out);
}

// The documented algorithm, written out above, gives Parity's order for random
// seeds, streams (epochs) and sizes, 64-bit seeds and streams whose high words
// matter included: a change of the shuffle changes every shuffled run, so it
// must be a change of the documented algorithm.
TEST(TrainPermutation, FollowsTheDocumentedAlgorithm) {
  TestRng rng;
  for (std::int64_t n : {0, 1, 2, 3, 10, 257, 1000}) {
    EXPECT_EQ(train::permutation(n, 0), reference_shuffle::permutation(n, 0, 0)) << n;
  }
  for (int trial = 0; trial < 50; ++trial) {
    const std::int64_t n = rng.integer(0, 3000);
    const auto seed = static_cast<std::uint64_t>(rng.engine()());
    const auto stream = trial % 2 == 0 ? static_cast<std::uint64_t>(rng.integer(0, 100))
                                       : static_cast<std::uint64_t>(rng.engine()());
    EXPECT_EQ(train::permutation(n, seed, stream), reference_shuffle::permutation(n, seed, stream))
        << "n " << n << " seed " << seed << " stream " << stream;
  }
}

// Each of the 24 orders of 4 items about equally often (24000 streams: 1000
// expected each, standard deviation about 31).
TEST(TrainPermutation, RoughlyUniform) {
  std::map<std::vector<std::int64_t>, int> counts;
  for (std::uint64_t stream = 0; stream < 24000; ++stream) ++counts[train::permutation(4, 99, stream)];
  EXPECT_EQ(counts.size(), 24u);
  for (const auto& [order, count] : counts) {
    EXPECT_GT(count, 850);
    EXPECT_LT(count, 1150);
  }
}

// ---- gather_rows ----

class TrainGather : public ::testing::TestWithParam<Device> {};

TEST_P(TrainGather, MatchesTheSelectedRows) {
  TestRng rng;
  const Device device = GetParam();
  const Tensor x = numbered(9, 4, device);
  std::vector<std::int64_t> indices;
  for (int i = 0; i < 12; ++i) indices.push_back(rng.integer(0, 8));
  indices.insert(indices.end(), {2, 3, 4, 5, 0});  // a run, copied at once
  const Tensor g = train::gather_rows(x, indices);
  EXPECT_EQ(g.device(), device);
  EXPECT_EQ(g.dtype(), kFloat32);
  EXPECT_EQ(g.shape(), (Shape{static_cast<std::int64_t>(indices.size()), 4}));
  const auto all = rows(x), got = rows(g);
  for (std::size_t i = 0; i < indices.size(); ++i)
    EXPECT_EQ(got[i], all[static_cast<std::size_t>(indices[i])]) << i;

  // 3-D rows, int64, and a non-contiguous source.
  const Tensor cube = arange(24, {.dtype = kInt64, .device = device}).reshape({2, 3, 4}).permute({1, 0, 2});
  const Tensor gc = train::gather_rows(cube, {2, 0});
  EXPECT_EQ(gc.shape(), (Shape{2, 2, 4}));
  const auto want = [&] {
    std::vector<std::int64_t> v;
    for (std::int64_t r : {2, 0}) {
      for (std::int64_t a = 0; a < 2; ++a) {
        for (std::int64_t c = 0; c < 4; ++c) v.push_back(a * 12 + r * 4 + c);
      }
    }
    return v;
  }();
  EXPECT_EQ(gc.to_vector<std::int64_t>(), want);

  // No rows: an empty batch of the right shape.
  EXPECT_EQ(train::gather_rows(x, std::vector<std::int64_t>{}).shape(), (Shape{0, 4}));
  // The result is data, outside the graph, even from a tensor that requires grad.
  const Tensor leaf = numbered(3, 2, device).requires_grad_();
  EXPECT_FALSE(train::gather_rows(leaf, std::vector<std::int64_t>{1}).requires_grad());

  EXPECT_PARITY_ERROR(train::gather_rows(x, {1, 9}), {"gather_rows", "9", "[9, 4]"});
  EXPECT_PARITY_ERROR(train::gather_rows(x, {-1}), {"gather_rows", "-1"});
  EXPECT_PARITY_ERROR(train::gather_rows(scalar_tensor(1.0), std::vector<std::int64_t>{0}),
                      {"gather_rows", "0-d"});
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainGather, ::testing::ValuesIn(parity::testing::test_devices()),
                         parity::testing::device_name);

// ---- fit ----

TEST(TrainFit, LinearRegressionLossFalls) {
  TestRng rng;
  const Problem p = regression(rng, 64);
  LinearFixture s = linear_setup();
  const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                      {.batch_size = 16, .epochs = 30, .verbose = 0});
  EXPECT_EQ(h.epochs(), 30);
  EXPECT_EQ(h.loss.size(), 30u);
  EXPECT_EQ(h.batch_loss.size(), 120u);
  EXPECT_EQ(h.batch_size.size(), 120u);
  EXPECT_EQ(h.epoch_seconds.size(), 30u);
  EXPECT_TRUE(h.val_loss.empty());
  EXPECT_LT(h.loss.back(), 1e-3 * h.loss.front());
  for (std::size_t e = 1; e < 5; ++e) EXPECT_LT(h.loss[e], h.loss[e - 1]) << e;
  for (double t : h.epoch_seconds) EXPECT_GE(t, 0.0);
  EXPECT_EQ(s.optimizer->steps(), 120);
  // The model learned w and b.
  const auto kernel = s.model->parameters()[0].to_vector<float>();
  const std::vector<float> w = {1.5f, -2.0f, 0.5f, 1.0f, -0.5f, 2.5f};
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(kernel[i], w[i], 0.1) << i;
  // Training mode during fit, the previous mode afterwards.
  EXPECT_TRUE(
      std::all_of(s.model->training_seen.begin(), s.model->training_seen.end(), [](bool b) { return b; }));
  EXPECT_TRUE(s.model->is_training());
  s.model->eval();
  train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y, {.epochs = 1, .verbose = 0});
  EXPECT_TRUE(s.model->training_seen.back());
  EXPECT_FALSE(s.model->is_training());
}

TEST(TrainFit, EpochLossIsTheSampleWeightedMeanOfBatchLosses) {
  TestRng rng;
  const Problem p = regression(rng, 50);
  LinearFixture s = linear_setup(Device::cpu(), 0.05);
  const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                      {.batch_size = 16, .epochs = 3, .verbose = 0});
  ASSERT_EQ(h.batch_loss.size(), 12u);
  EXPECT_EQ(h.batch_size, (std::vector<std::int64_t>{16, 16, 16, 2, 16, 16, 16, 2, 16, 16, 16, 2}));
  for (int e = 0; e < 3; ++e) {
    double sum = 0;
    for (int b = 0; b < 4; ++b) sum += h.batch_loss[e * 4 + b] * static_cast<double>(h.batch_size[e * 4 + b]);
    EXPECT_DOUBLE_EQ(h.loss[e], sum / 50.0) << e;
    // Not the plain mean of the batch losses (the last batch has 2 samples).
    const double plain =
        (h.batch_loss[e * 4] + h.batch_loss[e * 4 + 1] + h.batch_loss[e * 4 + 2] + h.batch_loss[e * 4 + 3]) /
        4.0;
    EXPECT_NE(h.loss[e], plain);
  }
}

TEST(TrainFit, ValidationLossIsEvaluateAtEachEpochEnd) {
  TestRng rng;
  const Problem p = regression(rng, 40), v = regression(rng, 13);
  LinearFixture s = linear_setup();
  std::vector<double> evaluated;
  std::vector<bool> mode_at_epoch_end;
  auto check = train::lambda_callback({.on_epoch_end = [&](const train::EpochEnd& e) {
    mode_at_epoch_end.push_back(e.model.is_training());
    evaluated.push_back(train::evaluate(e.model, squared_error, v.x, v.y, 8));
    ASSERT_TRUE(e.val_loss.has_value());
    EXPECT_EQ(*e.val_loss, evaluated.back());
  }});
  const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                      {.batch_size = 8,
                                       .epochs = 4,
                                       .verbose = 0,
                                       .validation_data = std::pair{v.x, v.y},
                                       .callbacks = {check}});
  EXPECT_EQ(h.val_loss, evaluated);
  EXPECT_EQ(h.val_loss.size(), 4u);
  EXPECT_LT(h.val_loss.back(), h.val_loss.front());
  EXPECT_EQ(mode_at_epoch_end, std::vector<bool>(4, true));  // evaluate restores training mode
  // Validation forwards ran in eval mode: 4 epochs x (5 train batches in train mode + 2 val batches in eval
  // mode), plus the callback's own evaluate (2 batches each).
  const auto& seen = s.model->training_seen;
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 20);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), false), 16);
}

TEST(TrainFit, EvaluateIsTheSampleWeightedMean) {
  TestRng rng;
  const Problem p = regression(rng, 11);
  LinearFixture s = linear_setup();
  train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y, {.batch_size = 4, .epochs = 2, .verbose = 0});
  double sum = 0;
  for (const auto& [xb, yb] : train::batches(p.x, p.y, 4)) {
    sum += squared_error((*s.model)(xb), yb).item<double>() * static_cast<double>(xb.size(0));
  }
  EXPECT_DOUBLE_EQ(train::evaluate(*s.model, squared_error, p.x, p.y, 4), sum / 11.0);
  EXPECT_TRUE(s.model->is_training());
  EXPECT_PARITY_ERROR(train::evaluate(*s.model, squared_error, p.x, p.y.slice(0, 0, 5), 4),
                      {"evaluate", "[11, 3]", "[5, 2]"});
}

// A callback that logs every event it gets.
struct Recorder : train::Callback {
  std::vector<std::string> events;
  std::vector<std::int64_t> steps, seens, sizes;
  std::vector<double> losses, means;
  int epochs = -1;
  std::int64_t steps_per_epoch = -1, samples = -1, batch_size = -1;
  std::optional<train::History> final_history;

  void on_train_begin(const train::TrainInfo& i) override {
    events.push_back("train_begin");
    epochs = i.epochs;
    steps_per_epoch = i.steps_per_epoch;
    samples = i.samples;
    batch_size = i.batch_size;
  }
  void on_epoch_begin(int epoch) override { events.push_back("epoch_begin " + std::to_string(epoch)); }
  void on_batch_begin(int epoch, std::int64_t batch) override {
    events.push_back("batch_begin " + std::to_string(epoch) + "." + std::to_string(batch));
  }
  void on_batch_end(const train::BatchEnd& e) override {
    events.push_back("batch_end " + std::to_string(e.epoch) + "." + std::to_string(e.batch));
    steps.push_back(e.step);
    seens.push_back(e.seen);
    sizes.push_back(e.batch_size);
    losses.push_back(e.loss);
    means.push_back(e.mean_loss);
    EXPECT_EQ(e.x.size(0), e.batch_size);
    EXPECT_EQ(e.y.size(0), e.batch_size);
    EXPECT_EQ(e.predictions.shape(), e.y.shape());
    EXPECT_EQ(e.loss_tensor.item<double>(), e.loss);
    EXPECT_EQ(e.optimizer.steps(), e.step + 1);
  }
  void on_epoch_end(const train::EpochEnd& e) override {
    events.push_back("epoch_end " + std::to_string(e.epoch) + " batches " + std::to_string(e.batches) +
                     " seen " + std::to_string(e.seen));
    EXPECT_EQ(e.history.epochs(), e.epoch + 1);
    EXPECT_EQ(e.history.loss.back(), e.loss);
  }
  void on_train_end(const train::History& h) override {
    events.push_back("train_end");
    final_history = h;
  }
};

TEST(TrainCallbacks, CalledTheRightNumberOfTimesWithTheRightIndices) {
  TestRng rng;
  const Problem p = regression(rng, 10);
  LinearFixture s = linear_setup();
  auto recorder = std::make_shared<Recorder>();
  int lambda_batches = 0;
  auto counter = train::lambda_callback({.on_batch_end = [&](const train::BatchEnd&) { ++lambda_batches; }});
  const train::History h =
      train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                 {.batch_size = 4, .epochs = 2, .verbose = 0, .callbacks = {recorder, counter}});
  const std::vector<std::string> want = {"train_begin",
                                         "epoch_begin 0",
                                         "batch_begin 0.0",
                                         "batch_end 0.0",
                                         "batch_begin 0.1",
                                         "batch_end 0.1",
                                         "batch_begin 0.2",
                                         "batch_end 0.2",
                                         "epoch_end 0 batches 3 seen 10",
                                         "epoch_begin 1",
                                         "batch_begin 1.0",
                                         "batch_end 1.0",
                                         "batch_begin 1.1",
                                         "batch_end 1.1",
                                         "batch_begin 1.2",
                                         "batch_end 1.2",
                                         "epoch_end 1 batches 3 seen 10",
                                         "train_end"};
  EXPECT_EQ(recorder->events, want);
  EXPECT_EQ(lambda_batches, 6);
  EXPECT_EQ(recorder->epochs, 2);
  EXPECT_EQ(recorder->steps_per_epoch, 3);
  EXPECT_EQ(recorder->samples, 10);
  EXPECT_EQ(recorder->batch_size, 4);
  EXPECT_EQ(recorder->steps, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(recorder->seens, (std::vector<std::int64_t>{4, 8, 10, 4, 8, 10}));
  EXPECT_EQ(recorder->sizes, (std::vector<std::int64_t>{4, 4, 2, 4, 4, 2}));
  EXPECT_EQ(recorder->losses, h.batch_loss);
  EXPECT_DOUBLE_EQ(recorder->means[1], (4 * h.batch_loss[0] + 4 * h.batch_loss[1]) / 8);
  EXPECT_EQ(recorder->means[2], h.loss[0]);
  EXPECT_EQ(recorder->means[5], h.loss[1]);
  ASSERT_TRUE(recorder->final_history.has_value());
  EXPECT_EQ(recorder->final_history->batch_loss, h.batch_loss);
}

TEST(TrainCallbacks, StopTrainingFromABatch) {
  TestRng rng;
  const Problem p = regression(rng, 20);
  LinearFixture s = linear_setup();
  auto recorder = std::make_shared<Recorder>();
  auto stopper = train::lambda_callback({.on_batch_end = [](const train::BatchEnd& e) {
    if (e.epoch == 1 && e.batch == 2) e.stop_training = true;
  }});
  const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                      {.batch_size = 4,
                                       .epochs = 5,
                                       .verbose = 0,
                                       .validation_data = std::pair{p.x, p.y},
                                       .callbacks = {stopper, recorder}});
  EXPECT_EQ(h.epochs(), 2);
  EXPECT_EQ(h.batch_loss.size(), 5u + 3u);
  EXPECT_EQ(h.val_loss.size(), 2u);
  EXPECT_EQ(s.optimizer->steps(), 8);
  // The stopping epoch ends after its batch; its loss is over the 12 samples that ran.
  EXPECT_EQ(recorder->events.back(), "train_end");
  EXPECT_EQ(recorder->events[recorder->events.size() - 2], "epoch_end 1 batches 3 seen 12");
  double sum = 0;
  for (std::size_t i = 5; i < 8; ++i) sum += 4 * h.batch_loss[i];
  EXPECT_DOUBLE_EQ(h.loss[1], sum / 12);
}

TEST(TrainCallbacks, StopTrainingFromAnEpochOrBeforeTraining) {
  TestRng rng;
  const Problem p = regression(rng, 8);
  {
    LinearFixture s = linear_setup();
    auto stopper =
        train::lambda_callback({.on_epoch_end = [](const train::EpochEnd& e) { e.stop_training = true; }});
    const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                        {.batch_size = 4, .epochs = 3, .verbose = 0, .callbacks = {stopper}});
    EXPECT_EQ(h.epochs(), 1);
    EXPECT_EQ(h.batch_loss.size(), 2u);
  }
  {
    LinearFixture s = linear_setup();
    auto recorder = std::make_shared<Recorder>();
    auto stopper =
        train::lambda_callback({.on_train_begin = [](const train::TrainInfo& i) { i.stop_training = true; }});
    const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                        {.epochs = 3, .verbose = 0, .callbacks = {stopper, recorder}});
    EXPECT_EQ(h.epochs(), 0);
    EXPECT_EQ(recorder->events, (std::vector<std::string>{"train_begin", "train_end"}));
    EXPECT_EQ(s.optimizer->steps(), 0);
  }
}

TEST(TrainFit, ShuffleIsDeterministicPerSeedAndFollowsThePermutation) {
  TestRng rng;
  const Problem p = regression(rng, 23);
  auto run = [&](bool shuffle, std::uint64_t seed, std::vector<Tensor>* xs) {
    LinearFixture s = linear_setup();
    auto keep = train::lambda_callback({.on_batch_end = [&](const train::BatchEnd& e) {
      if (xs) xs->push_back(e.x.clone());
    }});
    return train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                      {.batch_size = 5,
                       .epochs = 2,
                       .shuffle = shuffle,
                       .seed = seed,
                       .verbose = 0,
                       .callbacks = {keep}})
        .batch_loss;
  };
  std::vector<Tensor> shuffled, in_order;
  const auto a = run(true, 3, &shuffled);
  EXPECT_EQ(a, run(true, 3, nullptr));
  EXPECT_NE(a, run(true, 4, nullptr));
  run(false, 3, &in_order);
  // Epoch e's batches are the rows permutation(n, seed, e) names, in order.
  ASSERT_EQ(shuffled.size(), 10u);
  const auto all = rows(p.x);
  for (int e = 0; e < 2; ++e) {
    const auto order = train::permutation(23, 3, static_cast<std::uint64_t>(e));
    std::size_t k = 0;
    for (int b = 0; b < 5; ++b) {
      for (const auto& r : rows(shuffled[static_cast<std::size_t>(e * 5 + b)])) {
        EXPECT_EQ(r, all[static_cast<std::size_t>(order[k++])]) << "epoch " << e << " row " << k;
      }
    }
  }
  for (std::size_t b = 0; b < 5; ++b) EXPECT_EQ(rows(in_order[b]), rows(p.x.slice(0, 5 * b, 5 * b + 5))) << b;
}

// The data on the CPU, the model on each test device: batches move to the model.
class TrainFitDevices : public ::testing::TestWithParam<Device> {};

TEST_P(TrainFitDevices, BatchesMoveToTheModelsDevice) {
  TestRng rng;
  const Device device = GetParam();
  const Problem p = regression(rng, 32);
  LinearFixture s = linear_setup(device);
  std::vector<Device> devices;
  auto where = train::lambda_callback({.on_batch_end = [&](const train::BatchEnd& e) {
    devices.push_back(e.x.device());
    devices.push_back(e.predictions.device());
  }});
  const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                      {.batch_size = 8,
                                       .epochs = 10,
                                       .verbose = 0,
                                       .validation_data = std::pair{p.x, p.y},
                                       .callbacks = {where}});
  EXPECT_LT(h.loss.back(), 0.1 * h.loss.front());
  EXPECT_EQ(devices, std::vector<Device>(80, device));
  EXPECT_EQ(s.model->parameters()[0].device(), device);
  const Tensor out = train::predict(*s.model, p.x, 5);
  EXPECT_EQ(out.device(), device);
  EXPECT_EQ(out.shape(), (Shape{32, 2}));
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainFitDevices, ::testing::ValuesIn(parity::testing::test_devices()),
                         parity::testing::device_name);

TEST(TrainFit, WorksWithTheLibraryLosses) {
  TestRng rng;
  const Problem p = regression(rng, 16);
  LinearFixture s = linear_setup();
  const train::History h = train::fit(*s.model, *s.optimizer, nn::losses::mse, p.x, p.y,
                                      {.batch_size = 4, .epochs = 5, .verbose = 0});
  EXPECT_LT(h.loss.back(), h.loss.front());
}

TEST(TrainFit, TrainStepIsOneStep) {
  TestRng rng;
  const Problem p = regression(rng, 4);
  LinearFixture s = linear_setup();
  const train::StepResult r = train::train_step(*s.model, *s.optimizer, squared_error, p.x, p.y);
  EXPECT_EQ(s.optimizer->steps(), 1);
  EXPECT_EQ(r.loss.item<double>(), r.loss_value);
  EXPECT_EQ(r.predictions.shape(), (Shape{4, 2}));
  // Zero weights: the first loss is mean(y^2).
  EXPECT_DOUBLE_EQ(r.loss_value, mean(square(p.y)).item<double>());
}

TEST(TrainFit, Errors) {
  TestRng rng;
  const Problem p = regression(rng, 10);
  LinearFixture s = linear_setup();
  auto& m = *s.model;
  auto& o = *s.optimizer;
  const Tensor y9 = p.y.slice(0, 0, 9);
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x, y9), {"fit", "[10, 3]", "[9, 2]"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x, p.y, {.batch_size = 0}),
                      {"fit", "batch_size", "0"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x, p.y, {.epochs = -1}), {"fit", "epochs", "-1"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x, p.y, {.verbose = 3}), {"fit", "verbose", "3"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x.slice(0, 0, 0), p.y.slice(0, 0, 0)),
                      {"fit", "no samples", "[0, 3]"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, scalar_tensor(1.0), p.y), {"fit", "0-d"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x, p.y, {.validation_data = std::pair{p.x, y9}}),
                      {"fit", "validation", "[10, 3]", "[9, 2]"});
  EXPECT_PARITY_ERROR(train::fit(m, o, squared_error, p.x, p.y, {.callbacks = {nullptr}}),
                      {"fit", "callbacks[0]"});
  const nn::Loss elementwise = [](const Tensor& a, const Tensor& b) { return square(sub(a, b)); };
  EXPECT_PARITY_ERROR(train::fit(m, o, elementwise, p.x, p.y, {.verbose = 0}),
                      {"fit", "one element", "[10, 2]"});
  EXPECT_EQ(o.steps(), 0);  // every error came before a step
  // epochs = 0 trains nothing and prints nothing.
  std::ostringstream out;
  const train::History h = train::fit(m, o, squared_error, p.x, p.y, {.epochs = 0, .out = &out});
  EXPECT_EQ(h.epochs(), 0);
  EXPECT_EQ(out.str(), "");
}

// ---- predict ----

TEST(TrainPredict, EqualsOneForwardAndRestoresTheMode) {
  TestRng rng;
  const Problem p = regression(rng, 20);
  LinearFixture s = linear_setup();
  train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y, {.batch_size = 4, .epochs = 2, .verbose = 0});
  const Tensor whole = (*s.model)(p.x);
  s.model->training_seen.clear();
  const Tensor batched = train::predict(*s.model, p.x, 7);
  EXPECT_TRUE(parity::testing::same_bits(batched, whole.detach()));
  EXPECT_FALSE(batched.requires_grad());
  EXPECT_EQ(s.model->training_seen, std::vector<bool>(3, false));  // 7 + 7 + 6 rows, in eval mode
  EXPECT_TRUE(s.model->is_training());
  s.model->eval();
  EXPECT_TRUE(parity::testing::same_bits(train::predict(*s.model, p.x), whole.detach()));  // one batch of 32
  EXPECT_FALSE(s.model->is_training());
  EXPECT_TRUE(parity::testing::same_bits(train::predict(*s.model, p.x, 1), whole.detach()));
  // No rows: a [0, units] result from the built model.
  EXPECT_EQ(train::predict(*s.model, p.x.slice(0, 0, 0)).shape(), (Shape{0, 2}));
  Linear unbuilt(2);
  EXPECT_PARITY_ERROR(train::predict(unbuilt, p.x.slice(0, 0, 0)), {"predict", "not built"});
  EXPECT_PARITY_ERROR(train::predict(*s.model, p.x, 0), {"predict", "batch_size", "0"});
  EXPECT_PARITY_ERROR(train::predict(*s.model, scalar_tensor(1.0)), {"predict", "0-d"});
}

// ---- the progress bar ----

TEST(TrainProgress, Formats) {
  EXPECT_EQ(train::format_eta(0), "0s");
  EXPECT_EQ(train::format_eta(4.9), "4s");
  EXPECT_EQ(train::format_eta(60), "60s");
  EXPECT_EQ(train::format_eta(62.5), "1:02");
  EXPECT_EQ(train::format_eta(3600), "60:00");
  EXPECT_EQ(train::format_eta(3725.2), "1:02:05");
  EXPECT_EQ(train::format_value(0.25), "0.2500");
  EXPECT_EQ(train::format_value(4376.97849), "4376.9785");
  EXPECT_EQ(train::format_value(-2.5), "-2.5000");
  EXPECT_EQ(train::format_value(1e-4), "1.0000e-04");
  EXPECT_EQ(train::format_value(0.001), "1.0000e-03");
  EXPECT_EQ(train::format_value(0), "0.0000e+00");
  EXPECT_EQ(train::format_value(std::nan("")), "nan");
  EXPECT_EQ(train::format_value(-INFINITY), "-inf");

  const train::Metrics loss{{"loss", 4376.97849}};
  EXPECT_EQ(train::format_progress(64, 256, 1.5, loss, false),
            " 64/256 [======>.......................] - ETA: 4s - loss: 4376.9785");
  EXPECT_EQ(train::format_progress(0, 256, 0, loss, false),
            "  0/256 [..............................] - ETA: 0s - loss: 4376.9785");
  EXPECT_EQ(train::format_progress(9, 256, 2.0, loss, false),
            "  9/256 [>.............................] - ETA: 54s - loss: 4376.9785");
  EXPECT_EQ(train::format_progress(10, 1000, 1.0, {}, false),
            "  10/1000 [..............................] - ETA: 1:39");
  EXPECT_EQ(train::format_progress(255, 256, 63, loss, false),
            "255/256 [============================>.] - ETA: 0s - loss: 4376.9785");
  EXPECT_EQ(train::format_progress(256, 256, 5.7, {{"loss", 2057485.49371}, {"val_loss", 1e-5}}, true),
            "256/256 [==============================] - 5s - loss: 2057485.4937 - val_loss: 1.0000e-05");
  // A final line before the end (training stopped) keeps the '>' head and shows the elapsed time.
  EXPECT_EQ(train::format_progress(128, 256, 3.0, loss, true),
            "128/256 [==============>...............] - 3s - loss: 4376.9785");
  EXPECT_EQ(train::format_progress(3, 4, 1.0, {}, false, 8), "3/4 [=====>..] - ETA: 0s");
}

TEST(TrainProgress, NotATerminalPrintsAtMostOneLinePerTenth) {
  double now = 100.0;
  std::ostringstream out;
  {
    train::ProgressBar bar(100, out, /*terminal=*/false, fake_clock(&now));
    for (int seen = 5; seen <= 100; seen += 5) {
      now += 1.0;
      bar.update(seen, {{"loss", 1.0 / seen}});
    }
    bar.finish(100, {{"loss", 0.01}});
  }
  std::istringstream lines(out.str());
  std::vector<std::string> got;
  for (std::string line; std::getline(lines, line);) got.push_back(line);
  ASSERT_EQ(got.size(), 10u);  // at 10, 20, ..., 90, and the final line
  EXPECT_EQ(got[0], " 10/100 [==>...........................] - ETA: 18s - loss: 0.1000");
  EXPECT_EQ(got[8], " 90/100 [==========================>...] - ETA: 2s - loss: 0.0111");
  EXPECT_EQ(got[9], "100/100 [==============================] - 20s - loss: 0.0100");
  EXPECT_EQ(out.str().find('\r'), std::string::npos);

  // A short epoch: every update is a new tenth.
  std::ostringstream small;
  train::ProgressBar bar(4, small, false, fake_clock(&now));
  now += 1;
  bar.update(1, {{"loss", 2.0}});
  now += 1;
  bar.update(2, {{"loss", 1.5}});
  now += 1;
  bar.update(3, {{"loss", 1.25}});
  now += 1;
  bar.update(4, {{"loss", 1.0}});  // the end is finish()'s to print
  bar.finish(4, {{"loss", 1.0}, {"val_loss", 0.5}});
  EXPECT_EQ(small.str(),
            "1/4 [======>.......................] - ETA: 3s - loss: 2.0000\n"
            "2/4 [==============>...............] - ETA: 2s - loss: 1.5000\n"
            "3/4 [=====================>........] - ETA: 1s - loss: 1.2500\n"
            "4/4 [==============================] - 4s - loss: 1.0000 - val_loss: 0.5000\n");
}

TEST(TrainProgress, TerminalRedrawsInPlace) {
  double now = 0.0;
  std::ostringstream out;
  train::ProgressBar bar(4, out, /*terminal=*/true, fake_clock(&now));
  now = 1;
  bar.update(1, {{"loss", 12345.0}});
  now = 1.01;
  bar.update(2, {{"loss", 1.0}});  // within 0.05 s of the last redraw: skipped
  now = 2;
  bar.update(2, {{"loss", 1.0}});  // shorter than the line before: padded with spaces
  now = 3;
  bar.update(3, {{"loss", 1.0}});
  now = 4;
  bar.finish(4, {{"loss", 1.0}});
  EXPECT_EQ(out.str(),
            "\r1/4 [======>.......................] - ETA: 3s - loss: 12345.0000"
            "\r2/4 [==============>...............] - ETA: 2s - loss: 1.0000    "
            "\r3/4 [=====================>........] - ETA: 1s - loss: 1.0000"
            "\r4/4 [==============================] - 4s - loss: 1.0000     \n");
}

// What fit() prints, with a clock that never moves (every time is 0s).
TEST(TrainProgress, FitOutputVerbose1And2) {
  TestRng rng;
  const Problem p = regression(rng, 8), v = regression(rng, 4);
  const double now = 0;
  auto run = [&](int verbose, std::string* text) {
    LinearFixture s = linear_setup();
    std::ostringstream out;
    const train::History h = train::fit(*s.model, *s.optimizer, squared_error, p.x, p.y,
                                        {.batch_size = 2,
                                         .epochs = 2,
                                         .verbose = verbose,
                                         .validation_data = std::pair{v.x, v.y},
                                         .out = &out,
                                         .clock = fake_clock(&now)});
    *text = out.str();
    return h;
  };
  using train::format_value;
  std::string text;
  train::History h = run(1, &text);
  auto mean_after = [&](int epoch, int batches) {
    double sum = 0;
    for (int b = 0; b < batches; ++b) sum += 2 * h.batch_loss[static_cast<std::size_t>(epoch * 4 + b)];
    return sum / (2 * batches);
  };
  std::string want = "Train on 8 samples, validate on 4 samples\n";
  for (int e = 0; e < 2; ++e) {
    want += "Epoch " + std::to_string(e + 1) + "/2\n";
    want += "2/8 [======>.......................] - ETA: 0s - loss: " + format_value(mean_after(e, 1)) + "\n";
    want += "4/8 [==============>...............] - ETA: 0s - loss: " + format_value(mean_after(e, 2)) + "\n";
    want += "6/8 [=====================>........] - ETA: 0s - loss: " + format_value(mean_after(e, 3)) + "\n";
    want += "8/8 [==============================] - 0s - loss: " + format_value(h.loss[e]) +
            " - val_loss: " + format_value(h.val_loss[e]) + "\n";
  }
  EXPECT_EQ(text, want);

  h = run(2, &text);
  want = "Train on 8 samples, validate on 4 samples\n";
  for (int e = 0; e < 2; ++e) {
    want += "Epoch " + std::to_string(e + 1) + "/2\n0s - loss: " + format_value(h.loss[e]) +
            " - val_loss: " + format_value(h.val_loss[e]) + "\n";
  }
  EXPECT_EQ(text, want);

  run(0, &text);
  EXPECT_EQ(text, "");
}
