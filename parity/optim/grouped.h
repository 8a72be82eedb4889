// An optimizer whose parameter groups each hold their resolved hyper-parameters
// (a Hyper struct: the options with the preset's defaults filled in) and a
// Keras 2 `decay`: the bookkeeping Adam, Adadelta and SGD share, written once.
// The Hyper's field table (hyper_fields.h) names what hparams() reports and
// set_hparams() accepts; `check` validates a group's values whenever they are
// set, at construction and through set_hparams() alike.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "parity/optim/hyper_fields.h"
#include "parity/optim/optimizer.h"

namespace parity::optim {

template <typename Hyper>
class GroupedOptimizer : public Optimizer {
 public:
  // The group's resolved hyper-parameters (defaults filled in) and its decay.
  const Hyper& hyper(std::size_t group) const {
    params(group);  // checks the index
    return hyper_[group];
  }
  double decay(std::size_t group) const {
    params(group);
    return decay_[group];
  }

 protected:
  using Check = void (*)(const Hyper& h, double decay);

  GroupedOptimizer(std::string name, Preset preset, std::span<const HyperField<Hyper>> fields, Check check)
      : Optimizer(std::move(name), std::move(preset)), fields_(fields), check_(check) {}

  // Checks h and decay, then adds the group; returns its index.
  std::size_t add_checked_group(std::vector<Tensor> params, const Hyper& h, double decay) {
    check_(h, decay);
    const std::size_t gi = add_group(std::move(params));
    hyper_.push_back(h);
    decay_.push_back(decay);
    return gi;
  }

  double base_lr(std::size_t group) const override { return hyper_[group].lr; }
  void set_base_lr(std::size_t group, double lr) override { hyper_[group].lr = lr; }
  std::map<std::string, double> hparams(std::size_t group) const override {
    return report_hyper(fields_, hyper_[group], decay_[group]);
  }
  // All or nothing: an unknown name or a value `check` refuses changes nothing.
  void set_hparams(std::size_t group, const std::map<std::string, double>& values) override {
    Hyper h = hyper_[group];
    double decay = decay_[group];
    assign_hyper(fields_, name(), values, h, decay);
    check_(h, decay);
    hyper_[group] = h;
    decay_[group] = decay;
  }

  std::vector<Hyper> hyper_;   // per group
  std::vector<double> decay_;  // per group

 private:
  std::span<const HyperField<Hyper>> fields_;
  Check check_;
};

}  // namespace parity::optim
