// The seed issue's experiment (keras-team/keras#6694; docs/SEED.md), shared by the
// example (examples/seed.cpp), its tests (tests/test_seed.cpp) and the
// benchmark of one training step (bench/bench_seed.cpp): the model, data drawn
// like the seed's, the two Keras 2 backends' configurations, and a lockstep
// run of the two that records how far they part, step by step.
//
// Keras 2.0.4 ran the same script two ways:
//   - on TensorFlow: NHWC images, HWIO kernels, cross-correlation;
//   - on Theano: Keras transposes channels_last images to NCHW for Theano's
//     conv2d, which computes true convolution (flipped kernels), with kernels
//     OIHW; the Flatten then orders features (c, h, w).
// Keras converts saved weights between the two (parity/nn/convert.h), so both runs
// start from the same function; they differ in the order of their sums and in
// the optimizer's numerics (the presets keras2_theano, keras2_tensorflow).
#pragma once

#include <parity/parity.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parity/train/train.h"

namespace parity::seed {

// The seed's model: Conv2D(64, 7x7) relu, Conv2D(64, 7x7) relu, MaxPooling(4x4),
// Flatten, Dense(64) relu, Dense(8).
inline nn::Sequential model() {
  return nn::Sequential{nn::Conv2D{{.filters = 64, .kernel = {7, 7}}}, nn::Activation{"relu"},
                        nn::Conv2D{{.filters = 64, .kernel = {7, 7}}}, nn::Activation{"relu"},
                        nn::MaxPool2D{{.pool = {4, 4}}},                nn::Flatten{},
                        nn::Dense{{.units = 64}},                       nn::Activation{"relu"},
                        nn::Dense{{.units = 8}}};
}

// The side of the pooled feature map for `size` x `size` images.
inline std::int64_t pooled_size(std::int64_t size) { return (size - 12) / 4; }

struct Data {
  Tensor x;  // [samples, size, size, 3] float32 pixels in [0, 255), not normalized (as the seed)
  Tensor y;  // [samples, 8] float32 integer labels in [-40, 40)
};

// Drawn like the seed's numpy.random.randint calls, from Parity's Philox.
inline Data data(std::int64_t samples, std::int64_t size, std::uint64_t seed = 6) {
  Generator generator(seed);
  const Tensor pixels = randint(0, 255, {samples, size, size, 3}, {.dtype = kInt64}, &generator);
  const Tensor labels = randint(-40, 40, {samples, 8}, {.dtype = kInt64}, &generator);
  return {cast(pixels, kFloat32), cast(labels, kFloat32)};
}

// One of Keras 2's two backends, as far as the forward pass is concerned.
enum class Backend { TensorFlow, Theano };
inline const char* name(Backend b) { return b == Backend::TensorFlow ? "tensorflow" : "theano"; }

// The build options of the seed model on that backend.
inline nn::BuildOptions build_options(Backend b, Device device = Device::cpu()) {
  if (b == Backend::TensorFlow) return {.layout = Layout::NHWC, .seed = 6, .device = device};
  return {.layout = Layout::NCHW, .seed = 6, .device = device, .conv_mode = ConvMode::Convolution};
}

// The per-sample input shape on that backend for size x size RGB images.
inline Shape input_shape(Backend b, std::int64_t size) {
  return b == Backend::TensorFlow ? Shape{size, size, 3} : Shape{3, size, size};
}

// A batch of NHWC images as that backend's model takes it.
inline Tensor images_for(Backend b, const Tensor& nhwc) {
  return b == Backend::TensorFlow ? nhwc : nhwc.permute({0, 3, 1, 2});
}

// Weights of the TensorFlow-layout model converted for the Theano-layout one,
// as Keras 2 converts them on load: conv kernels HWIO -> OIHW and flipped, the
// Dense kernel after the Flatten reordered from (h, w, c) to (c, h, w) rows.
inline nn::StateDict theano_weights(nn::StateDict dict, std::int64_t size) {
  for (const char* name : {"0.kernel", "2.kernel"}) {
    if (dict.count(name)) dict[name] = nn::flip_kernel(nn::hwio_to_oihw(dict.at(name)), KernelLayout::OIHW);
  }
  const std::int64_t p = pooled_size(size);
  if (dict.count("6.kernel")) dict["6.kernel"] = nn::dense_rows_nhwc_to_nchw(dict.at("6.kernel"), p, p, 64);
  return dict;
}

// The inverse of theano_weights: Theano-layout weights back in TensorFlow's.
inline nn::StateDict tensorflow_weights(nn::StateDict dict, std::int64_t size) {
  for (const char* name : {"0.kernel", "2.kernel"}) {
    if (dict.count(name)) dict[name] = nn::oihw_to_hwio(nn::flip_kernel(dict.at(name), KernelLayout::OIHW));
  }
  const std::int64_t p = pooled_size(size);
  if (dict.count("6.kernel")) dict["6.kernel"] = nn::dense_rows_nchw_to_nhwc(dict.at("6.kernel"), p, p, 64);
  return dict;
}

// One side of train::lockstep for a built seed model on `backend`: inputs and
// weights converted to and from TensorFlow's layout (the common one).
inline train::LockstepSide lockstep_side(Backend backend, nn::Sequential& model, optim::Optimizer& optimizer,
                                         std::int64_t size) {
  train::LockstepSide side{name(backend), &model, &optimizer};
  if (backend == Backend::Theano) {
    side.input = [](const Tensor& x) { return images_for(Backend::Theano, x); };
    side.to_common = [size](const nn::StateDict& d) { return tensorflow_weights(d, size); };
    side.from_common = [size](const nn::StateDict& d) { return theano_weights(d, size); };
  }
  return side;
}

// A model and its optimizer: one side of a lockstep run.
struct Run {
  Backend backend = Backend::TensorFlow;
  nn::Sequential model = seed::model();
  std::unique_ptr<optim::Optimizer> optimizer;
};

using OptimizerFactory =
    std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor> params, const optim::Preset& preset)>;

