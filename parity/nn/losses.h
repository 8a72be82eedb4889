// Losses, as Keras reduces them: the per-element loss is averaged over the
// last axis (one value per sample), then over the batch. The two-stage mean
// is part of the numerics: a single mean over all elements rounds differently
// in float32, and Keras' loss values are what the seed compares.
//
// Every loss takes (predictions, targets) of the same shape, floating, on one
// device, and returns a 0-d tensor; it throws naming the loss and both shapes
// otherwise. The sparse losses take integer labels instead: targets of the
// predictions' shape without its last axis (the classes).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "parity/nn/activation.h"  // softmax, log_softmax, for code that found them here
#include "parity/tensor/tensor.h"

namespace parity::nn {

// A loss function: (predictions, targets) -> 0-d loss. Any callable fits.
using Loss = std::function<Tensor(const Tensor& predictions, const Tensor& targets)>;

namespace losses {

// mean(mean((p - t)^2, -1)): Keras' "mse" / "mean_squared_error".
Tensor mse(const Tensor& predictions, const Tensor& targets);
// mean(mean(|p - t|, -1)): Keras' "mae".
Tensor mae(const Tensor& predictions, const Tensor& targets);
// Sigmoid cross-entropy on logits, targets in [0, 1], written the stable way
// (TensorFlow's sigmoid_cross_entropy_with_logits):
//   max(x, 0) - x*t + log(1 + exp(-|x|)), then mean over the last axis and the batch.
Tensor binary_crossentropy_with_logits(const Tensor& logits, const Tensor& targets);
// Softmax cross-entropy on logits over the last axis, targets one-hot or
// probabilities: -sum(t * log_softmax(x), -1), then mean over the batch.
Tensor categorical_crossentropy_with_logits(const Tensor& logits, const Tensor& targets);

// categorical_crossentropy_with_logits on integer labels (int32, int64 or
// uint8, each in [0, classes)), Keras' "sparse_categorical_crossentropy":
// logits [..., classes] and labels [...]. label_smoothing e in [0, 1) puts
// 1 - e + e/classes on the label and e/classes on every other class (PyTorch's
// and Keras' label smoothing).
Tensor sparse_categorical_crossentropy_with_logits(const Tensor& logits, const Tensor& labels,
                                                   double label_smoothing = 0.0);
// The negative log-likelihood of log-probabilities (log_softmax's output) at
// integer labels, averaged: PyTorch's nll_loss (reduction "mean", no weights),
// with the same label smoothing.
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, double label_smoothing = 0.0);

// A loss by its Keras name: "mse", "mean_squared_error", "mae",
// "mean_absolute_error", "binary_crossentropy" (from logits),
// "categorical_crossentropy" (from logits), "sparse_categorical_crossentropy"
// (from logits, integer labels). Throws for another name.
Loss by_name(std::string_view name);

}  // namespace losses

// Integer labels [...] (int32, int64 or uint8, each in [0, num_classes)) as
// one-hot rows [..., num_classes] of `dtype`: torch.nn.functional.one_hot.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype = kFloat32);

}  // namespace parity::nn
