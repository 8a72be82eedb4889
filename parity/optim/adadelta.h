// Adadelta (Zeiler 2012) with the numerics of a preset (parity/optim/numerics.h).
//
// State per parameter: "accum_grad" (E[g^2]) and "accum_update" (E[dx^2]).
// lr is optional: a preset whose framework allows no learning rate (optax's
// adadelta, learning_rate=None) defaults to none, and then the update is
// p ⊕ delta: no scaling and no sign flip, so the parameter moves *up* the
// gradient, exactly as optax does (reference section 6). Set an lr to descend.
#pragma once

#include <optional>
#include <vector>

#include "parity/optim/grouped.h"
#include "parity/optim/presets.h"
#include "parity/optim/scalars.h"

namespace parity::optim {

struct AdadeltaOptions {
  std::optional<double> lr, rho, eps;   // unset: the preset's default
  double weight_decay = 0.0;            // coupled (L2) unless decoupled_weight_decay
  bool decoupled_weight_decay = false;  // Flashlight's p ⊖ (wd ⊗ p), no lr
  double decay = 0.0;                   // Keras 2's `decay` (DecayRule of the preset)
};

struct AdadeltaGroup {
  std::vector<Tensor> params;
  AdadeltaOptions options;
};

class Adadelta : public GroupedOptimizer<AdadeltaHyper> {
 public:
  explicit Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {},
                    const Preset& preset = presets::pytorch);
  explicit Adadelta(std::vector<AdadeltaGroup> groups, const Preset& preset = presets::pytorch);

  std::size_t add_param_group(std::vector<Tensor> params, AdadeltaOptions options = {});

 protected:
  void init_state(std::size_t group, const Tensor& param, ParamState& state) override;
  void update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& state,
              double lr) override;
  void set_base_lr(std::size_t group, double lr) override {
    hyper_[group].lr = lr;
    hyper_[group].has_lr = true;
  }
  void check_runnable(Device device, Execution execution) const override;
};

void validate(const AdadeltaNumerics& numerics, const char* preset_name);

}  // namespace parity::optim
