// The seed model against real Keras: forward pass, mse loss and every weight's
// gradient, from the same weights and inputs, recorded by
// tools/golden/seed_forward.py (Keras 3.15.1 on TensorFlow 2.21, CPU) into
// tests/data/seed_keras. This pins Parity's conventions to Keras' own: NHWC
// images, HWIO kernels, "valid" convolutions, 4x4 pooling, the (h, w, c)
// Flatten order, the [in, out] Dense kernels and Keras' mse reduction.
//
// Tolerances: float32 on both sides with different summation orders (the
// second conv sums 3136 products per output, its weight gradient 4*18*18 = 1296
// per element). Measured on the CPU: the output within 4.3e-7 of its scale,
// every gradient within 1e-6 (worst 9e-7, the first conv's bias); the CPU
// bound is 10x that. cuDNN may pick algorithms with larger error (Winograd,
// FFT): its bound is 10x looser, not yet measured on a GPU.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <string>

#include "reference.h"
#include "test_devices.h"
#include "tools/seed/seed.h"

namespace parity::testing {
namespace {

constexpr std::int64_t kSize = 24;

Tensor golden(const std::string& name) {
  return io::load_npy(std::string(PARITY_TEST_DATA_DIR) + "/seed_keras/" + name + ".npy");
}

// max |a - b| <= rel * max |b|.
::testing::AssertionResult close(const Tensor& a, const Tensor& b, double rel) {
  const Tensor ac = a.to(Device::cpu()).to(kFloat64), bc = b.to(kFloat64);
  if (ac.shape() != bc.shape()) {
    return ::testing::AssertionFailure() << "shape " << to_string(ac.shape()) << " vs " << to_string(bc.shape());
  }
  const double err = max(abs(sub(ac, bc))).item<double>(), scale = max(abs(bc)).item<double>();
  if (err <= rel * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |diff| " << err << " > " << rel << " * " << scale;
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
  const double out_tol = device.is_cpu() ? 4e-6 : 4e-5, grad_tol = device.is_cpu() ? 1e-5 : 1e-4;
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
  EXPECT_TRUE(close(pred, golden("pred"), device.is_cpu() ? 4e-6 : 4e-5));
}

INSTANTIATE_TEST_SUITE_P(Devices, SeedKeras, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
