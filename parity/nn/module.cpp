#include "parity/nn/module.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>

#include "parity/autograd/function.h"
#include "parity/autograd/grad_mode.h"
#include "parity/nn/summary.h"
#include "parity/tensor/error.h"

namespace parity::nn {

namespace {

bool same_options(const BuildOptions& a, const BuildOptions& b) {
  return a.layout == b.layout && a.init == b.init && a.seed == b.seed && a.dtype == b.dtype &&
         a.device == b.device && a.conv_mode == b.conv_mode;
}

std::string label(const Module& m) {
  return m.name().empty() ? m.type_name() : m.name() + " (" + m.type_name() + ")";
}

// x itself, recorded through a node whose backward passes the gradient through
// `backward` (the module's backward hooks).
Tensor identity_with_backward(const Tensor& x, const char* name, std::function<Tensor(const Tensor&)> backward) {
  auto ctx = std::make_shared<autograd::FunctionCtx>();
  const std::vector<Tensor> inputs{x};
  autograd::detail::prepare_function(*ctx, name, inputs);
  std::vector<Tensor> outputs{x};
  autograd::detail::attach_function(ctx, inputs, outputs,
                                    [backward = std::move(backward)](autograd::FunctionCtx&,
                                                                     const std::vector<Tensor>& grads) {
                                      return std::vector<Tensor>{backward(grads[0])};
                                    });
  return outputs[0];
}

}  // namespace

struct Module::Hooks {
  std::vector<std::pair<std::uint64_t, ForwardPreHook>> forward_pre;
  std::vector<std::pair<std::uint64_t, ForwardHook>> forward;
  std::vector<std::pair<std::uint64_t, BackwardHook>> backward;
  std::uint64_t next_id = 1;

  void remove(std::uint64_t id) {
    const auto has_id = [id](const auto& entry) { return entry.first == id; };
    std::erase_if(forward_pre, has_id);
    std::erase_if(forward, has_id);
    std::erase_if(backward, has_id);
  }
};

Module::Hooks& Module::hooks() {
  if (!hooks_) hooks_ = std::make_shared<Hooks>();
  return *hooks_;
}

autograd::HookHandle Module::hook_handle(std::uint64_t id) const {
  return autograd::HookHandle([weak = std::weak_ptr<Hooks>(hooks_), id] {
    if (const std::shared_ptr<Hooks> h = weak.lock()) h->remove(id);
  });
}

std::string keras_shape(const Shape& shape) {
  std::ostringstream out;
  out << "(None";
  for (std::int64_t d : shape) out << ", " << d;
  out << ")";
  return out.str();
}

Tensor Module::operator()(const Tensor& x) {
  PARITY_CHECK(x.defined(), label(*this), ": the input is an undefined tensor");
  if (!built_) {
    PARITY_CHECK(x.dim() >= 1, label(*this), ": expected an input with a batch dim, got a 0-d tensor");
    BuildOptions options;
    options.dtype = x.dtype();
    options.device = x.device();
    build(Shape(x.shape().begin() + 1, x.shape().end()), options);
  }
  if (!hooks_) {
    check_input(x);
    return forward_impl(x);
  }
  const std::shared_ptr<Hooks> hooks = hooks_;  // a hook may register or remove hooks
  Tensor input = x;
  for (const auto& [id, hook] : std::vector(hooks->forward_pre)) {
    if (Tensor replaced = hook(*this, input); replaced.defined()) input = std::move(replaced);
  }
  check_input(input);
  const bool backward_hooks = !hooks->backward.empty() && autograd::GradMode::is_enabled();
  auto grad_output = std::make_shared<Tensor>();  // filled by the output's identity, read by the input's
  const bool input_needs_grad = backward_hooks && input.requires_grad();
  if (input_needs_grad) {
    input = identity_with_backward(input, "BackwardHookInput", [this, hooks, grad_output](const Tensor& g) {
      Tensor grad_input = g;
      for (const auto& [id, hook] : std::vector(hooks->backward)) {
        if (Tensor replaced = hook(*this, grad_input, *grad_output); replaced.defined()) grad_input = std::move(replaced);
      }
      return grad_input;
    });
  }
  Tensor output = forward_impl(input);
  for (const auto& [id, hook] : std::vector(hooks->forward)) {
    if (Tensor replaced = hook(*this, input, output); replaced.defined()) output = std::move(replaced);
  }
  if (backward_hooks && output.requires_grad()) {
    output = identity_with_backward(output, "BackwardHookOutput",
                                    [this, hooks, grad_output, input_needs_grad](const Tensor& g) {
                                      *grad_output = g;
                                      if (!input_needs_grad) {  // no grad_input will come: run them now
                                        for (const auto& [id, hook] : std::vector(hooks->backward)) hook(*this, Tensor(), g);
                                      }
                                      return g;
                                    });
  }
  return output;
}

autograd::HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  PARITY_CHECK(hook != nullptr, label(*this), ": register_forward_pre_hook: an empty hook");
  const std::uint64_t id = hooks().next_id++;
  hooks_->forward_pre.emplace_back(id, std::move(hook));
  return hook_handle(id);
}

