#include "parity/optim/sgd.h"

#include "parity/optim/composed.h"
#include "parity/optim/detail.h"
#include "parity/optim/hyper_fields.h"
#include "parity/optim/launch.h"
#include "parity/tensor/backend.h"

namespace parity::optim {

namespace {

bool fma_site(const SgdElementwise& k, bool l2_used) {
  return k.fma_buf || k.fma_nest || k.fma_param || k.form == SgdForm::Keras2Theano ||
         (l2_used && k.l2 == L2Form::Fma);
}

SgdHyper resolve(const SgdOptions& o, const Preset& preset) {
  PARITY_CHECK(preset.has_sgd, "SGD: preset '", preset.name, "' has no SGD");
  SgdHyper h;
  h.lr = o.lr.value_or(preset.sgd_defaults.lr);
  h.momentum = o.momentum.value_or(preset.sgd_defaults.momentum);
  h.nesterov = o.nesterov.value_or(preset.sgd_defaults.nesterov);
  h.dampening = o.dampening;
  h.weight_decay = o.weight_decay;
  return h;
}

void check(const SgdHyper& h, double decay) {
  check_nonnegative("SGD", "lr", h.lr);
  check_nonnegative("SGD", "momentum", h.momentum);
  check_unit_interval("SGD", "dampening", h.dampening, true);
  check_nonnegative("SGD", "weight_decay", h.weight_decay);
  check_nonnegative("SGD", "decay", decay);
  PARITY_CHECK(!h.nesterov || (h.momentum > 0.0 && h.dampening == 0.0),
               "SGD: Nesterov momentum needs momentum > 0 and dampening 0, got momentum ", h.momentum,
               " and dampening ", h.dampening);
}

constexpr std::array<HyperField<SgdHyper>, 5> kSGDFields = {{
    {"lr", &SgdHyper::lr, nullptr, false},
    {"momentum", &SgdHyper::momentum, nullptr, true},
    {"nesterov", nullptr, &SgdHyper::nesterov, true},
    {"dampening", &SgdHyper::dampening, nullptr, true},
    {"weight_decay", &SgdHyper::weight_decay, nullptr, true},
}};

}  // namespace

bool has_fma_site(const SgdElementwise& k) { return fma_site(k, true); }

SGD::SGD(std::vector<Tensor> params, SgdOptions options, const Preset& preset)
    : GroupedOptimizer("SGD", preset, kSGDFields, check) {
  add_param_group(std::move(params), options);
}

SGD::SGD(std::vector<SgdGroup> groups, const Preset& preset)
    : GroupedOptimizer("SGD", preset, kSGDFields, check) {
  PARITY_CHECK(!groups.empty(), "SGD: no parameter groups");
  for (SgdGroup& g : groups) add_param_group(std::move(g.params), g.options);
}

std::size_t SGD::add_param_group(std::vector<Tensor> params, SgdOptions options) {
  PARITY_CHECK(preset_.sgd.vec_width >= 0, "SGD: preset '", preset_.name, "': negative vec_width");
  const SgdHyper h = resolve(options, preset_);
  PARITY_CHECK(h.dampening == 0.0 || preset_.sgd.body.form == SgdForm::Torch,
               "SGD: dampening is PyTorch's; preset '", preset_.name, "' has another momentum convention");
  return add_checked_group(std::move(params), h, options.decay);
}

void SGD::check_runnable(Device, Execution execution) const {
  if (execution != Execution::Composed) return;
  bool l2_used = false;
  for (const SgdHyper& h : hyper_) l2_used = l2_used || h.weight_decay != 0.0;
  const SgdNumerics& n = preset_.sgd;
  PARITY_CHECK(!fma_site(n.body, l2_used) && !(n.vec_width > 0 && fma_site(n.tail, l2_used)), "SGD: preset '",
               preset_.name,
               "' has fused multiply-add sites, which composed mode cannot compute; use "
               "Execution::Fused");
}

// The momentum buffer is created by the first step with momentum (update()).
void SGD::init_state(std::size_t, const Tensor&, ParamState&) {}

void SGD::update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& st, double lr) {
  const SgdNumerics& n = preset_.sgd;
  SgdHyper h = hyper_[group];
  const std::int64_t iterations = saturate(preset_.decay_counter, count_for(st) - 1);
  h.lr = decayed_lr(preset_.decay_rule, lr, decay_[group], iterations);
  // The buffer appears at the first step with momentum; the Torch form starts it as a copy of g.
  bool first = false;
  if (h.momentum != 0.0 && st.tensors.count("momentum") == 0) {
    st.tensors["momentum"] = detail::zeros_like_param(param);
    first = true;
  }
  kernel::SgdScalars s = sgd_scalars(h, first);
  if (preset_.decay_rule == DecayRule::Keras2Theano && decay_[group] > 0.0) {
    s.theano_decay = true;
    s.k = theano_decay_divisor(decay_[group], iterations);
  }

  const Tensor g = grad.contiguous();
  const detail::Writable p(param);
  const Tensor buf = h.momentum != 0.0 ? st.tensors.at("momentum") : Tensor();
  const std::int64_t body_end = detail::body_end(param.numel(), n.vec_width);
  if (execution() == Execution::Fused) {
    auto l = detail::launch_for<kernel::SgdLaunch>(p, g, body_end, n.body, n.tail, s);
    l.buf = buf.defined() ? buf.data<float>() : nullptr;
    backend_for(param.device(), "SGD").sgd_update(l);
  } else {
    composed::sgd(p.tensor(), g, buf, body_end, n.body, n.tail, s);
  }
  p.finish();
}

}  // namespace parity::optim
