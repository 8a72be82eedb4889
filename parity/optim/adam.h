// Adam (Kingma & Ba 2014), with AMSGrad and decoupled weight decay (AdamW) as
// options, and the numerics of a preset (parity/optim/numerics.h, parity/optim/presets.h).
//
//   auto opt = optim::Adam(params, {.lr = 1e-3}, optim::presets::keras2_theano);
//
// Unset options take the preset's defaults (the named framework's own: Keras 2's
// eps is 1e-8, Keras 3's 1e-7, ...). State per parameter: "m", "v" (raw second
// moment), "vmax" (AMSGrad), and for BetaPower::RunningFloat the scalars
// "beta1_power", "beta2_power" (the powers the next step reads).
#pragma once

#include <optional>
#include <vector>

#include "parity/optim/grouped.h"
#include "parity/optim/presets.h"
#include "parity/optim/scalars.h"

namespace parity::optim {

struct AdamOptions {
  std::optional<double> lr, beta1, beta2, eps;  // unset: the preset's default
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW (the preset's DecoupledForm); false: L2 (L2Form)
  bool amsgrad = false;
  double decay = 0.0;  // Keras 2's `decay`: lr / (1 + decay * iterations) by the preset's DecayRule
};

struct AdamGroup {
  std::vector<Tensor> params;
  AdamOptions options;
};

class Adam : public GroupedOptimizer<AdamHyper> {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions options = {},
                const Preset& preset = presets::pytorch);
  explicit Adam(std::vector<AdamGroup> groups, const Preset& preset = presets::pytorch);

  std::size_t add_param_group(std::vector<Tensor> params, AdamOptions options = {});

 protected:
  void init_state(std::size_t group, const Tensor& param, ParamState& state) override;
  void update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& state,
              double lr) override;
  void check_runnable(Device device, Execution execution) const override;
};

// Throws parity::Error when the knobs do not form a valid Adam update (e.g. a
// parameter update of the Torch form with the EpsHat form).
void validate(const AdamNumerics& numerics, const char* preset_name);

}  // namespace parity::optim
