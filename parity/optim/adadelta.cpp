#include "parity/optim/adadelta.h"

#include "parity/optim/composed.h"
#include "parity/optim/detail.h"
#include "parity/optim/hyper_fields.h"
#include "parity/optim/launch.h"
#include "parity/tensor/backend.h"
#include "parity/tensor/cpu_features.h"

namespace parity::optim {

namespace {

bool fma_site(const AdadeltaElementwise& k, bool l2_used) {
  auto acc_fma = [](AdadeltaAcc a) {
    return a == AdadeltaAcc::FmaCxX || a == AdadeltaAcc::FmaCXx || a == AdadeltaAcc::FmaRa;
  };
  return acc_fma(k.acc) || acc_fma(k.acc_update) || k.param == AdadeltaParam::Fma ||
         k.param == AdadeltaParam::PlusFma || (l2_used && k.l2 == L2Form::Fma);
}

bool uses_estimate(const AdadeltaElementwise& k) {
  const bool rsqrt = k.delta == AdadeltaDelta::RsqrtMul || k.delta == AdadeltaDelta::MulRsqrt;
  return rsqrt && (k.rsqrt == RsqrtMode::EigenAvx || k.rsqrt == RsqrtMode::EigenAvxFma ||
                   k.rsqrt == RsqrtMode::XlaTwoStep || k.rsqrt == RsqrtMode::XlaCpu);
}

AdadeltaHyper resolve(const AdadeltaOptions& o, const Preset& preset) {
  PARITY_CHECK(preset.has_adadelta, "Adadelta: preset '", preset.name,
               "' has no Adadelta (the framework it names has none)");
  AdadeltaHyper h;
  const std::optional<double> lr = o.lr ? o.lr : preset.adadelta_defaults.lr;
  h.has_lr = lr.has_value();
  h.lr = lr.value_or(1.0);
  h.rho = o.rho.value_or(preset.adadelta_defaults.rho);
  h.eps = o.eps.value_or(preset.adadelta_defaults.eps);
  h.weight_decay = o.weight_decay;
  h.decoupled = o.decoupled_weight_decay;
  return h;
}

void check(const AdadeltaHyper& h, double decay) {
  check_nonnegative("Adadelta", "lr", h.lr);
  check_unit_interval("Adadelta", "rho", h.rho, true);
  check_nonnegative("Adadelta", "eps", h.eps);
  check_nonnegative("Adadelta", "weight_decay", h.weight_decay);
  check_nonnegative("Adadelta", "decay", decay);
}

constexpr std::array<HyperField<AdadeltaHyper>, 6> kAdadeltaFields = {{
    {"lr", &AdadeltaHyper::lr, nullptr, false},
    {"has_lr", nullptr, &AdadeltaHyper::has_lr, true},
    {"rho", &AdadeltaHyper::rho, nullptr, true},
    {"eps", &AdadeltaHyper::eps, nullptr, true},
    {"weight_decay", &AdadeltaHyper::weight_decay, nullptr, true},
    {"decoupled_weight_decay", nullptr, &AdadeltaHyper::decoupled, true},
}};

}  // namespace

bool has_fma_site(const AdadeltaElementwise& k) { return fma_site(k, true); }

// Note [XLA's rsqrt]: RsqrtMode::XlaCpu becomes the form XLA:CPU compiles on
// this CPU, and the preset's source says which.
void resolve_cpu_forms(Preset& p) {
  bool resolved = false;
  for (AdadeltaElementwise* k : {&p.adadelta.body, &p.adadelta.tail}) {
    if (k->rsqrt != RsqrtMode::XlaCpu) continue;
    k->rsqrt = cpu_has_avx512f() ? RsqrtMode::XlaTwoStep : RsqrtMode::EigenAvxFma;
    resolved = true;
  }
  if (resolved) {
    p.source += p.adadelta.body.rsqrt == RsqrtMode::XlaTwoStep
                    ? "; rsqrt on this CPU (AVX-512F): XLA's estimate + two fma Newton steps"
                    : "; rsqrt on this CPU (no AVX-512F): the estimate + one fma Newton step";
  }
}

void validate(const AdadeltaNumerics& n, const char* name) {
  PARITY_CHECK(n.vec_width >= 0, "Adadelta: preset '", name, "': negative vec_width ", n.vec_width);
}

Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions options, const Preset& preset)
    : GroupedOptimizer("Adadelta", preset, kAdadeltaFields, check) {
  resolve_cpu_forms(preset_);
  validate(preset_.adadelta, preset_.name.c_str());
  add_param_group(std::move(params), options);
}

