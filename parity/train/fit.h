// The training loop: fit, evaluate, predict, as Keras' Model methods, written
// eagerly over the library's ops.
//
//   auto history = train::fit(model, opt, nn::losses::mse, x, y,
//                             {.batch_size = 64, .epochs = 3, .validation_data = std::pair{vx, vy}});
//   Tensor p = train::predict(model, x_test);
//
// Each step of fit() is train_step(): zero the gradients, forward, loss,
// backward, optimizer step. Batches come from train::batches (parity/train/batches.h),
// shuffled each epoch when asked (epoch e uses permutation(n, seed, e)). The
// data may live on another device than the model: each batch is moved to the
// model's device (so a CPU dataset trains a CUDA model); the model's device is
// x's when the model is not built yet (its first call builds it).
//
// The loss of a step is read back to the host (a sync per batch, as Keras'
// per-batch logs do). Losses are accumulated in double: the epoch's loss is
// sum(batch_loss * batch_size) / samples, Keras' running mean.
#pragma once

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <utility>
#include <vector>

#include "parity/nn/losses.h"
#include "parity/nn/module.h"
#include "parity/optim/optimizer.h"
#include "parity/tensor/tensor.h"
#include "parity/train/callbacks.h"
#include "parity/train/history.h"
#include "parity/train/metrics.h"
#include "parity/train/progress.h"

namespace parity::train {

struct FitOptions {
  std::int64_t batch_size = 32;  // >= 1
  int epochs = 1;                // >= 0 (0 trains nothing)
  bool shuffle = true;           // a new order each epoch (Note [Shuffling from a seed])
  std::uint64_t seed = 0;        // of the shuffle
  int verbose = 1;               // 0 silent, 1 progress bar, 2 one line per epoch (Keras)
  // (x, y) to compute val_loss on at each epoch's end.
  std::optional<std::pair<Tensor, Tensor>> validation_data;
  // Called in order, before the progress printer (parity/train/callbacks.h).
  std::vector<std::shared_ptr<Callback>> callbacks;
  // Shown after the loss and kept in History::metrics (parity/train/metrics.h),
  // e.g. {metrics::sparse_accuracy()}.
  std::vector<Metric> metrics;
  std::ostream* out = &std::cout;  // the progress output; nullptr prints nothing
  Clock clock;                     // the time source of epoch times and the bar; unset: steady_seconds
};

// Trains `model` on (x, y): `epochs` passes over the rows of x in batches, one
// optimizer step per batch, in training mode (the model's previous mode is
// restored afterwards). The optimizer must hold the model's parameters (build
// the model, move it, then make the optimizer). Throws parity::Error naming fit
// when x and y differ in their first dim, x is empty, batch_size < 1, epochs <
// 0, verbose is not 0, 1 or 2, or the loss is not one element.
History fit(nn::Module& model, optim::Optimizer& optimizer, const nn::Loss& loss, const Tensor& x,
            const Tensor& y, const FitOptions& options = {});

// One step of fit(): xb and yb moved to the model's device (when built, and
// elsewhere), optimizer.zero_grad(), predictions = model(xb), loss =
// loss_fn(predictions, yb), loss.backward(), optimizer.step(). Uses the model in
// whatever mode it is in.
struct StepResult {
  Tensor x, y;         // the batch as the model got it
  Tensor predictions;  // the model's output
  Tensor loss;         // the loss function's one-element result
  double loss_value;   // its value, read back
};
StepResult train_step(nn::Module& model, optim::Optimizer& optimizer, const nn::Loss& loss, const Tensor& xb,
                      const Tensor& yb);

// The loss over (x, y), batched, in evaluation mode and without recording:
// sum(batch_loss * batch_size) / samples (Keras' evaluate). Restores the
// model's mode. Throws naming evaluate for the errors fit() checks.
double evaluate(nn::Module& model, const nn::Loss& loss, const Tensor& x, const Tensor& y,
                std::int64_t batch_size = 32);

// The model's outputs for the rows of x, batched, in evaluation mode and
// without recording, concatenated along dim 0 into one tensor on the model's
// device. Restores the model's mode. An x with no rows gives a [0, ...] result
// when the model is built (throws otherwise: the output shape is unknown).
Tensor predict(nn::Module& model, const Tensor& x, std::int64_t batch_size = 32);

}  // namespace parity::train
