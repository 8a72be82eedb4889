// The seed model (keras-team/keras#6694; docs/SEED.md) built, trained, and trained
// twice from the same weights as Keras 2 on Theano and on TensorFlow ran it:
// how far the two part per step, for Adam, Adadelta and SGD (tools/seed/seed.h).
//
// Reduced size on the CPU: the model is the seed's, the images are 32x32
// instead of 224x224 (the flattened features are 5*5*64 rather than 53*53*64).
// The data is drawn like the seed's: pixels in [0, 255) (not normalized, as
// the seed feeds them) and integer labels in [-40, 40).
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "blas_kernel.h"
#include "reference.h"
#include "test_devices.h"
#include "tools/seed/seed.h"
#include "parity/train/train.h"

namespace parity::testing {
namespace {

constexpr std::int64_t kSize = 32;

TEST(SeedModel, TrainsOnTheCpuWithTheLossFiniteAndFalling) {
  nn::Sequential model = seed::model();
  model.build({kSize, kSize, 3}, {.layout = Layout::NHWC, .init = nn::Init::Keras, .seed = 6});
  const seed::Data data = seed::data(16, kSize);
  const Tensor x = div(data.x, 255);  // scaled, so a few Adam steps on one batch visibly fit it
  optim::Adam adam(model.parameters(), {.lr = 1e-3}, optim::presets::keras2_tensorflow);
  std::vector<double> losses;
  for (int step = 0; step < 8; ++step) {
    losses.push_back(train::train_step(model, adam, nn::losses::mse, x, data.y).loss_value);
    ASSERT_TRUE(std::isfinite(losses.back())) << "step " << step;
  }
  std::ostringstream trace;
  for (double l : losses) trace << l << " ";
  EXPECT_LT(losses.back(), 0.9 * losses.front()) << trace.str();
  int ups = 0;  // mostly monotone: at most two steps up
  for (std::size_t i = 1; i < losses.size(); ++i) ups += losses[i] > losses[i - 1];
  EXPECT_LE(ups, 2) << trace.str();
}

TEST(SeedModel, FitAndPredictRunTheSeedScript) {
  // The seed's script at reduced size: fit(batch_size=64, epochs=1, shuffle=False), predict(data[0:2]).
  nn::Sequential model = seed::model();
  model.build({kSize, kSize, 3}, {.seed = 6});
  const seed::Data data = seed::data(128, kSize);
  optim::Adam adam(model.parameters(), {}, optim::presets::keras2_theano);
  std::ostringstream progress;
  const train::History history =
      train::fit(model, adam, nn::losses::mse, data.x, data.y,
                 {.batch_size = 64, .epochs = 1, .shuffle = false, .verbose = 1, .out = &progress});
  ASSERT_EQ(history.loss.size(), 1u);
  EXPECT_TRUE(std::isfinite(history.loss[0]));
  EXPECT_NE(progress.str().find("128/128 [=============================="), std::string::npos) << progress.str();
  const Tensor p = train::predict(model, data.x.slice(0, 0, 2));
  EXPECT_EQ(p.shape(), (Shape{2, 8}));
  for (double v : p.to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(SeedModel, TrainStepOnCudaAgreesWithTheCpu) {
  PARITY_REQUIRE_CUDA();
  nn::Sequential cpu_model = seed::model(), cuda_model = seed::model();
  cpu_model.build({kSize, kSize, 3}, {.seed = 6});
  cuda_model.build({kSize, kSize, 3}, {.seed = 6, .device = Device::cuda()});
  optim::SGD cpu_sgd(cpu_model.parameters(), {.lr = 1e-7}, optim::presets::keras2_tensorflow);
  optim::SGD cuda_sgd(cuda_model.parameters(), {.lr = 1e-7}, optim::presets::keras2_tensorflow);
  const seed::Data data = seed::data(16, kSize);
  const double cpu_loss = train::train_step(cpu_model, cpu_sgd, nn::losses::mse, data.x, data.y).loss_value;
  const double cuda_loss = train::train_step(cuda_model, cuda_sgd, nn::losses::mse, data.x, data.y).loss_value;
  // Different summation orders (cuDNN vs im2col + OpenBLAS), strict FP32 on both.
  EXPECT_NEAR(cuda_loss, cpu_loss, 1e-5 * cpu_loss);
  const auto a = cpu_model.parameters(), b = cuda_model.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double scale = max(abs(a[i])).item<double>();
    EXPECT_LT(max(abs(sub(a[i], b[i].to(Device::cpu())))).item<double>(), 1e-5 * scale + 1e-9) << i;
  }
}

// Keras 2 flips saved kernels when it loads them into the other backend. With
// the flip, Theano's true convolution computes TensorFlow's forward pass; on
// the CPU with the same layout, the same products in the same order: the same
// bits. Without the flip it is another model altogether: it computes what
// TensorFlow computes with the flipped kernels (the same bits again), and that
// differs from TensorFlow's output by a fraction of the output's size
// (measured: 0.18 of its largest element), not by rounding (~1e-6).
TEST(SeedModel, TheanoConvolutionOfFlippedKernelsIsTensorFlowsForward) {
  nn::Sequential tf = seed::model();
  tf.build({kSize, kSize, 3}, {.seed = 6});
  nn::Sequential theano = seed::model();
  theano.build({kSize, kSize, 3}, {.seed = 6, .conv_mode = ConvMode::Convolution});
  nn::StateDict flipped = tf.state_dict();
  for (const char* name : {"0.kernel", "2.kernel"}) flipped[name] = nn::flip_kernel(flipped[name], KernelLayout::HWIO);
  theano.load_state_dict(flipped);
  const seed::Data data = seed::data(4, kSize, 7);
  const Tensor y_tf = tf(data.x);
  EXPECT_TRUE(same_bits(y_tf, theano(data.x)));
  theano.load_state_dict(tf.state_dict());
  const Tensor y_unflipped = theano(data.x);
  nn::Sequential tf_flipped = seed::model();
  tf_flipped.build({kSize, kSize, 3}, {.seed = 6});
  tf_flipped.load_state_dict(flipped);
  EXPECT_TRUE(same_bits(y_unflipped, tf_flipped(data.x)));
  const double scale = max(abs(y_tf)).item<double>(), apart = max(abs(sub(y_tf, y_unflipped))).item<double>();
  EXPECT_GT(apart, 0.1 * scale) << "the unflipped model's output is only " << apart
                                << " from TensorFlow's (scale " << scale << ")";
}

TEST(SeedModel, TheanoLayoutModelWithConvertedWeightsComputesTheSameFunction) {
  nn::Sequential tf = seed::model(), theano = seed::model();
  tf.build(seed::input_shape(seed::Backend::TensorFlow, kSize), seed::build_options(seed::Backend::TensorFlow));
  theano.build(seed::input_shape(seed::Backend::Theano, kSize), seed::build_options(seed::Backend::Theano));
  theano.load_state_dict(seed::theano_weights(tf.state_dict(), kSize));
  const seed::Data data = seed::data(4, kSize, 8);
  const Tensor a = tf(data.x);
  const Tensor b = theano(seed::images_for(seed::Backend::Theano, data.x));
  // Another summation order (NCHW im2col): equal up to float32 rounding of sums of ~150 terms.
  const double scale = max(abs(a)).item<double>();
  EXPECT_LT(max(abs(sub(a, b))).item<double>(), 1e-5 * scale);
}

void report(const std::string& name, const seed::Divergence& d) {
  std::ostringstream out;
  out << name << " (step: loss theano, loss tensorflow, max |param diff|, max |update|)\n";
  for (std::size_t s = 0; s < d.loss_a.size(); ++s) {
    out << "  " << s + 1 << std::setprecision(9) << ": " << d.loss_a[s] << "  " << d.loss_b[s] << "  "
        << std::setprecision(3) << d.max_param_diff[s] << "  " << d.max_update[s] << "\n";
  }
  out << "  parted by " << d.relative(0) << " of the largest update after the first step, " << d.relative()
      << " after the last\n";
  std::cout << out.str();
  ::testing::Test::RecordProperty(name + "_relative_divergence", std::to_string(d.relative()));
}

TEST(SeedModel, AdamAndAdadeltaAmplifyTheBackendsRoundingSgdDoesNot) {
  // The two configurations' rounding differences are those of the GEMM kernel:
  // with OpenBLAS's generic Prescott kernels Adam parted no further than SGD
  // (3.8e-5 vs 4.3e-5 of an update, Intel Xeon family 6 model 207).
  PARITY_REQUIRE_VERIFIED_BLAS_KERNEL();
  constexpr int kSteps = 3;
  constexpr std::int64_t kBatch = 16;
  const seed::OptimizerFactory adam = seed::adam(), adadelta = seed::adadelta(), sgd = seed::sgd();
  const seed::Data data = seed::data(kBatch * kSteps, kSize);
  auto run = [&](const seed::OptimizerFactory& make, const optim::Preset& tf_preset) {
    return seed::lockstep(make, seed::Backend::Theano, optim::presets::keras2_theano, seed::Backend::TensorFlow,
                          tf_preset, data, kBatch, kSteps);
  };
  const seed::Divergence d_adam = run(adam, optim::presets::keras2_tensorflow);
  const seed::Divergence d_race = run(adam, optim::presets::keras2_tensorflow_t_ahead);
  const seed::Divergence d_adadelta = run(adadelta, optim::presets::keras2_tensorflow);
  const seed::Divergence d_sgd = run(sgd, optim::presets::keras2_tensorflow);
  report("adam", d_adam);
  report("adam_t_ahead", d_race);
  report("adadelta", d_adadelta);
  report("sgd", d_sgd);
  // The same function from the same weights: the first losses agree to rounding.
  EXPECT_NEAR(d_adam.loss_a[0], d_adam.loss_b[0], 1e-5 * d_adam.loss_b[0]);
  // After the first step the two runs differ only by the rounding of one
  // gradient, from the same weights and batch: the optimizers' amplification
  // alone. SGD moves each weight by lr*g: the gradients' last-bit differences
  // stay last-bit differences of the update (measured: 1.0e-5 to 3.9e-5 of the
  // largest update). Later steps add discrete events on some CPUs' kernels: a
  // max-pool winner or a ReLU that the configurations' last-bit differences
  // flip moved SGD's runs 4e-4 apart by step 3 with OpenBLAS's Haswell kernels
  // on an AMD Zen 5 (family 26), and 2e-5 with its SkylakeX kernels there.
  EXPECT_LT(d_sgd.relative(0), 1e-4);
  // Adam and Adadelta normalize each weight's step by its gradient's running
  // magnitude: where a gradient is mostly rounding noise, so is its step. From
  // the same rounding differences they part ~20x (Adam) and ~3000x or more (Adadelta)
  // further than SGD, relative to the size of their updates (Zen 5: Adam
  // 2.2e-4 with Haswell kernels, 6.7e-4 with SkylakeX; Adadelta 0.08 and 0.10).
  EXPECT_GT(d_adam.relative(0), 10 * d_sgd.relative(0));
  EXPECT_GT(d_adadelta.relative(0), 10 * d_sgd.relative(0));
  // Keras 2.0.4's step-counter race on TensorFlow (t one ahead) changes every
  // Adam step by a sizeable fraction: the runs part by more than a whole
  // update (measured 1.3x), as far apart as the seed's two runs.
  EXPECT_GT(d_race.relative(), 0.1);
}

}  // namespace
}  // namespace parity::testing
