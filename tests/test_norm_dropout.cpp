// var, std, logsumexp (parity/tensor/statistics.h), nn::LayerNorm and
// nn::Dropout (parity/nn/normalization.h) on every device: values against
// float64 host references (per-row sums written out, no Parity op), gradients
// by finite differences, Dropout's mask statistics, scaling, determinism and
// device independence, and the errors.
#include <cmath>
#include <limits>
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;

// Mean and population variance of each row of an [rows, cols] array.
void row_moments(const std::vector<double>& v, i64 rows, i64 cols, std::vector<double>& mean,
                 std::vector<double>& var) {
  mean.assign(static_cast<std::size_t>(rows), 0.0);
  var.assign(static_cast<std::size_t>(rows), 0.0);
  for (i64 r = 0; r < rows; ++r) {
    double s = 0;
    for (i64 c = 0; c < cols; ++c) s += v[static_cast<std::size_t>(r * cols + c)];
    const double m = s / static_cast<double>(cols);
    double q = 0;
    for (i64 c = 0; c < cols; ++c) q += (v[static_cast<std::size_t>(r * cols + c)] - m) * (v[static_cast<std::size_t>(r * cols + c)] - m);
    mean[static_cast<std::size_t>(r)] = m;
    var[static_cast<std::size_t>(r)] = q / static_cast<double>(cols);
  }
}

class Statistics : public AutogradTest {};

TEST_P(Statistics, VarStdAndLogsumexpMatchTheFloat64Reference) {
  TestRng rng;
  const i64 rows = 6, cols = 50;
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    // Large common offset: the one-pass formula E[x^2] - E[x]^2 would cancel.
    const Ref x = random_ref(rng, {rows, cols}, dtype, 1000, 1001);
    const Tensor t = to_tensor(x, device());
    std::vector<double> m, v;
    row_moments(x.v, rows, cols, m, v);
    const double tol = dtype == kFloat32 ? 2e-3 : 1e-10;  // relative; float32 deviations carry 1000 * 2^-24
    const std::vector<double> pop = var(t, {1}, 0).to_vector<double>(), sample = var(t, {-1}).to_vector<double>(),
                              sd = std(t, {1}, 1, true).to_vector<double>();
    EXPECT_EQ(var(t, {1}, 1, true).shape(), (Shape{rows, 1}));
    for (i64 r = 0; r < rows; ++r) {
      const auto i = static_cast<std::size_t>(r);
      EXPECT_NEAR(pop[i], v[i], tol * v[i]);
      EXPECT_NEAR(sample[i], v[i] * cols / (cols - 1), tol * v[i]);
      EXPECT_NEAR(sd[i], std::sqrt(v[i] * cols / (cols - 1)), tol * std::sqrt(v[i]));
    }
    // logsumexp where exp overflows float32 and float64 alike.
    const Ref big = random_ref(rng, {rows, cols}, dtype, 700, 800);
    const std::vector<double> lse = logsumexp(to_tensor(big, device()), {1}).to_vector<double>();
    for (i64 r = 0; r < rows; ++r) {
      double mx = -std::numeric_limits<double>::infinity();
      for (i64 c = 0; c < cols; ++c) mx = std::max(mx, big.v[static_cast<std::size_t>(r * cols + c)]);
      double s = 0;
      for (i64 c = 0; c < cols; ++c) s += std::exp(big.v[static_cast<std::size_t>(r * cols + c)] - mx);
      const double want = mx + std::log(s);
      EXPECT_NEAR(lse[static_cast<std::size_t>(r)], want, (dtype == kFloat32 ? 1e-6 : 1e-14) * want);
    }
  }
  // All -inf: -inf, not NaN; over every element: a 0-d result.
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(logsumexp(full({3}, -inf, f64())).item<double>(), -inf);
  EXPECT_EQ(logsumexp(zeros({2, 2}, f64())).item<double>(), std::log(4.0));
  // One element with the sample correction: NaN, as torch.var.
  EXPECT_TRUE(std::isnan(var(ones({1}, f64())).item<double>()));
}

TEST_P(Statistics, GradientsByFiniteDifferences) {
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return var(in[0], {1}); }, {normal({3, 4}).requires_grad_()});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return std(in[0], {0, 1}, 0); },
                   {normal({3, 4}, false).requires_grad_()});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return logsumexp(in[0], {-1}, true); },
                   {mul(normal({3, 5}), 4.0).requires_grad_()});
}

TEST_P(Statistics, RefuseIntegersAndBadDims) {
  EXPECT_PARITY_ERROR(var(ones({3}, {.dtype = kInt64, .device = device()})), {"var:", "float32 or float64", "int64"});
  EXPECT_PARITY_ERROR(logsumexp(ones({3}, f64()), {2}), {"logsumexp"});
  EXPECT_PARITY_ERROR(std(ones({3}, f64()), {}, -1), {"var:", "correction is -1"});
}

class Normalization : public AutogradTest {};

