// Metrics fit() reports beside the loss, as Keras' `metrics=[...]`: a value
// per batch from (predictions, targets), shown in the progress bar as the
// epoch's running mean weighted by batch size, kept per epoch in
// History::metrics, and computed on the validation data as "val_<name>".
#pragma once

#include <functional>
#include <string>

#include "parity/tensor/tensor.h"

namespace parity::train {

struct Metric {
  std::string name;  // shown as "name: 0.5000" (and "val_name")
  std::function<double(const Tensor& predictions, const Tensor& targets)> fn;
};

namespace metrics {

// Keras' "categorical_accuracy": the share of rows whose largest prediction
// (over the last axis; the first on ties) is at the one-hot target's 1.
Metric accuracy();
// Keras' "sparse_categorical_accuracy": the same against integer labels of the
// predictions' shape without the last axis.
Metric sparse_accuracy();
// Keras' "binary_accuracy": the share of elements where (prediction >
// threshold) equals (target > 0.5). 0.5 for probabilities; 0 for logits.
Metric binary_accuracy(double threshold = 0.5);

}  // namespace metrics
}  // namespace parity::train
