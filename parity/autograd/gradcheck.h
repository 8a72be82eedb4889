// gradcheck: compares the gradients autograd computes with finite differences.
//
//   auto report = autograd::gradcheck(
//       [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]).sum(); },
//       {randn({3, 4}, {.dtype = kFloat64}).requires_grad_(), randn({4, 2}, {.dtype = kFloat64})});
//   if (!report.ok) std::cerr << report << "\n";
//
// Full mode (the default), after Flashlight's and PyTorch's gradcheck: the
// function runs on float64 copies of the inputs (same shapes and strides, on
// the same device); the analytical Jacobian comes from one backward pass per
// output element with a one-hot gradient; the numerical one from central
// differences (f(x + eps) - f(x - eps)) / 2eps per input element. An entry
// passes when |analytical - numerical| <= atol + rtol * |numerical|. The
// report names the worst entry (largest error relative to its tolerance),
// whether the check passed or not.
//
// Fast mode, for large inputs: for a few random u (input space) and v (output
// space) it compares v^T J u from one backward pass (v) with the finite
// difference of <v, f> along u: two function calls per projection instead of
// two per input element.
//
// The function must be dtype-generic (build constants with *_like or the
// inputs' dtype), deterministic, and free of kinks and ties near the inputs
// (see Note [Gradients at ties and kinks] in parity/autograd/derivatives.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "parity/tensor/tensor.h"

namespace parity::autograd {

using DiffFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;  // finite-difference step, in float64
  double atol = 1e-5;
  double rtol = 1e-3;
  // Indices of the inputs to check. Empty: those that require grad (every
  // floating input when none does).
  std::vector<std::size_t> inputs;
  // At most this many elements of each input and each output take part (a
  // sample drawn with `seed`); 0: all of them.
  std::int64_t max_elements = 0;
  bool fast_mode = false;
  int num_projections = 3;  // fast mode: random (u, v) pairs per checked input
  std::uint64_t seed = 0;   // the sample and the random vectors
  // On a failure, check each custom autograd::Function the function called on
  // its own and name the first that fails (Note [Gradcheck names the culprit]).
  bool find_culprit = true;
};

struct GradcheckReport {
  enum class Mode : std::uint8_t { Full, Fast, Float32 };
  Mode mode = Mode::Full;
  bool ok = false;
  std::string error;  // set when the check could not run (the function threw, ...)

  // The worst entry compared (also when the check passed). Full mode: d output
  // [output_element] / d input [input_element]. Fast mode: input `input`,
  // projection `projection` (elements are -1). Float32 mode: element
  // input_element of the gradient of input `input`.
  int output = -1;
  std::int64_t output_element = -1;
  Shape output_index;  // output_element as a multi-index
  int input = -1;
  std::int64_t input_element = -1;
  Shape input_index;
  int projection = -1;
  double analytical = 0;  // float32 mode: the float32 gradient
  double numerical = 0;   // float32 mode: the float64 gradient
  double abs_error = 0;
  double rel_error = 0;

  std::int64_t checked = 0;  // entries (or projections) compared
  // Full and fast mode: the inputs given as float32, which the check ran as
  // float64 copies (the report says so).
  std::vector<int> promoted_inputs;
  double eps = 0, atol = 0, rtol = 0;

  // On a failure with find_culprit: the first custom autograd::Function call
  // whose own gradcheck fails, and that check's report; or, when each passes
  // alone, how many there were (the error then lies in the rest of the
  // composite). Empty when the function calls none.
  std::string culprit;
};

std::ostream& operator<<(std::ostream& out, const GradcheckReport& report);

// Float32 mode: the gradients of the function run in float32 agree with those
// of the same function run in float64, within float32 tolerance: an element
// passes when |g32 - g64| <= atol * max(1, max|g64|) + rtol * |g64|.
struct Float32CheckOptions {
  double atol = 1e-4;
  double rtol = 1e-3;
  std::vector<std::size_t> inputs;  // as in GradcheckOptions
  std::uint64_t seed = 0;           // the random output gradient v
};

GradcheckReport gradcheck_impl(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                               const GradcheckOptions& options);
GradcheckReport check_float32_gradient_impl(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                                            const Float32CheckOptions& options);

namespace detail {
// Adapts a callable returning a Tensor or a std::vector<Tensor>.
template <typename Fn>
DiffFunction as_diff_function(Fn&& fn) {
  using Result = std::remove_cvref_t<std::invoke_result_t<Fn&, const std::vector<Tensor>&>>;
  if constexpr (std::is_same_v<Result, Tensor>) {
    return [f = std::forward<Fn>(fn)](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; };
  } else {
    static_assert(std::is_same_v<Result, std::vector<Tensor>>,
                  "gradcheck: the function must return a Tensor or a std::vector<Tensor>");
    return DiffFunction(std::forward<Fn>(fn));
  }
}
}  // namespace detail

// fn: callable taking const std::vector<Tensor>& and returning a Tensor or a
// std::vector<Tensor>.
template <typename Fn>
GradcheckReport gradcheck(Fn&& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {}) {
  return gradcheck_impl(detail::as_diff_function(std::forward<Fn>(fn)), inputs, options);
}

template <typename Fn>
GradcheckReport check_float32_gradient(Fn&& fn, const std::vector<Tensor>& inputs,
                                       const Float32CheckOptions& options = {}) {
  return check_float32_gradient_impl(detail::as_diff_function(std::forward<Fn>(fn)), inputs, options);
}

}  // namespace parity::autograd
