#include "parity/optim/optimizer.h"

#include <atomic>
#include <cmath>
#include <set>
#include <utility>

#include "parity/autograd/grad_mode.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::optim {

namespace {
std::atomic<bool> g_cpu_simd{true};
}  // namespace

void set_cpu_simd(bool enabled) { g_cpu_simd.store(enabled, std::memory_order_relaxed); }
bool cpu_simd() { return g_cpu_simd.load(std::memory_order_relaxed); }

void check_nonnegative(const char* optimizer, const char* name, double value) {
  PARITY_CHECK(std::isfinite(value) && value >= 0.0, optimizer, ": ", name,
               " must be a finite number >= 0, got ", value);
}

void check_unit_interval(const char* optimizer, const char* name, double value, bool closed_above) {
  PARITY_CHECK(std::isfinite(value) && value >= 0.0 && (closed_above ? value <= 1.0 : value < 1.0), optimizer,
               ": ", name, " must be in [0, 1", (closed_above ? "]" : ")"), ", got ", value);
}

Optimizer::Optimizer(std::string name, Preset preset) : preset_(std::move(preset)), name_(std::move(name)) {}

std::size_t Optimizer::add_group(std::vector<Tensor> params) {
  PARITY_CHECK(!params.empty(), name_, ": a parameter group needs at least one parameter");
  std::set<const TensorImpl*> seen;
  for (const Group& g : groups_) {
    for (const Tensor& p : g.params) seen.insert(p.impl());
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    PARITY_CHECK(p.defined(), name_, ": parameter ", i, " of group ", groups_.size(),
                 " is an undefined tensor");
    PARITY_CHECK(p.dtype() == kFloat32, name_,
                 ": parameters must be float32 (the presets define float32 "
                 "arithmetic); parameter ",
                 i, " of group ", groups_.size(), " is ", p.dtype());
    PARITY_CHECK(seen.insert(p.impl()).second, name_, ": parameter ", i, " of group ", groups_.size(),
                 " (shape ", to_string(p.shape()),
                 ") appears more than once among the optimizer's parameters");
  }
  Group g;
  g.state.resize(params.size());
  g.params = std::move(params);
  groups_.push_back(std::move(g));
  return groups_.size() - 1;
}

const std::vector<Tensor>& Optimizer::params(std::size_t group) const {
  PARITY_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ", groups_.size(),
               ")");
  return groups_[group].params;
}

double Optimizer::lr(std::size_t group) const {
  params(group);
  return base_lr(group);
}

void Optimizer::set_lr(std::size_t group, double lr) {
  params(group);
  check_nonnegative(name_.c_str(), "lr", lr);
  set_base_lr(group, lr);
}

void Optimizer::set_lr_schedule(LrSchedule schedule) {
  for (Group& g : groups_) g.schedule = schedule;
}

void Optimizer::set_lr_schedule(std::size_t group, LrSchedule schedule) {
  params(group);
  groups_[group].schedule = std::move(schedule);
}

void Optimizer::set_execution(Execution execution) {
  for (const Group& g : groups_) {
    for (const Tensor& p : g.params) check_runnable(p.device(), execution);
  }
  execution_ = execution;
}

std::int64_t Optimizer::count_for(const ParamState& state) const {
  return preset_.step_scope == StepScope::Parameter ? state.step : steps_;
}

void Optimizer::set_gradient_clipping(GradientClipping clipping) {
  check_nonnegative(name_.c_str(), "clipnorm", clipping.clipnorm);
  check_nonnegative(name_.c_str(), "clipvalue", clipping.clipvalue);
  clipping_ = clipping;
}

std::vector<std::vector<Tensor>> Optimizer::clipped_gradients() const {
  std::vector<std::vector<Tensor>> grads(groups_.size());
  Tensor total;  // sum over the gradients of sum(g^2), in order (Keras 2's Python sum)
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    for (const Tensor& p : groups_[gi].params) {
      grads[gi].push_back(p.grad());
      const Tensor& g = grads[gi].back();
      if (clipping_.clipnorm <= 0.0 || !g.defined()) continue;
      const Tensor s = sum(square(g));
      total = total.defined() ? add(total, s.to(total.device())) : s;
    }
  }
  if (clipping_.clipnorm > 0.0) {
    const Tensor norm = sqrt(total);
    // n >= c, compared in the gradients' dtype as Keras' K.switch does.
    const bool clip = dispatch_dtype(norm.dtype(), [&]<typename T>() {
      if constexpr (std::is_floating_point_v<T>) return norm.item<T>() >= static_cast<T>(clipping_.clipnorm);
      else return false;
    });
    if (clip) {
      for (auto& group : grads) {
        for (Tensor& g : group) {
          if (g.defined()) g = div(mul(g, clipping_.clipnorm), norm.to(g.device()));
        }
      }
    }
  }
  if (clipping_.clipvalue > 0.0) {
    for (auto& group : grads) {
      for (Tensor& g : group) {
        if (g.defined()) g = clamp(g, -clipping_.clipvalue, clipping_.clipvalue);
      }
    }
  }
  return grads;
}

