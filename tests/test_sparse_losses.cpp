// Integer-label losses and one_hot (parity/nn/losses.h) on every device:
// sparse categorical cross-entropy and NLL against a float64 host reference
// (log-sum-exp written out per row, no Parity op), with and without label
// smoothing; their gradients by finite differences; sparse = categorical of
// one_hot; and the errors for labels they refuse.
#include <algorithm>
#include <cmath>
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;

// mean over rows of -sum_c t_c log_softmax(x)_c, t the smoothed one-hot row.
double ref_sparse_ce(const std::vector<double>& x, const std::vector<i64>& labels, i64 classes, double e) {
  double total = 0;
  const auto rows = static_cast<i64>(labels.size());
  for (i64 r = 0; r < rows; ++r) {
    const double* row = &x[static_cast<std::size_t>(r * classes)];
    const double m = *std::max_element(row, row + classes);
    double s = 0;
    for (i64 c = 0; c < classes; ++c) s += std::exp(row[c] - m);
    const double lse = m + std::log(s);
    for (i64 c = 0; c < classes; ++c) {
      const double t = (c == labels[static_cast<std::size_t>(r)] ? 1.0 - e : 0.0) + e / static_cast<double>(classes);
      total -= t * (row[c] - lse);
    }
  }
  return total / static_cast<double>(rows);
}

class SparseLosses : public AutogradTest {};

TEST_P(SparseLosses, SparseCrossEntropyMatchesTheFloat64Reference) {
  TestRng rng;
  const i64 rows = 9, classes = 5;
  const std::vector<i64> labels = {0, 4, 2, 2, 1, 3, 4, 0, 1};
  for (const double smoothing : {0.0, 0.1}) {
    for (DType dtype : {kFloat32, kFloat64}) {
      SCOPED_TRACE(std::string(name(dtype)) + ", label_smoothing " + std::to_string(smoothing));
      const Ref x = random_ref(rng, {rows, classes}, dtype, -4, 4);
      const Tensor logits = to_tensor(x, device());
      for (const DType label_dtype : {kInt64, kInt32, kUInt8}) {
        const Tensor y = from_vector(labels, {rows}, device()).to(label_dtype);
        const double got =
            nn::losses::sparse_categorical_crossentropy_with_logits(logits, y, smoothing).item<double>();
        const double want = ref_sparse_ce(x.v, labels, classes, smoothing);
        EXPECT_NEAR(got, want, (dtype == kFloat32 ? 1e-6 : 1e-14) * std::abs(want));
        // NLL of log_softmax is the same loss.
        const double nll = nn::losses::nll_loss(nn::log_softmax(logits, -1), y, smoothing).item<double>();
        EXPECT_NEAR(nll, want, (dtype == kFloat32 ? 1e-6 : 1e-14) * std::abs(want));
      }
    }
  }
}

TEST_P(SparseLosses, OneHotRowsAndSparseIsCategoricalOfThem) {
  const Tensor labels = from_vector(std::vector<i64>{2, 0, 3}, {3}, device());
  const std::vector<double> rows = nn::one_hot(labels, 4, kFloat64).to_vector<double>();
  const std::vector<double> want = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(rows, want);
  EXPECT_EQ(nn::one_hot(labels.view({3, 1}), 4).shape(), (Shape{3, 1, 4}));
  EXPECT_EQ(nn::one_hot(labels, 4).dtype(), kFloat32);
  const Tensor logits = normal({3, 4});
  EXPECT_EQ(nn::losses::sparse_categorical_crossentropy_with_logits(logits, labels).item<double>(),
            nn::losses::categorical_crossentropy_with_logits(logits, nn::one_hot(labels, 4, kFloat64)).item<double>());
}

TEST_P(SparseLosses, GradientsByFiniteDifferences) {
  const Tensor labels = from_vector(std::vector<i64>{1, 0, 2, 2}, {4}, device());
  EXPECT_GRADCHECK(
      [labels](const std::vector<Tensor>& in) {
        return nn::losses::sparse_categorical_crossentropy_with_logits(in[0], labels, 0.2);
      },
      {normal({4, 3}).requires_grad_()});
  EXPECT_GRADCHECK(
      [labels](const std::vector<Tensor>& in) { return nn::losses::nll_loss(nn::log_softmax(in[0], -1), labels); },
      {normal({4, 3}, false).requires_grad_()});
}

TEST_P(SparseLosses, RefuseLabelsTheyCannotUse) {
  const Tensor logits = normal({4, 3});
  const TensorOptions i64s{.dtype = kInt64, .device = device()};
  EXPECT_PARITY_ERROR(nn::losses::sparse_categorical_crossentropy_with_logits(logits, zeros({4, 3}, i64s)),
                      {"sparse_categorical_crossentropy_with_logits:", "labels of shape [4]", "got [4, 3]"});
  EXPECT_PARITY_ERROR(nn::losses::sparse_categorical_crossentropy_with_logits(logits, zeros({4}, f64())),
                      {"sparse_categorical_crossentropy_with_logits:", "integer labels", "float64",
                       "categorical_crossentropy_with_logits"});
  EXPECT_PARITY_ERROR(
      nn::losses::sparse_categorical_crossentropy_with_logits(logits, from_vector(std::vector<i64>{0, 3, 1, 1}, {4}, device())),
      {"one_hot:", "range over [0, 3]", "[0, 3)"});
  EXPECT_PARITY_ERROR(nn::losses::nll_loss(logits, zeros({4}, i64s), 1.0), {"nll_loss:", "label_smoothing is 1"});
  EXPECT_PARITY_ERROR(nn::one_hot(zeros({2}, i64s), 0), {"one_hot:", "num_classes is 0"});
  // The one-hot loss on integer labels points to the sparse one.
  EXPECT_PARITY_ERROR(nn::losses::categorical_crossentropy_with_logits(logits, zeros({4}, i64s)),
                      {"categorical_crossentropy_with_logits:", "sparse_categorical_crossentropy_with_logits"});
}

INSTANTIATE_TEST_SUITE_P(Devices, SparseLosses, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
