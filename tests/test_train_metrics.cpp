// fit()'s metrics (parity/train/metrics.h): the three accuracies against
// counts made by hand, their epoch means in History and the progress bar, the
// validation forms, and the errors that point to the right metric.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <sstream>
#include <vector>

#include "reference.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;

TEST(Metrics, AccuraciesCountTheRowsOrElementsThatAgree) {
  // Row maxima at classes 2, 0, 1; targets 2, 1, 1: two of three agree.
  const Tensor p = from_vector(std::vector<float>{0.1f, 0.2f, 0.7f, 0.9f, 0.05f, 0.05f, 0.3f, 0.6f, 0.1f}, {3, 3});
  const Tensor labels = from_vector(std::vector<i64>{2, 1, 1}, {3});
  EXPECT_DOUBLE_EQ(train::metrics::sparse_accuracy().fn(p, labels), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(train::metrics::accuracy().fn(p, nn::one_hot(labels, 3)), 2.0 / 3.0);
  // Ties go to the first class, as argmax does: [0.5, 0.5] picks class 0.
  EXPECT_DOUBLE_EQ(train::metrics::sparse_accuracy().fn(from_vector(std::vector<float>{0.5f, 0.5f}, {1, 2}),
                                                        from_vector(std::vector<i64>{0}, {1})),
                   1.0);
  const Tensor probs = from_vector(std::vector<float>{0.2f, 0.8f, 0.6f, 0.4f}, {4});
  const Tensor truth = from_vector(std::vector<float>{0.0f, 1.0f, 0.0f, 0.0f}, {4});
  EXPECT_DOUBLE_EQ(train::metrics::binary_accuracy().fn(probs, truth), 0.75);
  EXPECT_DOUBLE_EQ(train::metrics::binary_accuracy(0.7).fn(probs, truth), 1.0);
}

TEST(Metrics, RefuseTargetsOfTheOtherKindNamingTheRightMetric) {
  const Tensor p = zeros({4, 3});
  EXPECT_PARITY_ERROR(train::metrics::accuracy().fn(p, zeros({4}, {.dtype = kInt64})),
                      {"accuracy:", "one-hot targets of shape [4]", "metrics::sparse_accuracy"});
  EXPECT_PARITY_ERROR(train::metrics::sparse_accuracy().fn(p, zeros({4, 3})),
                      {"sparse_accuracy:", "integer labels", "float32", "metrics::accuracy"});
  EXPECT_PARITY_ERROR(train::metrics::sparse_accuracy().fn(p, zeros({3}, {.dtype = kInt64})),
                      {"sparse_accuracy:", "of shape [4]", "got [3]"});
}

TEST(Metrics, FitKeepsEachEpochsMeanAndShowsItBesideTheLoss) {
  nn::Sequential model{nn::Dense{{.units = 3}}};
  model.build({4}, {.seed = 5});
  Generator gen(77);
  const Tensor x = randn({50, 4}, {}, 0.0, 1.0, &gen);
  const Tensor labels = randint(0, 3, {50}, {.dtype = kInt64}, &gen);
  // lr = 0: the model does not change, so each epoch's accuracy is its accuracy on all rows.
  optim::SGD sgd(model.parameters(), {.lr = 0.0});
  std::ostringstream out;
  const auto loss = [](const Tensor& p, const Tensor& y) {
    return nn::losses::sparse_categorical_crossentropy_with_logits(p, y);
  };
  const train::History history =
      train::fit(model, sgd, loss, x, labels,
                 {.batch_size = 16, .epochs = 2, .shuffle = false, .verbose = 1,
                  .validation_data = std::make_pair(x.narrow(0, 0, 20), labels.narrow(0, 0, 20)),
                  .metrics = {train::metrics::sparse_accuracy()}, .out = &out});
  const std::vector<i64> predicted = argmax(model.forward(x), -1).to_vector<i64>(), truth = labels.to_vector<i64>();
  double hits = 0, val_hits = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    hits += predicted[i] == truth[i];
    if (i < 20) val_hits += predicted[i] == truth[i];
  }
  ASSERT_EQ(history.metrics.at("sparse_accuracy").size(), 2u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_NEAR(history.metrics.at("sparse_accuracy")[e], hits / 50.0, 1e-12);
    EXPECT_NEAR(history.metrics.at("val_sparse_accuracy")[e], val_hits / 20.0, 1e-12);
  }
  const std::string text = out.str();
  const std::size_t at_loss = text.rfind(" - loss: "), at_acc = text.rfind(" - sparse_accuracy: "),
                    at_val_loss = text.rfind(" - val_loss: "), at_val_acc = text.rfind(" - val_sparse_accuracy: ");
  ASSERT_NE(at_acc, std::string::npos) << text;
  ASSERT_NE(at_val_acc, std::string::npos) << text;
  EXPECT_LT(at_loss, at_acc);
  EXPECT_LT(at_acc, at_val_loss) << "Keras' order: loss, metrics, val_loss, val_ metrics\n" << text;
  EXPECT_LT(at_val_loss, at_val_acc);
  EXPECT_NE(text.find(train::format_value(hits / 50.0)), std::string::npos) << text;
}

}  // namespace
}  // namespace parity::testing
