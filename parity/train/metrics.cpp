#include "parity/train/metrics.h"

#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::train::metrics {

namespace {

// The share of true elements of a bool tensor.
double share(const Tensor& hits) { return mean(hits.to(kFloat64)).item<double>(); }

void check_rows(const char* metric, const Tensor& p, const Shape& labels_shape) {
  PARITY_CHECK(p.defined() && p.dim() >= 1, metric, ": expected predictions with a class axis");
  const Shape& ps = p.shape();
  PARITY_CHECK(labels_shape == Shape(ps.begin(), ps.end() - 1), metric, ": predictions of shape ", to_string(ps),
               " take targets with one label per row, of shape ", to_string(Shape(ps.begin(), ps.end() - 1)),
               ", got ", to_string(labels_shape));
}

}  // namespace

Metric accuracy() {
  return {"accuracy", [](const Tensor& p, const Tensor& t) {
            PARITY_CHECK(t.defined() && t.shape() == p.shape(), "accuracy: predictions of shape ",
                         to_string(p.shape()), " and one-hot targets of shape ", to_string(t.shape()),
                         " differ (for integer labels use metrics::sparse_accuracy)");
            check_rows("accuracy", p, Shape(t.shape().begin(), t.shape().end() - 1));
            return share(eq(argmax(p, -1), argmax(t, -1)));
          }};
}

Metric sparse_accuracy() {
  return {"sparse_accuracy", [](const Tensor& p, const Tensor& labels) {
            PARITY_CHECK(labels.defined() && !is_floating(labels.dtype()),
                         "sparse_accuracy: expected integer labels, got ",
                         labels.defined() ? std::string(name(labels.dtype())) : std::string("an undefined tensor"),
                         " (for one-hot targets use metrics::accuracy)");
            check_rows("sparse_accuracy", p, labels.shape());
            return share(eq(argmax(p, -1), labels.to(kInt64)));
          }};
}

Metric binary_accuracy(double threshold) {
  return {"binary_accuracy", [threshold](const Tensor& p, const Tensor& t) {
            PARITY_CHECK(t.defined() && t.shape() == p.shape(), "binary_accuracy: predictions of shape ",
                         to_string(p.shape()), " and targets of shape ", to_string(t.shape()), " differ");
            return share(eq(gt(p, threshold), gt(t, 0.5)));
          }};
}

}  // namespace parity::train::metrics
