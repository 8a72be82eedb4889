// Note [Lockstep bounds]
// A layer's output is a sum of k terms per element (Dense: in_features products
// and the bias; Conv2D: C·kh·kw products and the bias; average pooling: the
// window). Two implementations that each round a sum of k terms in float32 are
// each within γ_k · Σ|terms| of the exact sum, γ_k = k u / (1 - k u), so they are
// within 2 γ_k · Σ|terms| of each other, whatever their summation orders (Higham,
// Accuracy and Stability of Numerical Algorithms, 2nd ed., 3.1). Σ|terms| is the
// layer run on |input| with |parameters|. ReLU, max pooling and Flatten are exact:
// their bound is 0. A weight gradient is also a sum (Dense: over the batch;
// Conv2D: over the batch and the output pixels), of products of the layer's input
// and the gradient of its output; when that output gradient itself differs by
// δA - δB, the difference adds Σ|x|·|δA - δB|. Unknown layer types are compared
// but get no bound. Worst-case bounds: a ratio above 1 is certainly not rounding.
//
// Note [Lockstep passes]
// Free: both sides train on their own from the same weights; differences carry
// over from step to step, which is what a user sees (the losses part). Resynced:
// before each step B gets A's weights and optimizer state (converted to B's
// layout, exactly), so a difference in that step was made in that step. In the
// resynced pass each of B's layers also runs on A's input to it, so a layer is
// judged on its own rounding, not on what the layers below it passed up
// (CRADLE's localization, on the forward and the backward pass and across steps).
#include "parity/train/lockstep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "parity/autograd/grad_mode.h"
#include "parity/nn/activation.h"
#include "parity/nn/conv2d.h"
#include "parity/nn/convert.h"
#include "parity/nn/dense.h"
#include "parity/nn/flatten.h"
#include "parity/nn/pooling.h"
#include "parity/tensor/conv.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::train {