autograd::HookHandle Module::register_forward_hook(ForwardHook hook) {
  PARITY_CHECK(hook != nullptr, label(*this), ": register_forward_hook: an empty hook");
  const std::uint64_t id = hooks().next_id++;
  hooks_->forward.emplace_back(id, std::move(hook));
  return hook_handle(id);
}

autograd::HookHandle Module::register_full_backward_hook(BackwardHook hook) {
  PARITY_CHECK(hook != nullptr, label(*this), ": register_full_backward_hook: an empty hook");
  const std::uint64_t id = hooks().next_id++;
  hooks_->backward.emplace_back(id, std::move(hook));
  return hook_handle(id);
}

void Module::check_input(const Tensor& x) const {
  const Shape& expected = input_shape_;
  bool ok = x.dim() == static_cast<int>(expected.size()) + 1;
  for (std::size_t i = 0; ok && i < expected.size(); ++i) ok = x.size(static_cast<std::int64_t>(i) + 1) == expected[i];
  PARITY_CHECK(ok, label(*this), ": expected input of shape ", keras_shape(expected), " (batch first), got ",
               to_string(x.shape()));
  PARITY_CHECK(x.device() == options_.device, label(*this), ": the input is on ", x.device(),
               " but the module's parameters are on ", options_.device, "; move one with .to(device)");
  PARITY_CHECK(x.dtype() == input_dtype(), label(*this), ": the input is ", x.dtype(), " but the module takes ",
               input_dtype(), input_dtype() == options_.dtype ? " (the dtype it was built for)" : "");
}

void Module::build(const Shape& input_shape, const BuildOptions& options) {
  if (built_) {
    PARITY_CHECK(input_shape == input_shape_ && same_options(options, options_), label(*this),
                 ": already built for input ", keras_shape(input_shape_), "; cannot build again for ",
                 keras_shape(input_shape), " or with other options");
    return;
  }
  Generator generator(options.seed);
  build_with(input_shape, {options, generator});
}

void Module::build_with(const Shape& input_shape, const BuildContext& context) {
  PARITY_CHECK(!built_, label(*this), ": already built (a module instance can appear only once in a model)");
  options_ = context.options;
  // Initializers run on the CPU (Philox gives the same bits on every device),
  // outside any tape; the parameters then move to the model's device.
  autograd::NoGradGuard no_grad;
  output_shape_ = build_impl(input_shape, context);
  input_shape_ = input_shape;
  built_ = true;
  const Device device = context.options.device;
  for (auto& [name, t] : parameters_) {
    if (t.device() != device) t = t.to(device).detach().requires_grad_();
  }
  for (auto& [name, t] : buffers_) {
    if (t.device() != device) t = t.to(device);
  }
}

const Shape& Module::input_shape() const {
  PARITY_CHECK(built_, label(*this), ": not built yet (call build(input_shape) or run a batch through it)");
  return input_shape_;
}

const Shape& Module::output_shape() const {
  PARITY_CHECK(built_, label(*this), ": not built yet (call build(input_shape) or run a batch through it)");
  return output_shape_;
}

