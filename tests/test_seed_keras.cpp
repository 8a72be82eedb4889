// The seed model against real Keras: forward pass, mse loss and every weight's
// gradient, from the same weights and inputs, recorded by
// tools/golden/seed_forward.py (Keras 3.15.1 on TensorFlow 2.21, CPU) into
// tests/data/seed_keras. This pins Parity's conventions to Keras' own: NHWC
// images, HWIO kernels, "valid" convolutions, 4x4 pooling, the (h, w, c)
// Flatten order, the [in, out] Dense kernels and Keras' mse reduction.
//
// Tolerances: float32 on both sides with different summation orders (the
// second conv sums m = 3136 products per output, its weight gradient 4*18*18 =
// 1296 per element). Each element is checked against its own scale: a float32
// sum of m terms in any order is within about 2 sqrt(m) eps sum|terms| of the
// exact sum (sum_tolerance in reference.h), and an element that cancels to
// near zero keeps its terms' magnitudes, so sum|terms| is taken as |b| plus the
// tensor's mean |b| (the floor; a pure |b| would fail the elements that cancel,
// a max |b| would leave every small element unchecked). Measured on the CPU
// with m = 3136: every element within 0.19 of that bound (the worst, 0.19, an
// element of the second conv's kernel gradient; the output 0.07); the CPU
// checks the bound itself. cuDNN may pick algorithms with larger error
// (Winograd, FFT): its bound is 10x looser, not yet measured on a GPU.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "reference.h"
#include "test_devices.h"
#include "tools/seed/seed.h"

namespace parity::testing {
namespace {

constexpr std::int64_t kSize = 24;

Tensor golden(const std::string& name) {
  return io::load_npy(std::string(PARITY_TEST_DATA_DIR) + "/seed_keras/" + name + ".npy");
}

constexpr std::int64_t kTerms = 3136;  // the longest sum of the model: the second conv's 7*7*64 products

// Element by element, |a - b| <= looser * sum_tolerance(kTerms, |b| + mean |b|, float32).
::testing::AssertionResult close(const Tensor& a, const Tensor& b, double looser) {
  const std::vector<double> av = a.to(Device::cpu()).to(kFloat64).to_vector<double>();
  const std::vector<double> bv = b.to(kFloat64).to_vector<double>();
  if (a.shape() != b.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << to_string(a.shape()) << " vs " << to_string(b.shape());
  }
  double floor = 0;
  for (double v : bv) floor += std::abs(v) / static_cast<double>(bv.size());
  std::ostringstream bad;
  int n_bad = 0;
  double worst = 0;  // the largest |a - b| as a fraction of its bound
  for (std::size_t i = 0; i < av.size(); ++i) {
    const double bound = looser * sum_tolerance(kTerms, std::abs(bv[i]) + floor, kFloat32);
    const double err = std::abs(av[i] - bv[i]);
    worst = std::max(worst, err / bound);
    if (!(err <= bound) && ++n_bad <= 5) {
      bad << "\n  at " << index_string(unravel(static_cast<std::int64_t>(i), b.shape())) << ": "
          << std::setprecision(9) << av[i] << " vs Keras' " << bv[i] << " (|diff| " << err << " > " << bound
          << ")";
    }
  }
  if (n_bad == 0) return ::testing::AssertionSuccess() << "worst " << worst << " of the bound";
  return ::testing::AssertionFailure()
         << n_bad << " of " << av.size() << " elements differ by more than " << looser << " x 2 sqrt("
         << kTerms << ") eps (|b| + " << floor << "), the mean |b|:" << bad.str();
}

nn::StateDict keras_weights() {
  nn::StateDict dict;
  for (const char* name : {"0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"}) {
    dict[name] = golden(std::string("w_") + name);
  }
  return dict;
}

class SeedKeras : public ::testing::TestWithParam<Device> {};

TEST_P(SeedKeras, ForwardLossAndGradientsMatchKeras) {
  const Device device = GetParam();
  const double out_tol = device.is_cpu() ? 1 : 10, grad_tol = out_tol;
  nn::Sequential model = seed::model();
  model.build({kSize, kSize, 3}, {.layout = Layout::NHWC, .device = device});
  model.load_state_dict(keras_weights());
  const Tensor x = golden("x").to(device), y = golden("y").to(device);
  const Tensor pred = model(x);
  EXPECT_TRUE(close(pred, golden("pred"), out_tol));
  const Tensor loss = nn::losses::mse(pred, y);
  EXPECT_TRUE(close(loss, golden("loss"), out_tol));
  loss.backward();
  for (const auto& [name, p] : model.named_parameters()) {
    EXPECT_TRUE(close(p.grad(), golden("g_" + name), grad_tol)) << name;
  }
}

// The same Keras weights converted to the Theano layout (NCHW, OIHW, flipped
// kernels, (c, h, w) Flatten) compute Keras' forward pass too.
TEST_P(SeedKeras, TheanoLayoutWithConvertedWeightsMatchesKeras) {
  const Device device = GetParam();
  nn::Sequential model = seed::model();
  model.build(seed::input_shape(seed::Backend::Theano, kSize), seed::build_options(seed::Backend::Theano, device));
  model.load_state_dict(seed::theano_weights(keras_weights(), kSize));
  const Tensor pred = model(seed::images_for(seed::Backend::Theano, golden("x")).to(device));
  EXPECT_TRUE(close(pred, golden("pred"), device.is_cpu() ? 1 : 10));
}

INSTANTIATE_TEST_SUITE_P(Devices, SeedKeras, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