double sum_rounding_bound(std::int64_t k, double magnitude) {
  const double u = std::ldexp(1.0, -24);
  const double ku = static_cast<double>(k) * u;
  return 2.0 * ku / (1.0 - ku) * magnitude;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor identity(const Tensor& t) { return t; }
nn::StateDict identity_dict(const nn::StateDict& d) { return d; }

Tensor input_of(const LockstepSide& s, const Tensor& x) { return s.input ? s.input(x) : identity(x); }
nn::StateDict common(const LockstepSide& s, const nn::StateDict& d) {
  return s.to_common ? s.to_common(d) : identity_dict(d);
}
nn::StateDict own(const LockstepSide& s, const nn::StateDict& d) {
  return s.from_common ? s.from_common(d) : identity_dict(d);
}
Layout layout_of(const LockstepSide& s) { return s.model->build_options().layout; }

// A 4-D activation in the common (NHWC) layout, and back.
Tensor act_common(const Tensor& t, Layout layout) {
  return t.dim() == 4 && layout == Layout::NCHW ? t.permute({0, 2, 3, 1}).contiguous() : t;
}
Tensor act_own(const Tensor& t, Layout layout) {
  return t.dim() == 4 && layout == Layout::NCHW ? t.permute({0, 3, 1, 2}).contiguous() : t;
}

Tensor host64(const Tensor& t) { return t.detach().to(Device::cpu()).to(kFloat64).contiguous(); }

// A side's device: its model's (the first parameter's), the CPU for a model without parameters.
Device device_of(const LockstepSide& s) {
  const nn::NamedTensors params = s.model->named_parameters();
  return params.empty() ? Device::cpu() : params.front().second.device();
}

SideNumerics numerics_of(const LockstepSide& s) {
  const NumericsGuard guard(s.numerics);
  return {device_of(s), math_mode(), deterministic(), cpu_conv_algorithm_used(kFloat32)};
}

// What differs between the sides' settings, for a diagnosis: "" when nothing does.
std::string settings_difference(const SideNumerics& a, const SideNumerics& b) {
  std::string d;
  auto add = [&](bool differ, const std::string& what) {
    if (differ) d += (d.empty() ? "" : "; ") + what;
  };
  add(a.device != b.device, "device " + a.device.str() + " vs " + b.device.str());
  add(a.math_mode != b.math_mode,
      "math mode " + std::string(name(a.math_mode)) + " vs " + std::string(name(b.math_mode)) +
          (a.math_mode == MathMode::TF32 || b.math_mode == MathMode::TF32
               ? " (TF32 rounds the operands of matmul and convolution to 11 significant bits)"
               : ""));
  add(a.deterministic != b.deterministic, std::string("determinism ") + (a.deterministic ? "on" : "off") + " vs " +
                                              (b.deterministic ? "on" : "off"));
  const bool cpu = a.device.is_cpu() && b.device.is_cpu();
  add(cpu && a.cpu_conv_algorithm != b.cpu_conv_algorithm,
      "CPU convolutions " + std::string(name(a.cpu_conv_algorithm)) + " vs " + std::string(name(b.cpu_conv_algorithm)));
  return d.empty() ? d : " The sides compute under different settings: " + d + ".";
}

std::int64_t ordered(float x) {
  std::int32_t i;
  std::memcpy(&i, &x, 4);
  return i < 0 ? -static_cast<std::int64_t>(i & 0x7FFFFFFF) : static_cast<std::int64_t>(i);
}

// a, b: the same tensor of the two sides in one layout; bound: elementwise, or undefined.
TensorComparison compare(const std::string& name, const std::string& op, const Tensor& a, const Tensor& b,
                         const Tensor& bound = Tensor(), bool exact = false) {
  PARITY_CHECK(a.shape() == b.shape(), "lockstep: ", name, " has shape ", to_string(a.shape()), " on one side and ",
               to_string(b.shape()), " on the other");
  TensorComparison c;
  c.name = name;
  c.op = op;
  const std::vector<double> va = host64(a).to_vector<double>(), vb = host64(b).to_vector<double>();
  const std::vector<double> vbound = bound.defined() ? host64(bound).to_vector<double>() : std::vector<double>();
  double scale = 0, worst_ratio = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    const double d = std::abs(va[i] - vb[i]);
    const bool differ = d > 0 || (std::isnan(va[i]) != std::isnan(vb[i]));
    c.max_abs = std::max(c.max_abs, std::isnan(d) ? kInf : d);
    scale = std::max(scale, std::abs(va[i]));
    if (differ) {
      c.max_ulp = std::max(c.max_ulp, static_cast<double>(std::llabs(ordered(static_cast<float>(va[i])) -
                                                                     ordered(static_cast<float>(vb[i])))));
    }
    if (exact && differ) worst_ratio = kInf;
    if (!vbound.empty() && differ) worst_ratio = std::max(worst_ratio, vbound[i] > 0 ? d / vbound[i] : kInf);
  }
  c.relative = scale > 0 ? c.max_abs / scale : (c.max_abs > 0 ? kInf : 0.0);
  if (exact || bound.defined()) c.ratio = worst_ratio;
  return c;
}

// What kind of sum a layer computes (Note [Lockstep bounds]).
struct LayerKind {
  std::string op;
  bool known = false;      // a bound can be given
  bool exact = false;      // no rounding at all
  bool reshape = false;    // Flatten: its output is its input reordered
  bool linear = false;     // Dense / Conv2D: Σ|terms| by |params| on |input|
  std::int64_t terms = 0;  // k per output element
};

bool relu_or_linear(const std::string& activation) { return activation == "linear" || activation == "relu"; }

LayerKind kind_of(const nn::Module& m) {
  LayerKind k;
  k.op = m.type_name();
  if (const auto* d = dynamic_cast<const nn::Dense*>(&m)) {
    const nn::StateDict s = d->state_dict();
    k.known = relu_or_linear(d->options().activation);
    k.linear = true;
    k.terms = s.at("kernel").size(0) + (s.count("bias") ? 1 : 0);
  } else if (const auto* c = dynamic_cast<const nn::Conv2D*>(&m)) {
    const nn::StateDict s = c->state_dict();
    const Tensor& w = s.at("kernel");
    k.known = relu_or_linear(c->options().activation);
    k.linear = true;
    k.terms = w.numel() / c->options().filters + (s.count("bias") ? 1 : 0);
  } else if (const auto* p = dynamic_cast<const nn::Pool2D*>(&m)) {
    k.known = true;
    k.exact = p->type_name() == "MaxPooling2D";
    k.terms = p->options().pool[0] * p->options().pool[1] + 1;  // the sum and the division
  } else if (dynamic_cast<const nn::Flatten*>(&m) != nullptr) {
    k.known = k.exact = k.reshape = true;
  } else if (dynamic_cast<const nn::ReLU*>(&m) != nullptr) {
    k.known = k.exact = true;
  } else if (const auto* a = dynamic_cast<const nn::Activation*>(&m)) {
    k.known = k.exact = relu_or_linear(a->function());
  }
  return k;
}