// The seed's optimizers with Keras 2's defaults, under a given preset.
inline OptimizerFactory adam() {
  return [](std::vector<Tensor> p, const optim::Preset& preset) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{}, preset);
  };
}
inline OptimizerFactory adadelta() {
  return [](std::vector<Tensor> p, const optim::Preset& preset) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<optim::Adadelta>(std::move(p), optim::AdadeltaOptions{}, preset);
  };
}
// The seed's SGD "with lr really low".
inline OptimizerFactory sgd(double lr = 1e-7) {
  return [lr](std::vector<Tensor> p, const optim::Preset& preset) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<optim::SGD>(std::move(p), optim::SgdOptions{.lr = lr}, preset);
  };
}

// How far two runs have parted after each step.
struct Divergence {
  std::vector<double> loss_a, loss_b;
  std::vector<double> max_param_diff;  // max over every weight of |a - b| (in run a's layout)
  std::vector<double> max_update;      // max over every weight of |b - b's initial value|
  // The parting after step s (0: the first) relative to the size of the updates.
  double relative(std::size_t s) const { return max_param_diff.at(s) / max_update.at(s); }
  double relative() const { return relative(max_param_diff.size() - 1); }  // after the last step
};

// Trains the seed model on `backend_a` with preset_a and on `backend_b` with
// preset_b, from the same weights (converted between layouts), on the same
// batches, and records the divergence after every step.
inline Divergence lockstep(const OptimizerFactory& make_optimizer, Backend backend_a, const optim::Preset& preset_a,
                           Backend backend_b, const optim::Preset& preset_b, const Data& data,
                           std::int64_t batch_size, int steps, Device device = Device::cpu()) {
  const std::int64_t size = data.x.size(1);
  Run a{backend_a}, b{backend_b};
  a.model.build(input_shape(backend_a, size), build_options(backend_a, device));
  b.model.build(input_shape(backend_b, size), build_options(backend_b, device));
  // Both start from b's initial weights.
  auto in_layout = [&](Backend target, const nn::StateDict& dict_b) {
    if (target == backend_b) return dict_b;
    return target == Backend::Theano ? theano_weights(dict_b, size) : dict_b;  // (TF from Theano: not needed)
  };
  a.model.load_state_dict(in_layout(backend_a, b.model.state_dict()));
  std::vector<Tensor> initial_b;
  for (const Tensor& p : b.model.parameters()) initial_b.push_back(p.clone());
  a.optimizer = make_optimizer(a.model.parameters(), preset_a);
  b.optimizer = make_optimizer(b.model.parameters(), preset_b);

  Divergence d;
  for (int s = 0; s < steps; ++s) {
    const Tensor xb = data.x.slice(0, s * batch_size, (s + 1) * batch_size);
    const Tensor yb = data.y.slice(0, s * batch_size, (s + 1) * batch_size);
    d.loss_a.push_back(
        train::train_step(a.model, *a.optimizer, nn::losses::mse, images_for(backend_a, xb), yb).loss_value);
    d.loss_b.push_back(
        train::train_step(b.model, *b.optimizer, nn::losses::mse, images_for(backend_b, xb), yb).loss_value);
    // Compare in a's layout (a permutation: no rounding).
    const nn::StateDict now_a = a.model.state_dict();
    const nn::StateDict b_as_a = in_layout(backend_a, b.model.state_dict());
    double worst = 0, update = 0;
    for (const auto& [name, p] : b_as_a) worst = std::max(worst, max(abs(sub(p, now_a.at(name)))).item<double>());
    const auto params = b.model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
      update = std::max(update, max(abs(sub(params[i], initial_b[i]))).item<double>());
    }
    d.max_param_diff.push_back(worst);
    d.max_update.push_back(update);
  }
  return d;
}

}  // namespace parity::seed