void Optimizer::step() {
  // Check everything before touching anything (Note [Which parameters step]).
  bool any = false;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const Group& g = groups_[gi];
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      const Tensor grad = p.grad();
      if (!grad.defined()) continue;
      any = true;
      PARITY_CHECK(grad.device() == p.device(), name_, ".step: parameter ", i, " of group ", gi, " is on ",
                   p.device(), " but its gradient is on ", grad.device());
      PARITY_CHECK(grad.shape() == p.shape(), name_, ".step: parameter ", i, " of group ", gi, " has shape ",
                   to_string(p.shape()), " but its gradient has shape ", to_string(grad.shape()));
      PARITY_CHECK(grad.dtype() == p.dtype(), name_, ".step: parameter ", i, " of group ", gi, " is ",
                   p.dtype(), " but its gradient is ", grad.dtype());
      check_runnable(p.device(), execution_);
    }
  }
  PARITY_CHECK(any, name_,
               ".step: no parameter has a gradient (call backward() before step(); "
               "parameters without a gradient are skipped, but a step with none at all is refused)");
  std::vector<double> lrs(groups_.size());
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const double base = base_lr(gi);
    lrs[gi] = groups_[gi].schedule ? groups_[gi].schedule(steps_ + 1, base) : base;
    PARITY_CHECK(std::isfinite(lrs[gi]) && lrs[gi] >= 0.0, name_,
                 ".step: the learning-rate schedule of group ", gi, " returned ", lrs[gi], " for step ",
                 steps_ + 1, "; expected a finite number >= 0");
  }

  ++steps_;
  autograd::NoGradGuard no_grad;
  const bool clips = clipping_.clipnorm > 0.0 || clipping_.clipvalue > 0.0;
  const std::vector<std::vector<Tensor>> clipped = clips ? clipped_gradients() : std::vector<std::vector<Tensor>>{};
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& g = groups_[gi];
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      const Tensor grad = clips ? clipped[gi][i] : p.grad();
      if (!grad.defined()) continue;
      ParamState& st = g.state[i];
      if (!st.initialized) {
        init_state(gi, p, st);
        st.initialized = true;
      }
      ++st.step;
      update(gi, p, grad, st, lrs[gi]);
      p.storage()->bump_version("step");
    }
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (Group& g : groups_) {
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none)
        p.set_grad(Tensor());
      else
        grad.zero_();
    }
  }
}

StateDict Optimizer::state_dict() const {
  StateDict d;
  d.optimizer = name_;
  d.preset = preset_.name;
  d.steps = steps_;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    StateDict::Group out;
    out.hparams = hparams(gi);
    out.hparams["lr"] = base_lr(gi);
    for (const ParamState& st : groups_[gi].state) {
      StateDict::Param sp;
      sp.initialized = st.initialized;
      sp.step = st.step;
      for (const auto& [key, t] : st.tensors) sp.tensors[key] = t.clone();
      sp.scalars = st.scalars;
      out.params.push_back(std::move(sp));
    }
    d.groups.push_back(std::move(out));
  }
  return d;
}

void Optimizer::load_state_dict(const StateDict& d) {
  PARITY_CHECK(d.version == StateDict::kFormatVersion, name_, ".load_state_dict: format version ", d.version,
               ", this build reads version ", StateDict::kFormatVersion);
  PARITY_CHECK(d.optimizer == name_, name_, ".load_state_dict: the state is of a ", d.optimizer,
               " optimizer");
  PARITY_CHECK(d.steps >= 0, name_, ".load_state_dict: negative step count ", d.steps);
  PARITY_CHECK(d.groups.size() == groups_.size(), name_, ".load_state_dict: the state has ", d.groups.size(),
               " parameter groups, the optimizer ", groups_.size());
  // Validate everything first, then commit.
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const Group& g = groups_[gi];
    const StateDict::Group& dg = d.groups[gi];
    PARITY_CHECK(dg.params.size() == g.params.size(), name_, ".load_state_dict: group ", gi, " has ",
                 dg.params.size(), " parameters in the state, ", g.params.size(), " in the optimizer");
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const StateDict::Param& sp = dg.params[i];
      PARITY_CHECK(sp.step >= 0, name_, ".load_state_dict: negative step count for parameter ", i,
                   " of group ", gi);
      for (const auto& [key, t] : sp.tensors) {
        PARITY_CHECK(t.defined() && t.shape() == g.params[i].shape() && t.dtype() == kFloat32, name_,
                     ".load_state_dict: state '", key, "' of parameter ", i, " of group ", gi,
                     " must be a float32 tensor of shape ", to_string(g.params[i].shape()));
      }
    }
  }
  std::vector<std::map<std::string, double>> old_hparams;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) old_hparams.push_back(hparams(gi));
  try {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      set_hparams(gi, d.groups[gi].hparams);
      auto lr = d.groups[gi].hparams.find("lr");
      if (lr != d.groups[gi].hparams.end()) set_base_lr(gi, lr->second);
    }
  } catch (...) {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) set_hparams(gi, old_hparams[gi]);
    throw;
  }
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& g = groups_[gi];
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const StateDict::Param& sp = d.groups[gi].params[i];
      ParamState st;
      st.initialized = sp.initialized;
      st.step = sp.step;
      for (const auto& [key, t] : sp.tensors) st.tensors[key] = t.to(g.params[i].device()).clone();
      st.scalars = sp.scalars;
      g.state[i] = std::move(st);
    }
  }
  steps_ = d.steps;
}

}  // namespace parity::optim
