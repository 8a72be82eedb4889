// A first classifier, as a user writes it: three interleaved spirals in the
// plane, an MLP (Dense -> LayerNorm -> Dropout -> Dense), integer labels with
// sparse categorical cross-entropy, Adam with a step-decay learning rate,
// accuracy in the progress bar, a few more steps by hand with the gradient's
// norm clipped, then a checkpoint saved, reloaded into a fresh model and
// evaluated. Runs in a second or two; the
// ctest example_spirals_classifier checks that it learns (accuracy >= 0.9).
#include <parity/parity.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

using namespace parity;

namespace {

// n points per class on three arms of a spiral, with a little noise.
std::pair<Tensor, Tensor> spirals(std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  const std::vector<double> noise = randn({3 * n, 2}, {.dtype = kFloat64}, 0.0, 0.08, &gen).to_vector<double>();
  std::vector<float> xy;
  std::vector<std::int64_t> labels;
  for (std::int64_t c = 0; c < 3; ++c) {
    for (std::int64_t i = 0; i < n; ++i) {
      const double r = static_cast<double>(i) / static_cast<double>(n);
      const double angle = 4.0 * r + 2.0944 * static_cast<double>(c);
      const std::size_t k = static_cast<std::size_t>(c * n + i) * 2;
      xy.push_back(static_cast<float>(r * std::cos(angle) + noise[k]));
      xy.push_back(static_cast<float>(r * std::sin(angle) + noise[k + 1]));
      labels.push_back(c);
    }
  }
  return {from_vector(xy, {3 * n, 2}), from_vector(labels, {3 * n})};
}

std::shared_ptr<nn::Sequential> make_model(std::uint64_t seed) {
  auto model = std::make_shared<nn::Sequential>(nn::Dense{{.units = 64, .activation = "relu"}},
                                                nn::LayerNorm{{.axes = 1}}, nn::Dropout{{.rate = 0.1}},
                                                nn::Dense{{.units = 64, .activation = "relu"}},
                                                nn::Dense{{.units = 3}});
  model->build({2}, {.init = nn::Init::PyTorch, .seed = seed});
  return model;
}

double accuracy(nn::Module& model, const Tensor& x, const Tensor& y) {
  return train::metrics::sparse_accuracy().fn(train::predict(model, x, 256), y);
}

}  // namespace

int main() {
  const auto [x, y] = spirals(200, 7);
  const auto [vx, vy] = spirals(60, 8);
  auto model = make_model(1);
  optim::Adam adam(model->parameters(), {.lr = 0.01});
  adam.set_lr_schedule([](std::int64_t step, double base) { return step > 600 ? base * 0.3 : base; });

  const auto loss = [](const Tensor& logits, const Tensor& labels) {
    return nn::losses::sparse_categorical_crossentropy_with_logits(logits, labels, 0.05);
  };
  const train::History history =
      train::fit(*model, adam, loss, x, y,
                 {.batch_size = 32, .epochs = 40, .seed = 3, .verbose = 2, .validation_data = std::make_pair(vx, vy),
                  .metrics = {train::metrics::sparse_accuracy()}});

  // A few more steps by hand, the gradients' joint norm clipped to 1 before each.
  double last_norm = 0;
  for (const train::Batch& b : train::batches(x, y, 64)) {
    adam.zero_grad();
    loss(model->forward(b.x), b.y).backward();
    last_norm = optim::clip_grad_norm(model->parameters(), 1.0);
    adam.step();
  }
  std::printf("hand-written steps: the last gradient norm before clipping %.4f\n", last_norm);

  const std::string path = (std::filesystem::temp_directory_path() / "parity_spirals.safetensors").string();
  train::save_checkpoint(path, *model, adam, adam.steps());
  auto restored = make_model(2);  // other initial weights: all of it comes from the file
  optim::Adam restored_adam(restored->parameters(), {.lr = 0.01});
  const std::int64_t step = train::load_checkpoint(path, *restored, restored_adam);
  restored->eval();
  model->eval();
  const double acc = accuracy(*model, vx, vy), restored_acc = accuracy(*restored, vx, vy);
  std::printf("after %lld steps: validation accuracy %.4f (final epoch's val_sparse_accuracy %.4f); "
              "restored from %s: %.4f\n",
              static_cast<long long>(step), acc, history.metrics.at("val_sparse_accuracy").back(), path.c_str(),
              restored_acc);
  if (acc < 0.9 || restored_acc != acc) {
    std::printf("spirals_classifier: FAILED (accuracy below 0.9 or the restored model differs)\n");
    return 1;
  }
  std::printf("spirals_classifier: learned\n");
  return 0;
}
