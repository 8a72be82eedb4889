// Lockstep divergence report: two configurations of one model trained side by
// side from the same weights on the same batches, compared op by op at every
// step, with bounds derived from float32 rounding (Note [Lockstep bounds]).
//
//   train::LockstepSide a{"tensorflow", tf_model, *tf_opt};
//   train::LockstepSide b{"theano", th_model, *th_opt, theano_input, to_common, from_common};
//   const train::DivergenceReport r = train::lockstep(a, b, x, y, {.steps = 4, .batch_size = 64});
//   std::cout << r.summary();          // the first (step, phase, tensor, op) past its bound
//   r.write_json("report.json");      // everything, per step, per layer, per parameter
//
// Two passes (Note [Lockstep passes]):
//  - free: both sides train on their own; per step the losses, every layer's
//    output, every gradient and update, the parameter distance, and how much the
//    optimizer amplified the gradient difference into the update difference;
//  - resynced: before each step B is given A's weights and optimizer state, so
//    whatever differs in that step was made in that step: the first tensor past
//    its rounding bound is where and why the two configurations part.
// Works for any nn::Sequential (the user's own layers included: unknown layer
// types are compared but get no bound).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "parity/nn/losses.h"
#include "parity/nn/sequential.h"
#include "parity/optim/optimizer.h"
#include "parity/tensor/context.h"
#include "parity/tensor/device.h"

namespace parity::train {

// One side: a built model, its optimizer, and how its layouts map to the common
// one (A's, by default). The conversions must be exact (permutations, flips).
struct LockstepSide {
  std::string label;
  nn::Sequential* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  // This side's input for a batch in the common layout (NHWC images -> NCHW, ...).
  std::function<Tensor(const Tensor&)> input;
  // The model's state dict in the common layout, and back. Default: identity.
  std::function<nn::StateDict(const nn::StateDict&)> to_common, from_common;
  // What this side computes under (math mode, determinism, CPU convolution
  // algorithm); unset fields: the caller's settings. The side's device is its
  // model's: lockstep moves each batch there and compares on the host.
  NumericsSettings numerics;
};

// The settings a side actually computed under, as the report states them.
struct SideNumerics {
  Device device = Device::cpu();
  MathMode math_mode = MathMode::StrictFP32;
  bool deterministic = true;
  CpuConvAlgorithm cpu_conv_algorithm = CpuConvAlgorithm::OneDnn;  // what a float32 conv2d takes on the CPU
  std::string describe() const;  // "cpu, strict_fp32, deterministic, onednn convolutions"
};

struct LockstepOptions {
  int steps = 1;
  std::int64_t batch_size = 32;
  nn::Loss loss = nn::losses::mse;
  bool free_pass = true;      // train both sides on their own (drift)
  bool resynced_pass = true;  // give B A's state before each step (localization)
  // Called at the start of each step (1-based) of each pass, after any resync:
  // a test plants a difference here.
  std::function<void(int step, LockstepSide& a, LockstepSide& b)> before_step;
};

// One tensor of one step compared: max |A - B| over the elements, relative to
// max |A|, in float32 ulps, and against its bound (ratio = max over the elements of
// |A - B| / bound; > 1 is past rounding; infinite where an exact op differs).
struct TensorComparison {
  std::string name;   // "2" (layer 2's output), "2.kernel"
  std::string op;     // "Conv2D", "Dense", "weights", "Adam update", ...
  double max_abs = 0, relative = 0, max_ulp = 0;
  std::optional<double> ratio;  // none: no bound for this op
};

struct StepComparison {
  int step = 0;
  double loss_a = 0, loss_b = 0;
  std::vector<TensorComparison> weights;  // at the start of the step
  std::vector<TensorComparison> outputs;  // each layer's output
  std::vector<TensorComparison> grads;    // each parameter's gradient
  std::vector<TensorComparison> updates;  // each parameter's change in this step
  double param_distance = 0;              // max |w_A - w_B| over all weights, after the step
  double update_scale = 0;                // max |Δw_A| over all weights
  // (‖Δw_A − Δw_B‖ / ‖Δw_A‖) / (‖g_A − g_B‖ / ‖g_A‖): the optimizer's amplification of
  // a relative gradient difference into a relative update difference (SGD: 1).
  std::optional<double> amplification;
};

// Where the two parted first: the earliest step, and in it the first phase
// (weights, forward, backward) and tensor past its bound.
struct FirstDivergence {
  int step = 0;
  std::string phase, tensor, op;
  double ratio = 0;
  std::string why;
};

struct DivergenceReport {
  std::string a, b;
  SideNumerics a_numerics, b_numerics;
  std::vector<StepComparison> free, resynced;
  std::optional<FirstDivergence> first;  // from the resynced pass (the free pass's weights at step 1)
  std::string summary() const;
  std::string to_json() const;
  void write_json(const std::string& path) const;  // atomic: a temporary file, then rename
};

DivergenceReport lockstep(LockstepSide& a, LockstepSide& b, const Tensor& x, const Tensor& y,
                          const LockstepOptions& options = {});

// The float32 rounding bound of one output of a sum of k terms whose absolute
// values add up to `magnitude`, computed in two implementations: 2 γ_k · magnitude,
// γ_k = k u / (1 - k u), u = 2^-24 (Higham, Accuracy and Stability, 3.1).
double sum_rounding_bound(std::int64_t k, double magnitude);

}  // namespace parity::train
