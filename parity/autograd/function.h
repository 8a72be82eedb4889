// Custom differentiable ops, like torch.autograd.Function: a forward and a
// backward written with tensor ops.
//
//   struct Cube : autograd::Function<Cube> {
//     static constexpr const char* name = "cube";   // optional: for grad_fn and messages
//     static Tensor forward(autograd::FunctionCtx& ctx, const Tensor& x) {
//       ctx.save_for_backward({x});
//       return x * x * x;
//     }
//     static std::vector<Tensor> backward(autograd::FunctionCtx& ctx, const std::vector<Tensor>& grads) {
//       const Tensor x = ctx.saved_tensors()[0];
//       return {grads[0] * 3.0 * x * x};   // one gradient per Tensor argument of forward
//     }
//   };
//   Tensor y = Cube::apply(x);
//
// forward takes the context and any arguments; its Tensor arguments are the
// op's differentiable inputs. It returns a Tensor or a std::vector<Tensor>, and
// runs with grad mode off (it records nothing itself). backward gets one
// gradient per output (zeros where none flowed) and returns one per Tensor
// argument, in order; an undefined tensor stands for "no gradient". It too runs
// with grad mode off. Saved tensors are version-checked like those of built-in
// ops; non-tensor state goes in ctx.saved_data.
#pragma once

#include <any>
#include <array>
#include <functional>
#include <tuple>
#include <utility>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "parity/autograd/grad_mode.h"
#include "parity/autograd/node.h"
#include "parity/tensor/tensor.h"

namespace parity::autograd {

class FunctionCtx {
 public:
  // Keeps tensors for backward (as aliases: they hold no graph).
  void save_for_backward(const std::vector<Tensor>& tensors);
  // The saved tensors; throws if one was modified in place since it was saved.
  // The vector lives in the context until backward returns, so the natural
  // `const Tensor& x = ctx.saved_tensors()[0];` stays valid (each call re-checks
  // the versions and refills the same vector).
  const std::vector<Tensor>& saved_tensors() const;
  // Whether the i-th Tensor argument of forward needs a gradient.
  bool needs_input_grad(std::size_t i) const { return i < needs_input_grad_.size() && needs_input_grad_[i]; }
  const std::string& name() const { return name_; }

  // Anything else backward needs (sizes, scalars, flags).
  std::unordered_map<std::string, std::any> saved_data;

 private:
  friend struct FunctionAccess;
  std::string name_;
  std::vector<SavedTensor> saved_;
  mutable std::vector<Tensor> unpacked_;  // saved_tensors()'s result; cleared after backward (no cycle)
  std::vector<bool> needs_input_grad_;
};

using BackwardFn = std::function<std::vector<Tensor>(FunctionCtx&, const std::vector<Tensor>&)>;

namespace detail {

std::string demangle(const char* name);
// Sets up ctx before forward: its name and which inputs need a gradient.
void prepare_function(FunctionCtx& ctx, std::string name, const std::vector<Tensor>& inputs);
// After forward: when recording, one node for the call, made the grad_fn of
// every floating output (outputs that alias an input are replaced by aliases).
void attach_function(std::shared_ptr<FunctionCtx> ctx, const std::vector<Tensor>& inputs,
                     std::vector<Tensor>& outputs, BackwardFn backward);

template <typename T>
void collect_tensor(std::vector<Tensor>& inputs, const T& arg) {
  if constexpr (std::is_same_v<std::remove_cvref_t<T>, Tensor>) inputs.push_back(arg);
}

// Note [Gradcheck names the culprit]: when gradcheck finds a composite's
// gradient wrong, it runs the composite once more with an AuditScope on its
// thread. Every Function::apply call then records its name, its tensor
// arguments and a way to run it again on other tensors (the other arguments
// kept as they were); gradcheck checks each call on its own and names the
// first whose backward disagrees with finite differences of its forward.
struct AuditedCall {
  std::string name;
  std::vector<Tensor> inputs;  // the call's tensor arguments, in order
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> rerun;
};

// The calls recorded on this thread, or null outside an AuditScope.
std::vector<AuditedCall>* audit_log();

class AuditScope {
 public:
  AuditScope();
  ~AuditScope();
  AuditScope(const AuditScope&) = delete;
  AuditScope& operator=(const AuditScope&) = delete;
  std::vector<AuditedCall> calls;

 private:
  std::vector<AuditedCall>* previous_;
};

// For argument I of Args...: its position among the Tensor arguments, or -1.
template <typename... Args>
constexpr std::array<int, sizeof...(Args)> tensor_slots() {
  std::array<int, sizeof...(Args)> slots{};
  int k = 0;
  std::size_t i = 0;
  ((slots[i++] = std::is_same_v<std::remove_cvref_t<Args>, Tensor> ? k++ : -1), ...);
  return slots;
}

template <typename Derived>
std::string function_name() {
  if constexpr (requires { Derived::name; })
    return std::string(Derived::name);
  else
    return demangle(typeid(Derived).name());
}

}  // namespace detail

template <typename Derived>
struct Function {
  template <typename... Args>
  static auto apply(Args&&... args) {
    auto ctx = std::make_shared<FunctionCtx>();
    std::vector<Tensor> inputs;
    (detail::collect_tensor(inputs, args), ...);
    if constexpr ((std::is_copy_constructible_v<std::remove_cvref_t<Args>> && ...)) {
      if (std::vector<detail::AuditedCall>* log = detail::audit_log()) {
        log->push_back({detail::function_name<Derived>(), inputs, rerun_with(std::remove_cvref_t<Args>(args)...)});
      }
    }
    detail::prepare_function(*ctx, detail::function_name<Derived>(), inputs);
    using Result = std::remove_cvref_t<decltype(Derived::forward(*ctx, std::forward<Args>(args)...))>;
    static_assert(std::is_same_v<Result, Tensor> || std::is_same_v<Result, std::vector<Tensor>>,
                  "Function::forward must return a Tensor or a std::vector<Tensor>");
    std::vector<Tensor> outputs;
    {
      NoGradGuard no_grad;
      if constexpr (std::is_same_v<Result, Tensor>)
        outputs.push_back(Derived::forward(*ctx, std::forward<Args>(args)...));
      else
        outputs = Derived::forward(*ctx, std::forward<Args>(args)...);
    }
    detail::attach_function(ctx, inputs, outputs, BackwardFn(&Derived::backward));
    if constexpr (std::is_same_v<Result, Tensor>)
      return outputs[0];
    else
      return outputs;
  }

 private:
  // The call again with its tensor arguments replaced, in order, by `tensors`.
  template <typename... Kept>
  static auto rerun_with(Kept... kept) {
    return [captured = std::make_tuple(std::move(kept)...)](const std::vector<Tensor>& tensors) {
      return std::apply(
          [&](const auto&... arg) {
            return run_substituted(tensors, std::index_sequence_for<Kept...>{}, arg...);
          },
          captured);
    };
  }
  template <typename... Kept, std::size_t... I>
  static std::vector<Tensor> run_substituted(const std::vector<Tensor>& tensors, std::index_sequence<I...>,
                                             const Kept&... arg) {
    constexpr auto slots = detail::tensor_slots<Kept...>();
    auto pick = [&]<std::size_t J>(const auto& a) -> decltype(auto) {
      if constexpr (slots[J] >= 0) return static_cast<const Tensor&>(tensors[static_cast<std::size_t>(slots[J])]);
      else return (a);
    };
    auto result = apply(pick.template operator()<I>(arg)...);
    if constexpr (std::is_same_v<decltype(result), Tensor>) return {result};
    else return result;
  }
};

}  // namespace parity::autograd
