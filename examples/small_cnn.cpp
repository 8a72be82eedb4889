// A small CNN through fit, as a user writes one: 16x16 grayscale images of
// three kinds of stroke (a horizontal bar, a vertical bar, a diagonal) at
// random places, under noise; two 3x3 convolutions with ReLU, each followed by
// a 2x2 max-pool, then Flatten -> Dense -> Dropout -> Dense, integer labels
// with sparse categorical cross-entropy, Adam with Keras' clipnorm, accuracy
// in the progress bar and on held-out images. NHWC, as Keras. Runs in a few
// seconds; the ctest example_small_cnn checks that it learns (accuracy >= 0.9).
#include <parity/parity.h>

#include <cstdio>
#include <memory>
#include <vector>

using namespace parity;

namespace {

constexpr std::int64_t kSide = 16;

// n images per class: [3n, 16, 16, 1] in [0, 1] and their labels [3n].
std::pair<Tensor, Tensor> strokes(std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  const std::vector<double> noise = rand({3 * n, kSide, kSide}, {.dtype = kFloat64}, 0.0, 0.35, &gen).to_vector<double>();
  const std::vector<std::int64_t> where = randint(2, kSide - 2, {3 * n, 2}, {.dtype = kInt64}, &gen).to_vector<std::int64_t>();
  std::vector<float> pixels(static_cast<std::size_t>(3 * n * kSide * kSide));
  std::vector<std::int64_t> labels;
  for (std::int64_t k = 0; k < 3 * n; ++k) {
    const std::int64_t kind = k % 3, r = where[static_cast<std::size_t>(2 * k)], c = where[static_cast<std::size_t>(2 * k + 1)];
    for (std::int64_t t = -2; t <= 2; ++t) {
      const std::int64_t y = kind == 0 ? r : r + t, x = kind == 1 ? c : c + t;
      pixels[static_cast<std::size_t>((k * kSide + y) * kSide + x)] = 1.0f;
    }
    for (std::int64_t p = 0; p < kSide * kSide; ++p) {
      float& v = pixels[static_cast<std::size_t>(k * kSide * kSide + p)];
      v = std::min(1.0f, v + static_cast<float>(noise[static_cast<std::size_t>(k * kSide * kSide + p)]));
    }
    labels.push_back(kind);
  }
  return {from_vector(pixels, {3 * n, kSide, kSide, 1}), from_vector(labels, {3 * n})};
}

}  // namespace

int main() {
  const auto [x, y] = strokes(200, 11);
  const auto [vx, vy] = strokes(50, 12);
  auto model = std::make_shared<nn::Sequential>(
      nn::Conv2D{{.filters = 8, .kernel = {3, 3}, .padding = Padding::same(), .activation = "relu"}},
      nn::MaxPool2D{{.pool = {2, 2}}},
      nn::Conv2D{{.filters = 16, .kernel = {3, 3}, .padding = Padding::same(), .activation = "relu"}},
      nn::MaxPool2D{{.pool = {2, 2}}}, nn::Flatten{}, nn::Dense{{.units = 32, .activation = "relu"}},
      nn::Dropout{{.rate = 0.1}}, nn::Dense{{.units = 3}});
  model->build({kSide, kSide, 1}, {.seed = 5});
  std::printf("%s\n", model->summary().c_str());

  optim::Adam adam(model->parameters(), {.lr = 0.003});
  adam.set_gradient_clipping({.clipnorm = 5.0});  // Keras' Adam(clipnorm=5.0)
  const auto loss = [](const Tensor& logits, const Tensor& labels) {
    return nn::losses::sparse_categorical_crossentropy_with_logits(logits, labels);
  };
  train::fit(*model, adam, loss, x, y,
             {.batch_size = 32, .epochs = 8, .seed = 3, .verbose = 2, .validation_data = std::make_pair(vx, vy),
              .metrics = {train::metrics::sparse_accuracy()}});

  model->eval();
  const double acc = train::metrics::sparse_accuracy().fn(train::predict(*model, vx, 64), vy);
  std::printf("held-out accuracy %.4f\n", acc);
  if (acc < 0.9) {
    std::printf("small_cnn: FAILED (accuracy below 0.9)\n");
    return 1;
  }
  std::printf("small_cnn: learned\n");
  return 0;
}