// Σ|terms| of layer m's outputs for input x: m with |parameters| on |x|.
Tensor magnitude(nn::Module& m, const Tensor& x) {
  autograd::NoGradGuard no_grad;
  nn::StateDict saved, absolute;
  for (const auto& [name, t] : m.state_dict()) {
    saved[name] = t.clone();
    absolute[name] = abs(t);
  }
  m.load_state_dict(absolute);
  Tensor out = m(abs(x)).detach();
  m.load_state_dict(saved);
  return out;
}

// The sum a weight gradient of layer m is, with |x| and |δ| (Note [Lockstep
// bounds]): Dense kernel xᵀδ, bias Σδ; Conv2D the weight and bias gradients.
// `terms`: the number of terms per element.
Tensor weight_grad_sum(nn::Module& m, const std::string& pname, const Tensor& x, const Tensor& d, Layout layout,
                       std::int64_t* terms = nullptr) {
  const Shape wshape = m.state_dict().at(pname).shape();
  std::int64_t k = x.size(0);
  Tensor out;
  if (const auto* conv = dynamic_cast<const nn::Conv2D*>(&m)) {
    k *= d.numel() / (d.size(0) * conv->options().filters);  // the output pixels
    out = pname == "kernel" ? conv2d_backward_weight(x, d, wshape, conv->conv_options())
                            : conv2d_backward_bias(d, layout);
  } else {
    out = pname == "kernel" ? matmul(x.transpose(0, 1), d) : sum(d, {0});
  }
  if (terms != nullptr) *terms = k;
  return out;
}

// One side's forward and backward for a batch: every layer's input and output.
struct Pass {
  std::vector<Tensor> inputs, outputs;  // per layer, in the side's layout
  double loss = 0;
  nn::StateDict grads;                  // by parameter name, in the side's layout
};

Pass forward_backward(LockstepSide& s, const Tensor& xb, const Tensor& yb, const nn::Loss& loss_fn) {
  const NumericsGuard numerics(s.numerics);
  const Device device = device_of(s);
  Pass p;
  s.optimizer->zero_grad();
  Tensor h = input_of(s, xb.to(device));
  for (const auto& [name, child] : s.model->children()) {
    p.inputs.push_back(h);
    h = (*child)(h);
    if (h.requires_grad()) h.retain_grad();
    p.outputs.push_back(h);
  }
  const Tensor loss = loss_fn(h, yb.to(device));
  p.loss = loss.item<double>();
  loss.backward();
  for (const auto& [name, t] : s.model->named_parameters()) {
    p.grads[name] = t.grad().defined() ? t.grad().detach().clone() : zeros_like(t);
  }
  return p;
}

nn::StateDict clone_dict(const nn::StateDict& d) {
  nn::StateDict out;
  for (const auto& [name, t] : d) out[name] = t.detach().clone();
  return out;
}

// B gets A's weights and optimizer state, converted to B's layout.
void resync(LockstepSide& a, LockstepSide& b) {
  b.model->load_state_dict(own(b, common(a, a.model->state_dict())));
  const optim::StateDict sa = a.optimizer->state_dict();
  optim::StateDict sb = b.optimizer->state_dict();
  const nn::NamedTensors names = a.model->named_parameters();
  PARITY_CHECK(sa.groups.size() == 1 && sb.groups.size() == 1 &&
                   sa.groups[0].params.size() == names.size() && sb.groups[0].params.size() == names.size(),
               "lockstep: the resynced pass needs both optimizers over the model's parameters in one group");
  sb.steps = sa.steps;
  std::map<std::string, nn::StateDict> per_key;  // optimizer state key -> a state dict of that key
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& pa = sa.groups[0].params[i];
    sb.groups[0].params[i].initialized = pa.initialized;
    sb.groups[0].params[i].step = pa.step;
    sb.groups[0].params[i].scalars = pa.scalars;
    for (const auto& [key, t] : pa.tensors) per_key[key][names[i].first] = t;
  }
  for (const auto& [key, dict] : per_key) {
    const nn::StateDict converted = own(b, common(a, dict));
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto found = converted.find(names[i].first);
      if (found != converted.end()) sb.groups[0].params[i].tensors[key] = found->second.clone();
    }
  }
  b.optimizer->load_state_dict(sb);
}

