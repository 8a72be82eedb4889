// Optimizer: the base of SGD, Adam and Adadelta.
//
// - Parameter groups, each with its own hyper-parameters (the derived class's
//   options struct) and optionally its own learning-rate schedule.
// - step(): one update of every parameter that has a gradient. Note [Which
//   parameters step]: a parameter whose grad() is undefined is skipped (its state
//   and, for per-parameter counters, its step count stay as they are), as in
//   PyTorch; a step in which *no* parameter has a gradient throws parity::Error,
//   because it is almost always a missing backward() (PyTorch silently does
//   nothing). A parameter and its gradient must be float32, of one shape and on
//   one device; anything else throws before any parameter is touched.
// - zero_grad(set_to_none): release the gradients (default, as PyTorch >= 2.0)
//   or fill them with zeros in place.
// - Per-parameter state keyed by (group index, parameter index), never by
//   address, created at a parameter's first step. state_dict() copies it out with
//   a format version; load_state_dict() copies it back, and the next steps are
//   bit for bit those of an optimizer that never stopped.
// - The numerics preset (parity/optim/numerics.h) is a value the optimizer keeps a copy
//   of; a custom preset is a Preset with its knobs changed.
//
// Note [Fused and composed]: Execution::Fused (the default) runs one kernel per
// parameter tensor (parity/optim/launch.h, run by the backend). Execution::Composed runs the same functor
// with every operation a separate tensor op (parity::add, mul, div, sqrt, ...):
// slower, but built from the library's public ops. A preset with a fused
// multiply-add site or a hardware rsqrt estimate cannot be written as separate
// tensor ops; composed mode refuses it. For every other preset the two modes
// give the same bits (tests/test_optim.cpp shows it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "parity/optim/numerics.h"
#include "parity/tensor/tensor.h"

namespace parity::optim {

enum class Execution : std::uint8_t { Fused, Composed };

// A learning-rate schedule: the lr of a step, given the number of that step
// (1 for the first step, counted by the optimizer) and the group's base lr. It
// is called once per step and group, before the update; the preset rounds the
// returned double as it rounds any lr.
using LrSchedule = std::function<double(std::int64_t step, double base_lr)>;

// The optimizer's state, copied out (deep copies of the state tensors).
struct StateDict {
  static constexpr int kFormatVersion = 1;
  int version = kFormatVersion;
  std::string optimizer;   // "SGD", "Adam", "Adadelta"
  std::string preset;      // the preset's name (informative; not checked on load)
  std::int64_t steps = 0;  // steps taken by the optimizer
  struct Param {
    bool initialized = false;               // false: the parameter has not stepped yet
    std::int64_t step = 0;                  // steps this parameter took part in
    std::map<std::string, Tensor> tensors;  // e.g. "m", "v" (same shape and device as the parameter)
    std::map<std::string, double> scalars;  // e.g. the running beta powers (float32 values, exact)
  };
  struct Group {
    std::map<std::string, double> hparams;  // the group's hyper-parameters
    std::vector<Param> params;              // in the group's parameter order
  };
  std::vector<Group> groups;
};

// Keras' clipnorm and clipvalue, the arguments of every Keras optimizer:
// step() clips the gradients it hands the update, leaving the parameters'
// .grad() as they are (torch-style clipping of the stored gradients in place is
// clip_grad_norm / clip_grad_value, parity/optim/clip.h). As Keras 2's
// Optimizer.get_gradients computes them (keras/optimizers.py, 2.0.4):
// - clipnorm > 0: n = sqrt(sum(g_1^2) + sum(g_2^2) + ...) over every gradient
//   of the step, in the gradients' dtype, the parameters' sums added in group
//   and parameter order; when n >= clipnorm, each gradient becomes
//   (g * clipnorm) / n (Keras' clip_norm: K.switch(n >= c, g * c / n, g)).
// - clipvalue > 0: then each element clamped into [-clipvalue, clipvalue].
// 0 turns either off (the default). The rounding of n follows Parity's own
// reductions, so the clipped bits are an emulation of Keras', not a replay of
// its trace. Keras 3 clips each variable by its own norm instead (and has
// global_clipnorm for this one); that form is not offered.
struct GradientClipping {
  double clipnorm = 0.0;
  double clipvalue = 0.0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();
  void zero_grad(bool set_to_none = true);