TEST_P(Normalization, LayerNormMatchesTheFloat64Reference) {
  TestRng rng;
  const i64 rows = 5, cols = 12;
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    nn::Sequential model{nn::LayerNorm{{.axes = 2, .eps = 1e-3}}};
    model.build({3, 4}, {.dtype = dtype, .device = device()});
    // Non-trivial gamma and beta.
    const Ref gamma = random_ref(rng, {3, 4}, dtype, 0.5, 2), beta = random_ref(rng, {3, 4}, dtype, -1, 1);
    nn::StateDict state = model.state_dict();
    ASSERT_EQ(state.size(), 2u);
    state.at("0.gamma").copy_(to_tensor(gamma, device()));
    state.at("0.beta").copy_(to_tensor(beta, device()));
    const Ref x = random_ref(rng, {rows, 3, 4}, dtype, -3, 5);
    const std::vector<double> y = model.forward(to_tensor(x, device())).to_vector<double>();
    std::vector<double> m, v;
    row_moments(x.v, rows, cols, m, v);
    for (i64 r = 0; r < rows; ++r) {
      for (i64 c = 0; c < cols; ++c) {
        const auto i = static_cast<std::size_t>(r * cols + c);
        const double want = (x.v[i] - m[static_cast<std::size_t>(r)]) / std::sqrt(v[static_cast<std::size_t>(r)] + 1e-3) *
                                gamma.v[static_cast<std::size_t>(c)] +
                            beta.v[static_cast<std::size_t>(c)];
        EXPECT_NEAR(y[i], want, dtype == kFloat32 ? 1e-5 : 1e-13) << "row " << r << ", column " << c;
      }
    }
  }
}

TEST_P(Normalization, LayerNormGradientsByFiniteDifferences) {
  auto model = std::make_shared<nn::Sequential>(nn::LayerNorm{{.axes = 1}});
  model->build({6}, {.dtype = kFloat64, .device = device()});
  EXPECT_GRADCHECK([model](const std::vector<Tensor>& in) { return model->forward(in[0]); },
                   {normal({4, 6}).requires_grad_()});
  // The parameters' gradients: of sum(w * y), gamma's is the column sums of
  // w * xhat (xhat the normalized x, from a LayerNorm without parameters) and
  // beta's those of w.
  nn::Sequential plain{nn::LayerNorm{{.axes = 1, .affine = false}}};
  plain.build({6}, {.dtype = kFloat64, .device = device()});
  const Tensor x = normal({4, 6}), w = normal({4, 6});
  sum(mul(model->forward(x), w)).backward();
  const std::vector<Tensor> params = model->parameters();
  const std::vector<double> g_gamma = params[0].grad().to_vector<double>(), g_beta = params[1].grad().to_vector<double>();
  const std::vector<double> want_gamma = sum(mul(w, plain.forward(x)), {0}).to_vector<double>(),
                            want_beta = sum(w, {0}).to_vector<double>();
  for (std::size_t c = 0; c < 6; ++c) {
    EXPECT_NEAR(g_gamma[c], want_gamma[c], 1e-12) << c;
    EXPECT_NEAR(g_beta[c], want_beta[c], 1e-12) << c;
  }
}

TEST_P(Normalization, DropoutDropsAtTheRateAndScalesTheRest) {
  nn::Sequential model{nn::Dropout{{.rate = 0.3, .seed = 11}}};
  model.build({100000}, {.device = device()});
  const Tensor x = rand({2, 100000}, {.device = device()}, 1, 2);
  const std::vector<float> xs = x.to_vector<float>(), ys = model.forward(x).to_vector<float>();
  i64 dropped = 0;
  const float scale = static_cast<float>(1.0 / 0.7);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (ys[i] == 0.0f) {
      ++dropped;
    } else {
      EXPECT_EQ(ys[i], xs[i] * scale) << i;
    }
  }
  // Binomial(200000, 0.3): mean 60000, sd 205; 6 sd either way.
  EXPECT_NEAR(static_cast<double>(dropped), 60000.0, 6 * 205.0);
  // The next call draws another mask; eval() is the identity.
  EXPECT_FALSE(model.forward(x).to_vector<float>() == ys);
  model.eval();
  EXPECT_EQ(model.forward(x).to_vector<float>(), xs);
}

TEST_P(Normalization, DropoutMasksRepeatWithTheSeedOnEveryDevice) {
  auto masks = [](Device device) {
    nn::Sequential model{nn::Dropout{{.rate = 0.5, .seed = 7}}};
    model.build({64}, {.device = device});
    const Tensor x = ones({8, 64}, {.device = device});
    std::vector<std::vector<float>> out;
    for (int step = 0; step < 3; ++step) out.push_back(model.forward(x).to_vector<float>());
    return out;
  };
  const auto here = masks(device());
  EXPECT_EQ(here, masks(device())) << "the same seed gives the same masks, step by step";
  EXPECT_EQ(here, masks(Device::cpu())) << "and the same on the CPU";
  EXPECT_NE(here[0], here[1]);
}

TEST_P(Normalization, DropoutGradientIsTheMaskTimesTheScale) {
  nn::Sequential model{nn::Dropout{{.rate = 0.25, .seed = 3}}};
  model.build({40}, {.dtype = kFloat64, .device = device()});
  const Tensor x = normal({5, 40}).requires_grad_();
  const Tensor w = normal({5, 40});
  const Tensor y = model.forward(x);
  sum(mul(y, w)).backward();
  const std::vector<double> ys = y.detach().to_vector<double>(), ws = w.to_vector<double>(),
                            g = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], ys[i] == 0.0 ? 0.0 : ws[i] * (1.0 / 0.75)) << i;
}

TEST_P(Normalization, RefusesBadOptions) {
  EXPECT_PARITY_ERROR(nn::Dropout({.rate = 1.0}), {"Dropout:", "[0, 1)"});
  EXPECT_PARITY_ERROR(nn::LayerNorm({.axes = 0}), {"LayerNorm:", "axes must be at least 1"});
  nn::Sequential model{nn::LayerNorm{{.axes = 3}}};
  EXPECT_PARITY_ERROR(model.build({4, 4}, {.device = device()}), {"LayerNorm:", "last 3 axes"});
}

INSTANTIATE_TEST_SUITE_P(Devices, Statistics, ::testing::ValuesIn(test_devices()), device_name);
INSTANTIATE_TEST_SUITE_P(Devices, Normalization, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