Adadelta::Adadelta(std::vector<AdadeltaGroup> groups, const Preset& preset)
    : GroupedOptimizer("Adadelta", preset, kAdadeltaFields, check) {
  resolve_cpu_forms(preset_);
  validate(preset_.adadelta, preset_.name.c_str());
  PARITY_CHECK(!groups.empty(), "Adadelta: no parameter groups");
  for (AdadeltaGroup& g : groups) add_param_group(std::move(g.params), g.options);
}

std::size_t Adadelta::add_param_group(std::vector<Tensor> params, AdadeltaOptions options) {
  const AdadeltaHyper h = resolve(options, preset_);
  // Before the group is added, so a refused group leaves the optimizer as it was
  // (an undefined tensor is refused by add_group, naming it).
  for (const Tensor& p : params) {
    if (p.defined()) check_runnable(p.device(), execution());
  }
  return add_checked_group(std::move(params), h, options.decay);
}

void Adadelta::check_runnable(Device device, Execution execution) const {
  const AdadeltaNumerics& n = preset_.adadelta;
  const bool estimate = uses_estimate(n.body) || (n.vec_width > 0 && uses_estimate(n.tail));
  if (estimate) {
    PARITY_CHECK(
        device.is_cpu() && cpu_has_avx2_fma(), "Adadelta: preset '", preset_.name,
        "' uses the x86 CPU's rsqrt estimate (RsqrtMode::EigenAvx*), which exists only on an x86 CPU "
        "with AVX2; this parameter is on ",
        device);
  }
  if (execution == Execution::Composed) {
    bool l2_used = false;
    for (const AdadeltaHyper& h : hyper_) l2_used = l2_used || (h.weight_decay != 0.0 && !h.decoupled);
    PARITY_CHECK(!estimate && !fma_site(n.body, l2_used) && !(n.vec_width > 0 && fma_site(n.tail, l2_used)),
                 "Adadelta: preset '", preset_.name,
                 "' has fused multiply-add sites or a hardware rsqrt "
                 "estimate, which composed mode (separate tensor ops) cannot compute; use Execution::Fused");
  }
}

void Adadelta::init_state(std::size_t, const Tensor& param, ParamState& state) {
  state.tensors["accum_grad"] = detail::zeros_like_param(param);
  state.tensors["accum_update"] = detail::zeros_like_param(param);
}

void Adadelta::update(std::size_t group, const Tensor& param, const Tensor& grad, ParamState& st, double lr) {
  const AdadeltaNumerics& n = preset_.adadelta;
  AdadeltaHyper h = hyper_[group];
  const std::int64_t iterations = saturate(preset_.decay_counter, count_for(st) - 1);
  h.lr = decayed_lr(preset_.decay_rule, lr, decay_[group], iterations);
  kernel::AdadeltaScalars s = adadelta_scalars(n, h);
  if (preset_.decay_rule == DecayRule::Keras2Theano && decay_[group] > 0.0) {
    s.theano_decay = true;
    s.k = theano_decay_divisor(decay_[group], iterations);
  }
  AdadeltaElementwise body = n.body, tail = n.tail;
  // No learning rate (optax's None): p ⊕ delta, fused where the preset fuses.
  if (!h.has_lr) {
    const auto plus = [](AdadeltaParam q) { return q == AdadeltaParam::Sub ? AdadeltaParam::Plus : q; };
    body.param = plus(body.param);
    tail.param = plus(tail.param);
    if (body.param == AdadeltaParam::Fma) body.param = AdadeltaParam::PlusFma;
    if (tail.param == AdadeltaParam::Fma) tail.param = AdadeltaParam::PlusFma;
  }

  const Tensor g = grad.contiguous();
  const detail::Writable p(param);
  const Tensor& a = st.tensors.at("accum_grad");
  const Tensor& d = st.tensors.at("accum_update");
  const std::int64_t body_end = detail::body_end(param.numel(), n.vec_width);
  if (execution() == Execution::Fused) {
    auto l = detail::launch_for<kernel::AdadeltaLaunch>(p, g, body_end, body, tail, s);
    l.a = a.data<float>();
    l.d = d.data<float>();
    backend_for(param.device(), "Adadelta").adadelta_update(l);
  } else {
    composed::adadelta(p.tensor(), g, a, d, body_end, body, tail, s);
  }
  p.finish();
}

}  // namespace parity::optim
