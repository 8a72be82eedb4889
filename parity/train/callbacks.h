// Callbacks: code fit() runs at fixed points of training, as Keras' callbacks.
//
// A callback overrides the hooks it needs (each defaults to nothing); fit()
// calls the callbacks of FitOptions::callbacks in order at each point, then its
// own progress printer. Epochs and batches are counted from 0 (the progress
// bar prints epochs from 1, as Keras does).
//
//   train::fit(model, opt, loss, x, y, {.callbacks = {train::lambda_callback({
//       .on_epoch_end = [](const train::EpochEnd& e) { if (e.loss < 1e-3) e.stop_training = true; }})}});
//
// Note [Stopping training]: every event but on_epoch_begin carries
// `bool& stop_training`, fit's own flag. Set from on_batch_end, the epoch ends
// after that batch (its loss is the mean over the batches that ran, validation
// still runs, on_epoch_end is called) and no further epoch starts; set from
// on_epoch_end, no further epoch starts; set from on_train_begin, no epoch runs.
// on_train_end is called in every case.
//
// The events hand out the model and the optimizer by reference and each
// step's batch, predictions and loss tensors, so a callback can read (or
// copy) anything after each step: the lockstep divergence tool compares the
// parameters and the loss of two runs from on_batch_end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "parity/nn/module.h"
#include "parity/optim/optimizer.h"
#include "parity/tensor/tensor.h"
#include "parity/train/history.h"

namespace parity::train {

// At the start of fit().
struct TrainInfo {
  int epochs;
  std::int64_t samples;  // rows of x
  std::int64_t batch_size;
  std::int64_t steps_per_epoch;     // ceil(samples / batch_size)
  std::int64_t validation_samples;  // 0 without validation data
  nn::Module& model;
  optim::Optimizer& optimizer;
  bool& stop_training;  // Note [Stopping training]
};

// After each optimizer step.
// Named values, in order: {{"loss", 0.25}, {"accuracy", 0.5}} (what the bar shows after it).
using Metrics = std::vector<std::pair<std::string, double>>;

struct BatchEnd {
  int epoch;
  std::int64_t batch;       // in this epoch
  std::int64_t step;        // in this fit() call, over all epochs (0 for the first)
  std::int64_t batch_size;  // samples in this batch (the last batch may be smaller)
  std::int64_t seen;        // samples seen in this epoch, this batch included
  double loss;              // this batch's loss
  double mean_loss;         // sum(loss * batch_size) / seen over this epoch: what the progress bar shows
  const Tensor& x;          // the batch as the model got it (on the model's device)
  const Tensor& y;
  const Tensor& predictions;
  const Tensor& loss_tensor;  // the loss function's result, still holding its graph until the next step
  nn::Module& model;
  optim::Optimizer& optimizer;
  bool& stop_training;  // Note [Stopping training]
  const Metrics& metrics;  // FitOptions::metrics' running means over this epoch, in order
};

// After each epoch (and its validation).
struct EpochEnd {
  int epoch;
  std::int64_t batches;  // batches that ran in this epoch
  std::int64_t seen;     // samples seen in this epoch
  double loss;           // the epoch's mean loss (History::loss)
  std::optional<double> val_loss;
  double seconds;  // the epoch's wall time
  nn::Module& model;
  optim::Optimizer& optimizer;
  const History& history;  // including this epoch
  bool& stop_training;     // Note [Stopping training]
  const Metrics& metrics;  // the epoch's means of FitOptions::metrics, then their val_ forms
};

struct Callback {
  virtual ~Callback() = default;
  virtual void on_train_begin(const TrainInfo&) {}
  virtual void on_epoch_begin(int /*epoch*/) {}
  virtual void on_batch_begin(int /*epoch*/, std::int64_t /*batch*/) {}
  virtual void on_batch_end(const BatchEnd&) {}
  virtual void on_epoch_end(const EpochEnd&) {}
  virtual void on_train_end(const History&) {}
};

// A callback made of functions (Keras' LambdaCallback); unset hooks do nothing.
class LambdaCallback : public Callback {
 public:
  struct Hooks {
    std::function<void(const TrainInfo&)> on_train_begin;
    std::function<void(int epoch)> on_epoch_begin;
    std::function<void(int epoch, std::int64_t batch)> on_batch_begin;
    std::function<void(const BatchEnd&)> on_batch_end;
    std::function<void(const EpochEnd&)> on_epoch_end;
    std::function<void(const History&)> on_train_end;
  };

  explicit LambdaCallback(Hooks hooks) : hooks_(std::move(hooks)) {}

  void on_train_begin(const TrainInfo& info) override {
    if (hooks_.on_train_begin) hooks_.on_train_begin(info);
  }
  void on_epoch_begin(int epoch) override {
    if (hooks_.on_epoch_begin) hooks_.on_epoch_begin(epoch);
  }
  void on_batch_begin(int epoch, std::int64_t batch) override {
    if (hooks_.on_batch_begin) hooks_.on_batch_begin(epoch, batch);
  }
  void on_batch_end(const BatchEnd& event) override {
    if (hooks_.on_batch_end) hooks_.on_batch_end(event);
  }
  void on_epoch_end(const EpochEnd& event) override {
    if (hooks_.on_epoch_end) hooks_.on_epoch_end(event);
  }
  void on_train_end(const History& history) override {
    if (hooks_.on_train_end) hooks_.on_train_end(history);
  }

 private:
  Hooks hooks_;
};

// std::make_shared<LambdaCallback>(hooks), for FitOptions::callbacks:
//   .callbacks = {train::lambda_callback({.on_batch_end = [&](const train::BatchEnd& e) { ... }})}
inline std::shared_ptr<Callback> lambda_callback(LambdaCallback::Hooks hooks) {
  return std::make_shared<LambdaCallback>(std::move(hooks));
}

}  // namespace parity::train