double l2(const std::vector<Tensor>& ts) {
  double s = 0;
  for (const Tensor& t : ts) {
    for (double v : host64(t).to_vector<double>()) s += v * v;
  }
  return std::sqrt(s);
}

// Is b spatially flipped a (a conv kernel in the common HWIO layout)?
bool is_flip_of(const Tensor& a, const Tensor& b) {
  if (a.dim() != 4 || a.shape() != b.shape()) return false;
  const Tensor f = nn::flip_kernel(a, KernelLayout::HWIO);
  return max(abs(sub(host64(f), host64(b)))).item<double>() == 0.0;
}

std::string weight_diagnosis(const Tensor& a, const Tensor& b, const TensorComparison& c) {
  if (is_flip_of(a, b)) {
    return "B's kernel is A's flipped in both spatial dimensions: a kernel flip missing or applied twice "
           "(Keras 2 flips kernels on load when the saving and the loading backend differ)";
  }
  if (c.max_ulp <= 4) {
    return "the weights differ in their last bits (" + std::to_string(static_cast<std::int64_t>(c.max_ulp)) +
           " ulp at most)";
  }
  return "the weights differ (" + std::to_string(c.relative) + " of their scale)";
}

struct Sides {
  LockstepSide& a;
  LockstepSide& b;
};