  StateDict state_dict() const;
  // Throws parity::Error (and changes nothing) unless the dict has this format
  // version, this optimizer's name and this optimizer's groups and parameter
  // counts, with state tensors of the parameters' shapes.
  void load_state_dict(const StateDict& dict);

  const std::string& name() const { return name_; }
  const Preset& preset() const { return preset_; }
  Execution execution() const { return execution_; }
  void set_execution(Execution execution);

  std::size_t num_groups() const { return groups_.size(); }
  const std::vector<Tensor>& params(std::size_t group) const;
  double lr(std::size_t group) const;  // the base lr (before schedule and decay)
  void set_lr(std::size_t group, double lr);
  void set_lr_schedule(LrSchedule schedule);  // every group
  void set_lr_schedule(std::size_t group, LrSchedule schedule);
  std::int64_t steps() const { return steps_; }

  // Keras' clipnorm / clipvalue for every later step (both finite and >= 0).
  void set_gradient_clipping(GradientClipping clipping);
  const GradientClipping& gradient_clipping() const { return clipping_; }

 protected:
  struct ParamState {
    bool initialized = false;
    std::int64_t step = 0;
    std::map<std::string, Tensor> tensors;
    std::map<std::string, double> scalars;
  };
  struct Group {
    std::vector<Tensor> params;
    LrSchedule schedule;
    std::vector<ParamState> state;
  };

  Optimizer(std::string name, Preset preset);

  // Adds a group (checks the parameters: defined, float32, not already in a group).
  std::size_t add_group(std::vector<Tensor> params);

  // The derived optimizer's part. `lr` is this step's learning rate (schedule
  // applied); `state.step` has already been incremented for this step.
  virtual void init_state(std::size_t group, const Tensor& param, ParamState& state) = 0;
  virtual void update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& state,
                      double lr) = 0;
  virtual double base_lr(std::size_t group) const = 0;
  virtual void set_base_lr(std::size_t group, double lr) = 0;
  virtual std::map<std::string, double> hparams(std::size_t group) const = 0;
  virtual void set_hparams(std::size_t group, const std::map<std::string, double>& values) = 0;
  // Throws unless this preset can run on `device` in `execution` mode.
  virtual void check_runnable(Device device, Execution execution) const = 0;

  // Helpers for the derived classes.
  // The count t of this step as the preset counts it (scope; the counter dtype is applied by the caller).
  std::int64_t count_for(const ParamState& state) const;

  std::vector<Group> groups_;
  Preset preset_;

 private:
  std::string name_;
  Execution execution_ = Execution::Fused;
  std::int64_t steps_ = 0;
  GradientClipping clipping_;

  // The gradients step() hands the update, per group and parameter (undefined
  // where the parameter has none), with clipping_ applied.
  std::vector<std::vector<Tensor>> clipped_gradients() const;
};

// Whether the CPU kernels may take their AVX2 path (default: when the CPU has
// AVX2 and FMA). Both paths give the same bits; the switch exists so tests and
// benchmarks can run the scalar path too.
void set_cpu_simd(bool enabled);
bool cpu_simd();

// Hyper-parameter checks shared by the optimizers: finite and >= 0, and for
// betas/rho in [0, 1). Throw parity::Error naming the optimizer and the value.
void check_nonnegative(const char* optimizer, const char* name, double value);
void check_unit_interval(const char* optimizer, const char* name, double value, bool closed_above);

}  // namespace parity::optim
