// SGD with momentum, Nesterov momentum and weight decay, with the momentum
// convention and numerics of a preset (parity/optim/numerics.h, SgdForm): Keras keeps
// m = mu*m - lr*g and adds it; PyTorch keeps buf = mu*buf + g and subtracts
// lr*buf; optax keeps tr = g + mu*tr. State per parameter (with momentum only):
// "momentum", the buffer in the preset's own convention.
//
// With momentum 0 every preset's step is p - lr*g in one rounded product and one
// rounded sum (or one fma where the framework fuses it): no state, no bias
// correction, no division, so there is nothing for backends to disagree on
// (docs/NUMERICS.md, "Why SGD did not diverge").
#pragma once

#include <optional>
#include <vector>

#include "parity/optim/grouped.h"
#include "parity/optim/presets.h"
#include "parity/optim/scalars.h"

namespace parity::optim {

struct SgdOptions {
  std::optional<double> lr, momentum;  // unset: the preset's default
  std::optional<bool> nesterov;
  double dampening = 0.0;     // PyTorch's dampening (Torch form only)
  double weight_decay = 0.0;  // coupled: g + wd*p (the preset's L2Form)
  double decay = 0.0;         // Keras 2's `decay`
};

struct SgdGroup {
  std::vector<Tensor> params;
  SgdOptions options;
};

class SGD : public GroupedOptimizer<SgdHyper> {
 public:
  explicit SGD(std::vector<Tensor> params, SgdOptions options = {}, const Preset& preset = presets::pytorch);
  explicit SGD(std::vector<SgdGroup> groups, const Preset& preset = presets::pytorch);

  std::size_t add_param_group(std::vector<Tensor> params, SgdOptions options = {});

 protected:
  void init_state(std::size_t group, const Tensor& param, ParamState& state) override;
  void update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& state,
              double lr) override;
  void check_runnable(Device device, Execution execution) const override;
};

}  // namespace parity::optim
