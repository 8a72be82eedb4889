// Keras 2.0.4 on TensorFlow's graph mode, as its race really happens (Note
// [The TF race]): one training step is one session.run whose ops run unordered,
// so a read of a variable may come after that variable's update in the same step.
// Two reads can race in the seed's model:
//   - a layer's backward (dL/dinput) reads its weights: when their update has
//     already run, every layer below gets gradients made with the new weights;
//   - Adam's read of `iterations` for t (and for `decay`): after the increment,
//     t is one ahead (the t_ahead preset is this at every step).
// The loss of a step is unaffected (the forward pass precedes every update); the
// next steps' losses show what the step's reads saw.
//
//   train::RacedTrainer t(model, [&](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(p, ...); });
//   t.step(xb, yb, nn::losses::mse, {.late_weights = {8}, .late_iterations = true});
//   train::RaceSearch found = train::search_race(make_model, make_optimizer, x, y, 64, real_losses);
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "parity/nn/losses.h"
#include "parity/nn/sequential.h"
#include "parity/optim/optimizer.h"

namespace parity::train {

// What one step's unordered reads saw.
struct RacedReads {
  std::set<std::size_t> late_weights;  // layers (by index) whose backward read their updated weights
  bool late_iterations = false;        // the optimizer's step counter read after its increment
  friend bool operator==(const RacedReads&, const RacedReads&) = default;
};
using RaceSchedule = std::vector<RacedReads>;  // one per step

std::string to_string(const RacedReads& reads);

using OptimizerMaker = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor> params)>;

// Trains a Sequential the way the race lets TensorFlow: one optimizer per layer
// (the same hyper-parameters and preset, so an ordered step equals one
// optimizer's step), the backward pass layer by layer.
class RacedTrainer {
 public:
  RacedTrainer(nn::Sequential& model, const OptimizerMaker& make_optimizer);

  // One step; returns the batch's loss (computed before any update).
  double step(const Tensor& xb, const Tensor& yb, const nn::Loss& loss, const RacedReads& reads = {});

  // The layers whose weights a backward pass reads: every layer with a kernel
  // but the first (no gradient flows below it).
  std::vector<std::size_t> raceable_layers() const;

  // Snapshot and restore of the model's weights and every optimizer's state.
  struct State;
  std::shared_ptr<State> save() const;
  void restore(const State& state);

 private:
  nn::Sequential& model_;
  std::vector<std::unique_ptr<optim::Optimizer>> optimizers_;  // one per layer with parameters (else null)
};

// The schedules whose per-step losses reproduce a real run's: a depth-first
// search over every combination of late reads at each step, pruned where the
// next loss differs from the real one by more than `rel_tol`. A schedule for the
// last step cannot be seen in the losses and is not searched.
struct RaceSearch {
  std::vector<RaceSchedule> schedules;  // every schedule that reproduces all the losses (at most max_results)
  // When none does: the first step whose next loss no schedule reproduces, the
  // real loss there and the closest one found.
  int failed_step = 0;
  double real_loss = 0, closest_loss = 0;
  // With the real run's weight sums: the tensor whose weights, after the step
  // before failed_step, part most from the closest schedule's (relative
  // difference of the sums of squares), and that difference.
  std::string failed_tensor;
  double failed_tensor_relative = 0;
  std::string summary() const;
};

// A real run's weights after each step, as checksums: per step, per parameter
// (in the model's named_parameters() order), {sum, sum of squares} in float64.
using WeightSums = std::vector<std::vector<std::array<double, 2>>>;

struct RaceSearchOptions {
  double rel_tol = 2e-6;          // a loss reproduces the real one within this relative distance
  bool late_iterations = true;    // also search the step counter's read (false: an optimizer without one)
  std::size_t max_results = 16;   // schedules kept per run
};

// Several runs at once (their common prefixes are computed once): one result per run.
std::vector<RaceSearch> search_races(const std::function<nn::Sequential()>& make_model,
                                     const OptimizerMaker& make_optimizer,
                                     const std::function<void(nn::Sequential&)>& load_weights, const Tensor& x,
                                     const Tensor& y, std::int64_t batch_size,
                                     const std::vector<std::vector<double>>& real_runs, const nn::Loss& loss,
                                     const RaceSearchOptions& options = {},
                                     const std::vector<WeightSums>* real_weight_sums = nullptr);

}  // namespace parity::train
