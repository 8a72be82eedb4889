#include "parity/nn/losses.h"

#include "parity/nn/activation.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

namespace {

void check_pair(const char* loss, const Tensor& p, const Tensor& t) {
  PARITY_CHECK(p.defined() && t.defined(), loss, ": predictions and targets must be defined tensors");
  PARITY_CHECK(p.shape() == t.shape(), loss, ": predictions of shape ", to_string(p.shape()),
               " and targets of shape ", to_string(t.shape()), " differ; expected the same shape",
               p.dim() == t.dim() + 1 && !is_floating(t.dtype())
                   ? " (for integer labels, use sparse_categorical_crossentropy_with_logits or nll_loss)"
                   : "");
  PARITY_CHECK(p.dim() >= 1, loss, ": expected predictions with at least one axis, got a 0-d tensor");
  PARITY_CHECK(is_floating(p.dtype()) && p.dtype() == t.dtype(), loss, ": expected floating predictions and ",
               "targets of one dtype, got ", p.dtype(), " and ", t.dtype());
  PARITY_CHECK(p.device() == t.device(), loss, ": predictions are on ", p.device(), " and targets on ", t.device());
}

bool is_label_dtype(DType dtype) { return dtype == kInt32 || dtype == kInt64 || dtype == kUInt8; }

// Integer labels of the predictions' shape without its last axis, on their
// device; the label smoothing in [0, 1).
void check_labels(const char* loss, const Tensor& p, const Tensor& labels, double label_smoothing) {
  PARITY_CHECK(p.defined() && labels.defined(), loss, ": predictions and labels must be defined tensors");
  PARITY_CHECK(p.dim() >= 1, loss, ": expected predictions with a class axis, got a 0-d tensor");
  PARITY_CHECK(is_floating(p.dtype()), loss, ": expected floating predictions, got ", p.dtype());
  PARITY_CHECK(is_label_dtype(labels.dtype()), loss, ": expected integer labels (int32, int64 or uint8), got ",
               labels.dtype(), " (shape ", to_string(labels.shape()),
               "); for one-hot or probability targets use categorical_crossentropy_with_logits");
  const Shape& ps = p.shape();
  PARITY_CHECK(labels.shape() == Shape(ps.begin(), ps.end() - 1), loss, ": predictions of shape ", to_string(ps),
               " take labels of shape ", to_string(Shape(ps.begin(), ps.end() - 1)), " (one per row), got ",
               to_string(labels.shape()));
  PARITY_CHECK(p.device() == labels.device(), loss, ": predictions are on ", p.device(), " and labels on ",
               labels.device());
  PARITY_CHECK(label_smoothing >= 0.0 && label_smoothing < 1.0, loss, ": label_smoothing is ", label_smoothing,
               ": expected a value in [0, 1)");
}

// The one-hot targets of labels over the predictions' classes, smoothed.
Tensor smoothed_targets(const Tensor& p, const Tensor& labels, double label_smoothing) {
  const std::int64_t classes = p.size(-1);
  const Tensor t = one_hot(labels, classes, p.dtype());
  if (label_smoothing == 0.0) return t;
  return add(mul(t, 1.0 - label_smoothing), label_smoothing / static_cast<double>(classes));
}

// Keras' reduction: mean over the last axis, then over everything else.
Tensor keras_mean(const Tensor& per_element) { return mean(mean(per_element, {-1})); }

}  // namespace

namespace losses {

Tensor mse(const Tensor& p, const Tensor& t) {
  check_pair("mse", p, t);
  return keras_mean(square(sub(p, t)));
}

Tensor mae(const Tensor& p, const Tensor& t) {
  check_pair("mae", p, t);
  return keras_mean(abs(sub(p, t)));
}

Tensor binary_crossentropy_with_logits(const Tensor& x, const Tensor& t) {
  check_pair("binary_crossentropy_with_logits", x, t);
  const Tensor per_element = add(sub(maximum(x, 0), mul(x, t)), log(add(exp(neg(abs(x))), 1)));
  return keras_mean(per_element);
}

Tensor categorical_crossentropy_with_logits(const Tensor& x, const Tensor& t) {
  check_pair("categorical_crossentropy_with_logits", x, t);
  return mean(neg(sum(mul(t, log_softmax(x, -1)), {-1})));
}

Tensor sparse_categorical_crossentropy_with_logits(const Tensor& x, const Tensor& labels, double label_smoothing) {
  check_labels("sparse_categorical_crossentropy_with_logits", x, labels, label_smoothing);
  return categorical_crossentropy_with_logits(x, smoothed_targets(x, labels, label_smoothing));
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, double label_smoothing) {
  check_labels("nll_loss", log_probs, labels, label_smoothing);
  return mean(neg(sum(mul(smoothed_targets(log_probs, labels, label_smoothing), log_probs), {-1})));
}

Loss by_name(std::string_view name) {
  if (name == "mse" || name == "mean_squared_error") return mse;
  if (name == "mae" || name == "mean_absolute_error") return mae;
  if (name == "binary_crossentropy") return binary_crossentropy_with_logits;
  if (name == "categorical_crossentropy") return categorical_crossentropy_with_logits;
  if (name == "sparse_categorical_crossentropy") {
    return [](const Tensor& x, const Tensor& labels) { return sparse_categorical_crossentropy_with_logits(x, labels); };
  }
  PARITY_FAIL("losses::by_name: unknown loss \"", name, "\"; expected mse, mae, binary_crossentropy, ",
              "categorical_crossentropy or sparse_categorical_crossentropy");
}

}  // namespace losses

Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype) {
  PARITY_CHECK(labels.defined(), "one_hot: labels is an undefined tensor");
  PARITY_CHECK(is_label_dtype(labels.dtype()), "one_hot: expected integer labels (int32, int64 or uint8), got ",
               labels.dtype(), " (shape ", to_string(labels.shape()), ")");
  PARITY_CHECK(num_classes > 0, "one_hot: num_classes is ", num_classes, ": expected a positive count");
  if (labels.numel() > 0) {
    // Read back (a device synchronization on a GPU): a label out of range would give a row of zeros.
    const std::int64_t lo = min(labels).item<std::int64_t>(), hi = max(labels).item<std::int64_t>();
    PARITY_CHECK(lo >= 0 && hi < num_classes, "one_hot: labels (shape ", to_string(labels.shape()),
                 ") range over [", lo, ", ", hi, "]: expected each in [0, ", num_classes, ")");
  }
  const Tensor classes = arange(num_classes, {.dtype = kInt64, .device = labels.device()});
  return eq(labels.to(kInt64).unsqueeze(-1), classes).to(dtype);
}
}  // namespace parity::nn