StepComparison run_step(Sides s, int step, const Tensor& xb, const Tensor& yb, const LockstepOptions& o,
                        bool resynced, std::optional<FirstDivergence>& first) {
  StepComparison r;
  r.step = step;
  const Layout la = layout_of(s.a), lb = layout_of(s.b);
  const Device da = device_of(s.a), db = device_of(s.b);
  const std::string settings = settings_difference(numerics_of(s.a), numerics_of(s.b));
  auto note = [&](const std::string& phase, const TensorComparison& c, const std::string& why) {
    if (!first && c.ratio && *c.ratio > 1.0) first = FirstDivergence{step, phase, c.name, c.op, *c.ratio, why};
  };

  // Weights at the start of the step, in the common layout (the conversions are exact).
  const nn::StateDict wa = clone_dict(common(s.a, s.a.model->state_dict()));
  const nn::StateDict wb = clone_dict(common(s.b, s.b.model->state_dict()));
  const bool weights_must_agree = resynced || step == 1;
  for (const auto& [name, t] : wa) {
    PARITY_CHECK(wb.count(name), "lockstep: ", s.b.label, " has no weight '", name, "'");
    TensorComparison c = compare(name, "weights", t, wb.at(name), Tensor(), weights_must_agree);
    r.weights.push_back(c);
    if (weights_must_agree) note("weights", c, weight_diagnosis(t, wb.at(name), c));
  }

  const Pass pa = forward_backward(s.a, xb, yb, o.loss);
  const Pass pb = forward_backward(s.b, xb, yb, o.loss);
  r.loss_a = pa.loss;
  r.loss_b = pb.loss;

  // Forward, layer by layer.
  const auto& children_a = s.a.model->children();
  const auto& children_b = s.b.model->children();
  PARITY_CHECK(children_a.size() == children_b.size(), "lockstep: the models have ", children_a.size(), " and ",
               children_b.size(), " layers");
  std::vector<Tensor> b_on_a_input(children_b.size());  // A's input to each layer, in B's layout and on B's device
  {
    autograd::NoGradGuard no_grad;
    const NumericsGuard numerics(s.b.numerics);
    for (std::size_t i = 0; i < children_b.size(); ++i) {
      if (i == 0) {
        b_on_a_input[i] = input_of(s.b, xb.to(db));
      } else if (kind_of(*children_b[i - 1].second).reshape) {
        b_on_a_input[i] = (*children_b[i - 1].second)(b_on_a_input[i - 1]).detach();
      } else {
        b_on_a_input[i] = act_own(act_common(pa.outputs[i - 1].detach(), la), lb).to(db);
      }
    }
  }
  for (std::size_t i = 0; i < children_a.size(); ++i) {
    nn::Module& mb = *children_b[i].second;
    const LayerKind k = kind_of(mb);
    const std::string name = children_a[i].first;
    if (k.reshape) continue;  // compared at its input and at the next layer
    const Tensor out_a = act_common(pa.outputs[i].detach(), la);
    if (!resynced) {
      r.outputs.push_back(compare(name, k.op, out_a, act_common(pb.outputs[i].detach(), lb)));
      continue;
    }
    Tensor local, bound;
    {
      autograd::NoGradGuard no_grad;
      const NumericsGuard numerics(s.b.numerics);
      local = act_common(mb(b_on_a_input[i]).detach(), lb);
      if (k.known && k.linear) {
        bound = mul(act_common(magnitude(mb, b_on_a_input[i]), lb).to(kFloat64),
                    Scalar(sum_rounding_bound(k.terms, 1.0)));
      } else if (k.known && !k.exact) {
        bound = mul(abs(act_common(mb(abs(b_on_a_input[i])).detach(), lb)).to(kFloat64),
                    Scalar(sum_rounding_bound(k.terms, 1.0)));
      }
    }
    TensorComparison c = k.known ? compare(name, k.op, out_a, local, bound, k.exact) : compare(name, k.op, out_a, local);
    r.outputs.push_back(c);
    note("forward", c,
         "layer " + name + " (" + k.op + ") computes another result than A's from the same input and weights, "
         "beyond float32 rounding of its sums: another computation (conv mode, layout, kernel layout, math mode), "
         "not rounding." + settings);
  }

  // Backward: each parameter's gradient, from the top layer down.
  const nn::StateDict ga = common(s.a, pa.grads), gb = common(s.b, pb.grads);
  for (std::size_t j = children_a.size(); j-- > 0;) {
    nn::Module& ma = *children_a[j].second;
    nn::Module& mb = *children_b[j].second;
    const LayerKind k = kind_of(ma);
    for (const auto& [pname, t] : ma.named_parameters()) {
      const std::string name = children_a[j].first + "." + pname;
      Tensor bound;
      // Computed in A's layout: A's must be the common one (no to_common).
      if (resynced && !s.a.to_common && k.known && k.linear && pa.outputs[j].grad().defined() &&
          pb.outputs[j].grad().defined()) {
        autograd::NoGradGuard no_grad;
        const Tensor delta_a = pa.outputs[j].grad(), delta_b = pb.outputs[j].grad();
        std::int64_t terms = 0;
        // g_A - g_B = x_A (δ_A - δ_B) + (x_A - x_B) δ_B + the rounding of both sums.
        const Tensor mag = weight_grad_sum(ma, pname, abs(pa.inputs[j].detach()), abs(delta_a), la, &terms);
        const Tensor from_delta = weight_grad_sum(
            ma, pname, abs(pa.inputs[j].detach()), abs(sub(delta_a, act_own(act_common(delta_b, lb), la).to(da))), la);
        const Tensor in_b =
            weight_grad_sum(mb, pname, abs(sub(b_on_a_input[j], pb.inputs[j].detach())), abs(delta_b), lb);
        nn::StateDict one_b;  // B's term in the common layout (its converter takes whole state dicts)
        for (const auto& [n, w] : pb.grads) one_b[n] = zeros_like(w);
        one_b[name] = in_b;
        const Tensor from_input = common(s.b, one_b).at(name);
        bound = add(add(mul(host64(mag), Scalar(sum_rounding_bound(terms, 1.0))), host64(from_delta)),
                    host64(from_input));
      }
      TensorComparison c = compare(name, k.op + " gradient", ga.at(name), gb.at(name), bound);
      r.grads.push_back(c);
      if (resynced) {
        note("backward", c,
             "the gradient of " + name + " differs beyond float32 rounding of its sum, given the two sides' inputs "
             "and output gradients: the backward of layer " + children_a[j].first + " (" + k.op +
             ") is another computation." + settings);
      }
    }
  }

  // The optimizer's step.
  for (LockstepSide* side : {&s.a, &s.b}) {
    const NumericsGuard numerics(side->numerics);
    side->optimizer->step();
  }
  const nn::StateDict wa2 = common(s.a, s.a.model->state_dict()), wb2 = common(s.b, s.b.model->state_dict());
  std::vector<Tensor> dua, dud, gav, gdv;
  for (const auto& [name, t] : wa2) {
    const Tensor ua = sub(t, wa.at(name)), ub = sub(wb2.at(name), wb.at(name));
    r.updates.push_back(compare(name, s.a.optimizer->name() + " update", ua, ub));
    r.param_distance = std::max(r.param_distance, max(abs(sub(host64(t), host64(wb2.at(name))))).item<double>());
    r.update_scale = std::max(r.update_scale, max(abs(host64(ua))).item<double>());
    dua.push_back(host64(ua));
    dud.push_back(sub(host64(ua), host64(ub)));
    gav.push_back(host64(ga.at(name)));
    gdv.push_back(sub(host64(ga.at(name)), host64(gb.at(name))));
  }
  const double rel_update = l2(dud) / std::max(l2(dua), 1e-300), rel_grad = l2(gdv) / std::max(l2(gav), 1e-300);
  if (rel_grad > 0) r.amplification = rel_update / rel_grad;
  return r;
}

