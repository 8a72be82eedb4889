#include "parity/nn/losses.h"

#include "parity/nn/activation.h"
#include "parity/tensor/error.h"
#include "parity/tensor/ops.h"

namespace parity::nn {

namespace {

void check_pair(const char* loss, const Tensor& p, const Tensor& t) {
  PARITY_CHECK(p.defined() && t.defined(), loss, ": predictions and targets must be defined tensors");
  PARITY_CHECK(p.shape() == t.shape(), loss, ": predictions of shape ", to_string(p.shape()),
               " and targets of shape ", to_string(t.shape()), " differ; expected the same shape");
  PARITY_CHECK(p.dim() >= 1, loss, ": expected predictions with at least one axis, got a 0-d tensor");
  PARITY_CHECK(is_floating(p.dtype()) && p.dtype() == t.dtype(), loss, ": expected floating predictions and ",
               "targets of one dtype, got ", p.dtype(), " and ", t.dtype());
  PARITY_CHECK(p.device() == t.device(), loss, ": predictions are on ", p.device(), " and targets on ", t.device());
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

Loss by_name(std::string_view name) {
  if (name == "mse" || name == "mean_squared_error") return mse;
  if (name == "mae" || name == "mean_absolute_error") return mae;
  if (name == "binary_crossentropy") return binary_crossentropy_with_logits;
  if (name == "categorical_crossentropy") return categorical_crossentropy_with_logits;
  PARITY_FAIL("losses::by_name: unknown loss \"", name, "\"; expected mse, mae, binary_crossentropy or ",
              "categorical_crossentropy");
}

}  // namespace losses
}  // namespace parity::nn