const BuildOptions& Module::build_options() const {
  PARITY_CHECK(built_, label(*this), ": not built yet");
  return options_;
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  PARITY_CHECK(!has_parameter(name), label(*this), ": a parameter named \"", name, "\" already exists");
  value = value.detach();
  value.requires_grad_();
  parameters_.emplace_back(name, std::move(value));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.emplace_back(name, value.detach());
  return buffers_.back().second;
}

std::shared_ptr<Module> Module::register_module(const std::string& name, std::shared_ptr<Module> module) {
  PARITY_CHECK(module != nullptr, label(*this), ": child \"", name, "\" is null");
  children_.emplace_back(name, module);
  return module;
}

bool Module::has_parameter(const std::string& name) const {
  return std::any_of(parameters_.begin(), parameters_.end(), [&](const auto& p) { return p.first == name; });
}

Tensor& Module::parameter(const std::string& name) {
  for (auto& [n, t] : parameters_) {
    if (n == name) return t;
  }
  PARITY_FAIL(label(*this), ": no parameter named \"", name, "\"");
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::int64_t Module::parameter_count() const {
  std::int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

Module& Module::to(Device device) {
  for (auto& [name, t] : parameters_) {
    if (t.device() != device) t = t.to(device).detach().requires_grad_();
  }
  for (auto& [name, t] : buffers_) {
    if (t.device() != device) t = t.to(device);
  }
  options_.device = device;
  for (auto& [name, child] : children_) child->to(device);
  return *this;
}

Device Module::device() const { return options_.device; }

void Module::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

StateDict Module::state_dict() const {
  StateDict dict;
  // Detached, as PyTorch's state_dict(): the same storage, outside the graph.
  for (auto& [name, t] : named_parameters()) dict.emplace(name, t.detach());
  for (auto& [name, t] : named_buffers()) dict.emplace(name, t.detach());
  return dict;
}

void Module::load_state_dict(const StateDict& dict, bool strict) {
  NamedTensors targets = named_parameters();
  for (auto& entry : named_buffers()) targets.push_back(entry);
  std::ostringstream problems;
  for (const auto& [name, t] : targets) {
    auto it = dict.find(name);
    if (it == dict.end()) {
      if (strict) problems << "\n  missing: " << name << " " << to_string(t.shape());
    } else if (!it->second.defined() || it->second.shape() != t.shape()) {
      problems << "\n  " << name << ": expected shape " << to_string(t.shape()) << ", got "
               << (it->second.defined() ? to_string(it->second.shape()) : "an undefined tensor");
    }
  }
  if (strict) {
    for (const auto& entry : dict) {
      const auto& name = entry.first;  // not a structured binding: clang 14's lambdas cannot capture one
      const bool known =
          std::any_of(targets.begin(), targets.end(), [&](const auto& e) { return e.first == name; });
      if (!known) problems << "\n  unexpected: " << name;
    }
  }
  const std::string message = problems.str();
  PARITY_CHECK(message.empty(), label(*this), ": load_state_dict: the dictionary does not match the module:",
               message);
  autograd::NoGradGuard no_grad;
  for (auto& [name, t] : targets) {
    auto it = dict.find(name);
    if (it != dict.end()) t.copy_(it->second);  // the same TensorImpl: optimizers keep seeing it
  }
}

void Module::summarize(std::vector<std::vector<std::string>>& rows) const {
  rows.push_back({label(*this), keras_shape(output_shape()), std::to_string(parameter_count())});  // Keras: no separators here
}

std::string Module::summary() const {
  PARITY_CHECK(built_, label(*this), ": summary() needs a built module (call build(input_shape))");
  SummaryRows rows;
  summarize(rows);
  std::int64_t trainable = 0;
  for (const Tensor& t : parameters()) trainable += t.requires_grad() ? t.numel() : 0;
  return format_summary(rows, parameter_count(), trainable);
}

std::ostream& operator<<(std::ostream& out, const Module& module) {
  return out << (module.built() ? module.summary() : module.type_name() + " (not built)\n");
}

}  // namespace parity::nn