nlohmann::json to_json(const SideNumerics& n) {
  return {{"device", n.device.str()},
          {"math_mode", std::string(name(n.math_mode))},
          {"deterministic", n.deterministic},
          {"cpu_conv_algorithm", std::string(name(n.cpu_conv_algorithm))}};
}

nlohmann::json to_json(const TensorComparison& c) {
  nlohmann::json j = {{"name", c.name}, {"op", c.op}, {"max_abs", c.max_abs}, {"relative", c.relative},
                      {"max_ulp", c.max_ulp}};
  if (c.ratio) j["ratio"] = std::isinf(*c.ratio) ? nlohmann::json("inf") : nlohmann::json(*c.ratio);
  return j;
}

nlohmann::json to_json(const StepComparison& s) {
  nlohmann::json j = {{"step", s.step}, {"loss_a", s.loss_a}, {"loss_b", s.loss_b},
                      {"param_distance", s.param_distance}, {"update_scale", s.update_scale}};
  if (s.amplification) j["amplification"] = *s.amplification;
  for (const auto* part : {"weights", "outputs", "grads", "updates"}) j[part] = nlohmann::json::array();
  for (const auto& c : s.weights) j["weights"].push_back(to_json(c));
  for (const auto& c : s.outputs) j["outputs"].push_back(to_json(c));
  for (const auto& c : s.grads) j["grads"].push_back(to_json(c));
  for (const auto& c : s.updates) j["updates"].push_back(to_json(c));
  return j;
}

}  // namespace

DivergenceReport lockstep(LockstepSide& a, LockstepSide& b, const Tensor& x, const Tensor& y,
                          const LockstepOptions& o) {
  for (const LockstepSide* s : {&a, &b}) {
    PARITY_CHECK(s->model != nullptr && s->optimizer != nullptr, "lockstep: side '", s->label,
                 "' needs a model and an optimizer");
    PARITY_CHECK(s->model->built(), "lockstep: side '", s->label, "': build the model first");
  }
  PARITY_CHECK(o.steps >= 1 && o.batch_size >= 1, "lockstep: steps (", o.steps, ") and batch_size (", o.batch_size,
               ") must be >= 1");
  PARITY_CHECK(x.dim() >= 1 && y.dim() >= 1 && x.size(0) == y.size(0) && x.size(0) >= o.steps * o.batch_size,
               "lockstep: x ", to_string(x.shape()), " and y ", to_string(y.shape()), " must hold steps * batch_size = ",
               o.steps * o.batch_size, " samples");
  DivergenceReport r;
  r.a = a.label;
  r.b = b.label;
  r.a_numerics = numerics_of(a);
  r.b_numerics = numerics_of(b);
  // Both passes start from the same state: what the sides hold now.
  const nn::StateDict start_a = clone_dict(a.model->state_dict()), start_b = clone_dict(b.model->state_dict());
  const optim::StateDict opt_a = a.optimizer->state_dict(), opt_b = b.optimizer->state_dict();
  auto restore = [&] {
    a.model->load_state_dict(start_a);
    b.model->load_state_dict(start_b);
    a.optimizer->load_state_dict(opt_a);
    b.optimizer->load_state_dict(opt_b);
  };
  std::optional<FirstDivergence> free_first, resynced_first;
  for (int pass = 0; pass < 2; ++pass) {
    const bool resynced = pass == 1;
    if ((resynced && !o.resynced_pass) || (!resynced && !o.free_pass)) continue;
    restore();
    std::optional<FirstDivergence>& first = resynced ? resynced_first : free_first;
    for (int step = 1; step <= o.steps; ++step) {
      // Before the first step B keeps its own state: a wrong conversion shows there.
      if (resynced && step > 1) resync(a, b);
      if (o.before_step) o.before_step(step, a, b);
      const Tensor xb = x.slice(0, (step - 1) * o.batch_size, step * o.batch_size);
      const Tensor yb = y.slice(0, (step - 1) * o.batch_size, step * o.batch_size);
      (resynced ? r.resynced : r.free).push_back(run_step({a, b}, step, xb, yb, o, resynced, first));
    }
  }
  r.first = resynced_first ? resynced_first : free_first;
  return r;
}

