#include "parity/optim/adam.h"

#include "parity/optim/composed.h"
#include "parity/optim/detail.h"
#include "parity/optim/hyper_fields.h"
#include "parity/optim/launch.h"
#include "parity/tensor/backend.h"

namespace parity::optim {

namespace {

bool param_matches_form(AdamForm form, AdamParam param) {
  switch (form) {
    case AdamForm::EpsHat:
      return param == AdamParam::Sub || param == AdamParam::FmaNeg;
    case AdamForm::Torch:
      return param == AdamParam::Addcdiv || param == AdamParam::FmaDiv || param == AdamParam::MulDiv;
    case AdamForm::Optax:
      return param == AdamParam::Add || param == AdamParam::Fma;
    case AdamForm::Paper:
      return param == AdamParam::PaperSub;
  }
  return false;
}

bool fma_site(const AdamElementwise& k, bool l2_used) {
  return k.m == AdamM::DeltaFma || k.m == AdamM::EmaFmaCg || k.m == AdamM::EmaFmaBm || k.m == AdamM::Lerp ||
         (k.v != AdamV::Delta && k.v != AdamV::Ema && k.v != AdamV::EmaCgG) || k.param == AdamParam::FmaNeg ||
         k.param == AdamParam::FmaDiv || k.param == AdamParam::Fma || (l2_used && k.l2 == L2Form::Fma);
}

AdamHyper resolve(const AdamOptions& o, const Preset& preset) {
  PARITY_CHECK(preset.has_adam, "Adam: preset '", preset.name,
               "' has no Adam (the framework it names has none)");
  AdamHyper h;
  h.lr = o.lr.value_or(preset.adam_defaults.lr);
  h.beta1 = o.beta1.value_or(preset.adam_defaults.beta1);
  h.beta2 = o.beta2.value_or(preset.adam_defaults.beta2);
  h.eps = o.eps.value_or(preset.adam_defaults.eps);
  h.weight_decay = o.weight_decay;
  h.decoupled = o.decoupled_weight_decay;
  h.amsgrad = o.amsgrad;
  return h;
}

void check(const AdamHyper& h, double decay) {
  check_nonnegative("Adam", "lr", h.lr);
  check_unit_interval("Adam", "beta1", h.beta1, false);
  check_unit_interval("Adam", "beta2", h.beta2, false);
  check_nonnegative("Adam", "eps", h.eps);
  check_nonnegative("Adam", "weight_decay", h.weight_decay);
  check_nonnegative("Adam", "decay", decay);
}

constexpr std::array<HyperField<AdamHyper>, 7> kAdamFields = {{
    {"lr", &AdamHyper::lr, nullptr, false},
    {"beta1", &AdamHyper::beta1, nullptr, true},
    {"beta2", &AdamHyper::beta2, nullptr, true},
    {"eps", &AdamHyper::eps, nullptr, true},
    {"weight_decay", &AdamHyper::weight_decay, nullptr, true},
    {"decoupled_weight_decay", nullptr, &AdamHyper::decoupled, true},
    {"amsgrad", nullptr, &AdamHyper::amsgrad, true},
}};

}  // namespace

bool has_fma_site(const AdamElementwise& k) { return fma_site(k, true); }

void validate(const AdamNumerics& n, const char* name) {
  PARITY_CHECK(n.t_offset == 0 || n.t_offset == 1, "Adam: preset '", name, "': t_offset must be 0 or 1, got ",
               n.t_offset);
  PARITY_CHECK(n.vec_width >= 0, "Adam: preset '", name, "': negative vec_width ", n.vec_width);
  for (const AdamElementwise* k : {&n.body, &n.tail}) {
    PARITY_CHECK(param_matches_form(k->form, k->param), "Adam: preset '", name, "': parameter update ",
                 static_cast<int>(k->param), " does not belong to form ", static_cast<int>(k->form),
                 " (see AdamParam in parity/optim/numerics.h)");
    if (n.vec_width == 0) break;
  }
}

Adam::Adam(std::vector<Tensor> params, AdamOptions options, const Preset& preset)
    : GroupedOptimizer("Adam", preset, kAdamFields, check) {
  validate(preset_.adam, preset_.name.c_str());
  add_param_group(std::move(params), options);
}

Adam::Adam(std::vector<AdamGroup> groups, const Preset& preset)
    : GroupedOptimizer("Adam", preset, kAdamFields, check) {
  validate(preset_.adam, preset_.name.c_str());
  PARITY_CHECK(!groups.empty(), "Adam: no parameter groups");
  for (AdamGroup& g : groups) add_param_group(std::move(g.params), g.options);
}

std::size_t Adam::add_param_group(std::vector<Tensor> params, AdamOptions options) {
  return add_checked_group(std::move(params), resolve(options, preset_), options.decay);
}

void Adam::check_runnable(Device device, Execution execution) const {
  (void)device;
  if (execution == Execution::Composed) {
    bool l2_used = false;
    for (const AdamHyper& h : hyper_) l2_used = l2_used || (h.weight_decay != 0.0 && !h.decoupled);
    const AdamNumerics& n = preset_.adam;
    PARITY_CHECK(!fma_site(n.body, l2_used) && !(n.vec_width > 0 && fma_site(n.tail, l2_used)),
                 "Adam: preset '", preset_.name,
                 "' has fused multiply-add sites, which composed mode (separate "
                 "tensor ops) cannot compute; use Execution::Fused");
  }
}

void Adam::init_state(std::size_t group, const Tensor& param, ParamState& state) {
  state.tensors["m"] = detail::zeros_like_param(param);
  state.tensors["v"] = detail::zeros_like_param(param);
  if (hyper_[group].amsgrad) state.tensors["vmax"] = detail::zeros_like_param(param);
  if (preset_.adam.beta_power == BetaPower::RunningFloat) {
    state.scalars["beta1_power"] = static_cast<float>(hyper_[group].beta1);
    state.scalars["beta2_power"] = static_cast<float>(hyper_[group].beta2);
  }
}

void Adam::update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& st, double lr) {
  const AdamNumerics& n = preset_.adam;
  AdamHyper h = hyper_[group];
  const std::int64_t count = count_for(st);
  // Keras 2's decay reads the same counter as t (`iterations`), so it stops where t does.
  const std::int64_t iterations = saturate(n.counter, count - 1 + n.t_offset);
  h.lr = decayed_lr(preset_.decay_rule, lr, decay_[group], iterations);
  const std::int64_t t = saturate(n.counter, count + n.t_offset);
  const bool running = n.beta_power == BetaPower::RunningFloat;
  if (running && st.scalars.count("beta1_power") == 0) {
    st.scalars["beta1_power"] = static_cast<float>(h.beta1);
    st.scalars["beta2_power"] = static_cast<float>(h.beta2);
  }
  const float r1 = running ? static_cast<float>(st.scalars["beta1_power"]) : 0.0f;
  const float r2 = running ? static_cast<float>(st.scalars["beta2_power"]) : 0.0f;
  kernel::AdamScalars s = adam_scalars(n, h, t, r1, r2);
  if (preset_.decay_rule == DecayRule::Keras2Theano && decay_[group] > 0.0 && n.body.theano_decay_split) {
    // Note [Theano's graph]: the decay divides inside the element loop.
    const float k = theano_decay_divisor(decay_[group], iterations);
    s.theano_decay = true;
    s.theano_num = s.lr * std::sqrt(s.omp2);
    s.theano_den = k * s.omp1;
  }
  if (h.amsgrad && st.tensors.count("vmax") == 0) st.tensors["vmax"] = detail::zeros_like_param(param);

  const Tensor g = grad.contiguous();
  const detail::Writable p(param);
  const Tensor& m = st.tensors.at("m");
  const Tensor& v = st.tensors.at("v");
  const Tensor vmax = h.amsgrad ? st.tensors.at("vmax") : Tensor();
  const std::int64_t body_end = detail::body_end(param.numel(), n.vec_width);
  if (execution() == Execution::Fused) {
    auto l = detail::launch_for<kernel::AdamLaunch>(p, g, body_end, n.body, n.tail, s);
    l.m = m.data<float>();
    l.v = v.data<float>();
    l.vmax = vmax.defined() ? vmax.data<float>() : nullptr;
    backend_for(param.device(), "Adam").adam_update(l);
  } else {
    composed::adam(p.tensor(), g, m, v, vmax, body_end, n.body, n.tail, s);
  }
  p.finish();
  if (running) {
    // One float32 product each, flushed like every operation of an FTZ preset.
    const auto next = [&](float r, double beta) {
      const float x = r * static_cast<float>(beta);
      return n.body.ftz ? kernel::ScalarArith::flush(x) : x;
    };
    st.scalars["beta1_power"] = next(r1, h.beta1);
    st.scalars["beta2_power"] = next(r2, h.beta2);
  }
}

}  // namespace parity::optim