std::string SideNumerics::describe() const {
  std::string d = device.str() + ", " + std::string(name(math_mode)) + ", " +
                  (deterministic ? "deterministic" : "nondeterministic");
  if (device.is_cpu()) d += ", " + std::string(name(cpu_conv_algorithm)) + " convolutions";
  return d;
}

std::string DivergenceReport::summary() const {
  std::ostringstream out;
  out << "lockstep: A = " << a << " [" << a_numerics.describe() << "]\n          B = " << b << " ["
      << b_numerics.describe() << "]\n";
  const std::vector<StepComparison>& steps = free.empty() ? resynced : free;
  out << (free.empty() ? "resynced" : "free") << " pass:\n  step        loss A        loss B   max|wA-wB|  max|dwA|  amplification\n";
  for (const StepComparison& s : steps) {
    char line[160];
    std::snprintf(line, sizeof line, "  %4d  %12.6g  %12.6g  %11.3g  %8.3g  %s\n", s.step, s.loss_a, s.loss_b,
                  s.param_distance, s.update_scale,
                  s.amplification ? std::to_string(*s.amplification).c_str() : "-");
    out << line;
  }
  if (first) {
    out << "first divergence beyond float32 rounding: step " << first->step << ", " << first->phase << ", "
        << first->tensor << " (" << first->op << "), " << (std::isinf(first->ratio) ? std::string("an exact op differs")
                                                                                    : std::to_string(first->ratio) + "x its bound")
        << "\n  " << first->why << "\n";
  } else {
    out << "no divergence beyond float32 rounding: every difference is rounding"
        << (free.empty() ? "" : ", amplified by the optimizer where the losses part") << "\n";
  }
  return out.str();
}

std::string DivergenceReport::to_json() const {
  nlohmann::json j = {{"a", a}, {"b", b}, {"a_numerics", train::to_json(a_numerics)},
                      {"b_numerics", train::to_json(b_numerics)}, {"free", nlohmann::json::array()},
                      {"resynced", nlohmann::json::array()},
                      {"bound", "2 * gamma_k * sum|terms| per element, gamma_k = k u / (1 - k u), u = 2^-24 "
                                "(parity/train/lockstep.cpp, Note [Lockstep bounds])"}};
  for (const auto& s : free) j["free"].push_back(train::to_json(s));
  for (const auto& s : resynced) j["resynced"].push_back(train::to_json(s));
  if (first) {
    j["first_divergence"] = {{"step", first->step}, {"phase", first->phase}, {"tensor", first->tensor},
                             {"op", first->op},
                             {"ratio", std::isinf(first->ratio) ? nlohmann::json("inf") : nlohmann::json(first->ratio)},
                             {"why", first->why}};
  } else {
    j["first_divergence"] = nullptr;
  }
  return j.dump(1);
}

void DivergenceReport::write_json(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PARITY_CHECK(out.good(), "lockstep: cannot write '", tmp, "'");
    out << to_json() << "\n";
    PARITY_CHECK(out.good(), "lockstep: writing '", tmp, "' failed");
  }
  PARITY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "lockstep: cannot rename '", tmp, "' to '", path, "'");
}

}  // namespace parity::train
