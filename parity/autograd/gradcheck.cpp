// gradcheck: analytical Jacobians (autograd) against central finite differences.
#include "parity/autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include "parity/autograd/engine.h"
#include "parity/autograd/function.h"
#include "parity/autograd/grad_mode.h"
#include "parity/tensor/autograd_hook.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/generator.h"
#include "parity/tensor/ops.h"

namespace parity::autograd {

namespace {

// A copy of t, of `dtype`, with t's shape and strides in a private storage: a
// non-contiguous input stays non-contiguous, and perturbing it never touches
// the caller's tensor.
Tensor layout_copy(const Tensor& t, DType dtype) {
  NoGradGuard no_grad;
  std::int64_t extent = t.numel() > 0 ? 1 : 0;
  for (int d = 0; d < t.dim() && extent > 0; ++d) extent += (t.size(d) - 1) * t.stride(d);
  const Tensor buffer = zeros({extent}, {.dtype = dtype, .device = t.device()});
  Tensor copy = make_tensor(buffer.storage(), 0, t.shape(), t.strides(), dtype);
  copy.copy_(autograd_hook::raw(t));
  return copy;
}

Shape unravel(std::int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return index;
}

// The 0-d view of element `flat` (row-major) of t.
Tensor element(const Tensor& t, std::int64_t flat) {
  Tensor e = t;
  for (std::int64_t i : unravel(flat, t.shape())) e = e.select(0, i);
  return e;
}

std::vector<std::int64_t> sample(std::int64_t n, std::int64_t cap, std::mt19937_64& rng) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  if (cap <= 0 || n <= cap) return all;
  for (std::int64_t i = 0; i < cap; ++i) {
    std::uniform_int_distribution<std::int64_t> pick(i, n - 1);
    std::swap(all[i], all[pick(rng)]);
  }
  all.resize(static_cast<std::size_t>(cap));
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<std::size_t> checked_inputs(const std::vector<Tensor>& inputs,
                                        const std::vector<std::size_t>& chosen, const char* api) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    PARITY_CHECK(inputs[i].defined(), api, ": input ", i, " is an undefined tensor");
  }
  if (!chosen.empty()) {
    for (std::size_t i : chosen) {
      PARITY_CHECK(i < inputs.size(), api, ": options.inputs names input ", i, " but there are ",
                   inputs.size());
      PARITY_CHECK(is_floating(inputs[i].dtype()), api, ": input ", i, " is ", inputs[i].dtype(),
                   "; only floating inputs have gradients");
      out.push_back(i);
    }
  } else {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].requires_grad()) out.push_back(i);
    }
    if (out.empty()) {
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (is_floating(inputs[i].dtype())) out.push_back(i);
      }
    }
  }
  PARITY_CHECK(!out.empty(), api, ": no floating input to check");
  for (std::size_t i : out) {
    for (int d = 0; d < inputs[i].dim(); ++d) {
      PARITY_CHECK(inputs[i].stride(d) != 0 || inputs[i].size(d) <= 1, api, ": input ", i, " (shape ",
                   to_string(inputs[i].shape()),
                   ") has several elements at one address (an expanded view): "
                   "perturbing one perturbs all. Pass .contiguous() of it");
    }
  }
  return out;
}

// The function's arguments: float64 copies of the floating inputs (leaves
// requiring grad for the checked ones), other inputs as given.
std::vector<Tensor> make_args(const std::vector<Tensor>& inputs, const std::vector<std::size_t>& checked,
                              DType dtype) {
  std::vector<Tensor> args;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!is_floating(inputs[i].dtype())) {
      args.push_back(inputs[i]);
      continue;
    }
    Tensor copy = layout_copy(inputs[i], dtype);
    if (std::find(checked.begin(), checked.end(), i) != checked.end()) copy.requires_grad_(true);
    args.push_back(copy);
  }
  return args;
}

std::vector<std::vector<double>> values(const std::vector<Tensor>& outputs) {
  std::vector<std::vector<double>> out;
  for (const Tensor& t : outputs) {
    out.push_back(t.defined() && t.dtype() != kBool ? t.to_vector<double>() : std::vector<double>());
  }
  return out;
}

// Tracks the worst comparison.
struct Worst {
  GradcheckReport& report;
  double violation = -1;
  bool failed = false;

  // Compares one entry; true when it is the worst so far (error / tolerance;
  // above 1 fails), whose details the report now holds.
  bool consider(double analytical, double numerical, double tolerance_abs, double rtol) {
    double abs_error = std::abs(analytical - numerical);
    double v;
    if (std::isnan(analytical) || std::isnan(numerical)) {
      v = std::isnan(analytical) && std::isnan(numerical) ? 0 : std::numeric_limits<double>::infinity();
      abs_error = std::numeric_limits<double>::quiet_NaN();
    } else if (analytical == numerical) {
      v = 0;
      abs_error = 0;
    } else {
      v = abs_error / (tolerance_abs + rtol * std::abs(numerical));
    }
    ++report.checked;
    if (v > 1 || std::isnan(v)) failed = true;
    if (!(v > violation) && violation >= 0) return false;
    violation = v;
    report.analytical = analytical;
    report.numerical = numerical;
    report.abs_error = abs_error;
    report.rel_error = abs_error / std::max(std::abs(numerical), std::numeric_limits<double>::min());
    return true;
  }
};

GradcheckReport failed_to_run(GradcheckReport report, const std::exception& e) {
  report.ok = false;
  report.error = e.what();
  return report;
}

GradcheckReport full_check(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                           const std::vector<std::size_t>& checked, const GradcheckOptions& options,
                           GradcheckReport report) {
  std::mt19937_64 rng(options.seed);
  std::vector<Tensor> args = make_args(inputs, checked, kFloat64);
  std::vector<Tensor> leaves;
  for (std::size_t i : checked) leaves.push_back(args[i]);

  // Analytical: one backward per (sampled) output element.
  // jac[o][c][k][j]: d output o element out_elems[o][k] / d input checked[c] element in_elems[c][j].
  std::vector<std::vector<std::int64_t>> in_elems;
  for (std::size_t i : checked) in_elems.push_back(sample(args[i].numel(), options.max_elements, rng));
  std::vector<Tensor> outputs;
  {
    EnableGradGuard grad_on;
    outputs = fn(args);
  }
  std::vector<std::vector<std::int64_t>> out_elems;
  std::vector<Shape> out_shapes;
  std::vector<std::vector<std::vector<std::vector<double>>>> jac(outputs.size());
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const Tensor& out = outputs[o];
    const bool differentiable = out.defined() && is_floating(out.dtype());
    out_shapes.push_back(out.defined() ? out.shape() : Shape{});
    out_elems.push_back(differentiable ? sample(out.numel(), options.max_elements, rng)
                                       : std::vector<std::int64_t>());
    jac[o].assign(checked.size(), {});
    for (std::size_t c = 0; c < checked.size(); ++c) {
      jac[o][c].assign(out_elems[o].size(), std::vector<double>(in_elems[c].size(), 0.0));
    }
    if (!differentiable || !out.requires_grad()) continue;
    for (std::size_t k = 0; k < out_elems[o].size(); ++k) {
      Tensor one_hot = zeros(out.shape(), {.dtype = out.dtype(), .device = out.device()});
      element(one_hot, out_elems[o][k]).fill_(1);
      const std::vector<Tensor> grads =
          grad({out}, leaves, {one_hot}, {.retain_graph = true, .allow_unused = true});
      for (std::size_t c = 0; c < checked.size(); ++c) {
        if (!grads[c].defined()) continue;
        const std::vector<double> row = grads[c].to_vector<double>();
        for (std::size_t j = 0; j < in_elems[c].size(); ++j) jac[o][c][k][j] = row[in_elems[c][j]];
      }
    }
  }
  outputs.clear();  // frees the graph

  // Numerical: central differences, one input element at a time.
  NoGradGuard no_grad;
  Worst worst{report};
  for (std::size_t c = 0; c < checked.size(); ++c) {
    Tensor& arg = args[checked[c]];
    for (std::size_t j = 0; j < in_elems[c].size(); ++j) {
      Tensor e = element(arg, in_elems[c][j]);
      const double original = e.item<double>();
      e.fill_(original + options.eps);
      const auto plus = values(fn(args));
      e.fill_(original - options.eps);
      const auto minus = values(fn(args));
      e.fill_(original);
      PARITY_CHECK(plus.size() == jac.size() && minus.size() == jac.size(),
                   "gradcheck: the function returned a different number of outputs between calls");
      for (std::size_t o = 0; o < jac.size(); ++o) {
        for (std::size_t k = 0; k < out_elems[o].size(); ++k) {
          const std::int64_t flat = out_elems[o][k];
          const double numerical = (plus[o][flat] - minus[o][flat]) / (2 * options.eps);
          if (worst.consider(jac[o][c][k][j], numerical, options.atol, options.rtol)) {
            report.output = static_cast<int>(o);
            report.output_element = flat;
            report.output_index = unravel(flat, out_shapes[o]);
            report.input = static_cast<int>(checked[c]);
            report.input_element = in_elems[c][j];
          }
        }
      }
    }
  }
  report.ok = !worst.failed;
  return report;
}

GradcheckReport fast_check(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                           const std::vector<std::size_t>& checked, const GradcheckOptions& options,
                           GradcheckReport report) {
  std::vector<Tensor> args = make_args(inputs, checked, kFloat64);
  Generator generator(options.seed);
  Worst worst{report};
  for (std::size_t c = 0; c < checked.size(); ++c) {
    Tensor& arg = args[checked[c]];
    for (int p = 0; p < options.num_projections; ++p) {
      // A fresh graph each time: the numerical part below writes into the inputs.
      std::vector<Tensor> outputs;
      {
        EnableGradGuard grad_on;
        outputs = fn(args);
      }
      const Tensor u = randn(arg.shape(), {.dtype = kFloat64, .device = arg.device()}, 0.0, 1.0, &generator);
      std::vector<Tensor> vs, recorded, recorded_vs;
      for (const Tensor& out : outputs) {
        if (!out.defined() || !is_floating(out.dtype())) {
          vs.emplace_back();
          continue;
        }
        Tensor v = randn(out.shape(), {.dtype = out.dtype(), .device = out.device()}, 0.0, 1.0, &generator);
        vs.push_back(v);
        if (out.requires_grad()) {
          recorded.push_back(out);
          recorded_vs.push_back(v);
        }
      }
      // Analytical v^T J u.
      double analytical = 0;
      if (!recorded.empty()) {
        const std::vector<Tensor> g = grad(recorded, {arg}, recorded_vs, {.allow_unused = true});
        if (g[0].defined()) {
          NoGradGuard no_grad;
          analytical = sum(mul(g[0], u)).item<double>();
        }
      }
      // Numerical: the derivative of <v, f> along u.
      double numerical = 0;
      {
        NoGradGuard no_grad;
        const Tensor original = arg.clone();
        arg.copy_(add(original, mul(u, options.eps)));
        const auto plus = values(fn(args));
        arg.copy_(sub(original, mul(u, options.eps)));
        const auto minus = values(fn(args));
        arg.copy_(original);
        for (std::size_t o = 0; o < outputs.size(); ++o) {
          if (!vs[o].defined()) continue;
          const std::vector<double> v = vs[o].to_vector<double>();
          for (std::size_t k = 0; k < v.size(); ++k) numerical += v[k] * (plus[o][k] - minus[o][k]);
        }
        numerical /= 2 * options.eps;
      }
      if (worst.consider(analytical, numerical, options.atol, options.rtol)) {
        report.input = static_cast<int>(checked[c]);
        report.projection = p;
      }
    }
  }
  report.ok = !worst.failed;
  return report;
}

std::string index_text(const Shape& index) { return to_string(index); }

}  // namespace

namespace {

// Note [Gradcheck names the culprit] (parity/autograd/function.h): the
// function run once more with an AuditScope, then each custom Function call on
// fresh leaves holding its recorded inputs' values.
std::string find_culprit(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                         const std::vector<std::size_t>& checked, const GradcheckOptions& options) {
  std::vector<detail::AuditedCall> calls;
  {
    detail::AuditScope audit;
    EnableGradGuard grad_on;
    fn(make_args(inputs, checked, kFloat64));
    calls = std::move(audit.calls);
  }
  if (calls.empty()) return "";
  GradcheckOptions sub = options;
  sub.find_culprit = false;
  sub.inputs.clear();
  for (std::size_t c = 0; c < calls.size(); ++c) {
    std::vector<Tensor> leaves;
    for (const Tensor& t : calls[c].inputs) {
      Tensor leaf = t.defined() ? t.detach().clone() : t;
      if (leaf.defined() && is_floating(leaf.dtype())) leaf.requires_grad_(true);
      leaves.push_back(leaf);
    }
    const GradcheckReport r = gradcheck_impl(calls[c].rerun, leaves, sub);
    if (!r.ok) {
      std::ostringstream s;
      s << "the custom function " << calls[c].name << " (call " << c + 1 << " of " << calls.size()
        << " custom function calls) fails on its own, so its backward is the one to look at: " << r;
      return s.str();
    }
  }
  std::ostringstream s;
  s << "each of the " << calls.size()
    << " custom function calls passes gradcheck on its own: the error lies in the rest of the composite";
  return s.str();
}

}  // namespace

GradcheckReport gradcheck_impl(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                               const GradcheckOptions& options) {
  PARITY_CHECK(options.eps > 0 && options.atol >= 0 && options.rtol >= 0,
               "gradcheck: expected eps > 0 and "
               "atol, rtol >= 0, got eps = ",
               options.eps, ", atol = ", options.atol, ", rtol = ", options.rtol);
  PARITY_CHECK(!options.fast_mode || options.num_projections > 0,
               "gradcheck: fast mode needs num_projections > 0");
  const std::vector<std::size_t> checked = checked_inputs(inputs, options.inputs, "gradcheck");
  GradcheckReport report;
  report.mode = options.fast_mode ? GradcheckReport::Mode::Fast : GradcheckReport::Mode::Full;
  report.eps = options.eps;
  report.atol = options.atol;
  report.rtol = options.rtol;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].defined() && inputs[i].dtype() == kFloat32) report.promoted_inputs.push_back(static_cast<int>(i));
  }
  try {
    report = options.fast_mode ? fast_check(fn, inputs, checked, options, report)
                               : full_check(fn, inputs, checked, options, report);
  } catch (const std::exception& e) {
    return failed_to_run(report, e);
  }
  if (!report.ok && options.find_culprit) {
    try {
      report.culprit = find_culprit(fn, inputs, checked, options);
    } catch (const std::exception& e) {
      report.culprit = std::string("looking for the culprit failed: ") + e.what();
    }
  }
  // Multi-indices for the report.
  if (report.input >= 0 && report.input_element >= 0) {
    report.input_index = unravel(report.input_element, inputs[report.input].shape());
  }
  return report;
}

GradcheckReport check_float32_gradient_impl(const DiffFunction& fn, const std::vector<Tensor>& inputs,
                                            const Float32CheckOptions& options) {
  const std::vector<std::size_t> checked = checked_inputs(inputs, options.inputs, "check_float32_gradient");
  GradcheckReport report;
  report.mode = GradcheckReport::Mode::Float32;
  report.atol = options.atol;
  report.rtol = options.rtol;
  try {
    const std::vector<Tensor> args64 = make_args(inputs, checked, kFloat64);
    const std::vector<Tensor> args32 = make_args(inputs, checked, kFloat32);
    EnableGradGuard grad_on;
    const std::vector<Tensor> out64 = fn(args64);
    const std::vector<Tensor> out32 = fn(args32);
    PARITY_CHECK(out64.size() == out32.size(), "check_float32_gradient: the function returned ", out32.size(),
                 " outputs in float32 and ", out64.size(), " in float64");
    Generator generator(options.seed);
    std::vector<Tensor> roots64, roots32, vs64, vs32;
    for (std::size_t o = 0; o < out64.size(); ++o) {
      if (!out64[o].defined() || !out64[o].requires_grad() || !out32[o].defined() ||
          !out32[o].requires_grad()) {
        continue;
      }
      Tensor v =
          randn(out64[o].shape(), {.dtype = kFloat64, .device = out64[o].device()}, 0.0, 1.0, &generator);
      roots64.push_back(out64[o]);
      roots32.push_back(out32[o]);
      vs64.push_back(v.to(out64[o].dtype()));
      vs32.push_back(v.to(out32[o].dtype()));
    }
    PARITY_CHECK(!roots64.empty(), "check_float32_gradient: no output depends on the checked inputs");
    std::vector<Tensor> leaves64, leaves32;
    for (std::size_t i : checked) {
      leaves64.push_back(args64[i]);
      leaves32.push_back(args32[i]);
    }
    const std::vector<Tensor> g64 = grad(roots64, leaves64, vs64, {.allow_unused = true});
    const std::vector<Tensor> g32 = grad(roots32, leaves32, vs32, {.allow_unused = true});
    Worst worst{report};
    for (std::size_t c = 0; c < checked.size(); ++c) {
      const std::int64_t n = inputs[checked[c]].numel();
      const std::vector<double> a =
          g32[c].defined() ? g32[c].to_vector<double>() : std::vector<double>(n, 0.0);
      const std::vector<double> b =
          g64[c].defined() ? g64[c].to_vector<double>() : std::vector<double>(n, 0.0);
      double scale = 1;
      for (double x : b) scale = std::max(scale, std::abs(x));
      for (std::int64_t j = 0; j < n; ++j) {
        if (worst.consider(a[j], b[j], options.atol * scale, options.rtol)) {
          report.input = static_cast<int>(checked[c]);
          report.input_element = j;
        }
      }
    }
    report.ok = !worst.failed;
  } catch (const std::exception& e) {
    return failed_to_run(report, e);
  }
  if (report.input >= 0 && report.input_element >= 0) {
    report.input_index = unravel(report.input_element, inputs[report.input].shape());
  }
  return report;
}

std::ostream& operator<<(std::ostream& out, const GradcheckReport& r) {
  const char* what = r.mode == GradcheckReport::Mode::Float32 ? "float32 gradient check" : "gradcheck";
  if (!r.error.empty()) return out << what << " could not run: " << r.error;
  std::ostringstream s;
  s << std::setprecision(8);
  s << what << (r.ok ? " passed" : " FAILED");
  switch (r.mode) {
    case GradcheckReport::Mode::Full:
      s << " (full Jacobian, " << r.checked << " entries, eps " << r.eps << ", atol " << r.atol << ", rtol "
        << r.rtol << ")";
      if (r.checked > 0) {
        s << "; worst entry: d output " << r.output << index_text(r.output_index) << " / d input " << r.input
          << index_text(r.input_index) << " (flat " << r.output_element << ", " << r.input_element
          << "): analytical " << r.analytical << ", numerical " << r.numerical;
      }
      break;
    case GradcheckReport::Mode::Fast:
      s << " (fast mode, " << r.checked << " random projections v^T J u, eps " << r.eps << ", atol " << r.atol
        << ", rtol " << r.rtol << ")";
      if (r.checked > 0) {
        s << "; worst: input " << r.input << ", projection " << r.projection << ": analytical "
          << r.analytical << ", numerical " << r.numerical;
      }
      break;
    case GradcheckReport::Mode::Float32:
      s << " (" << r.checked << " gradient elements, atol " << r.atol << " x max(1, |g64|max), rtol "
        << r.rtol << ")";
      if (r.checked > 0) {
        s << "; worst: input " << r.input << index_text(r.input_index) << " (flat " << r.input_element
          << "): float32 " << r.analytical << ", float64 " << r.numerical;
      }
      break;
  }
  if (r.checked > 0) s << ", abs error " << r.abs_error << ", rel error " << r.rel_error;
  if (!r.promoted_inputs.empty()) {
    s << "; input" << (r.promoted_inputs.size() > 1 ? "s " : " ");
    for (std::size_t k = 0; k < r.promoted_inputs.size(); ++k) s << (k > 0 ? ", " : "") << r.promoted_inputs[k];
    s << (r.promoted_inputs.size() > 1 ? " were" : " was")
      << " float32 and ran as float64 (finite differences need float64; EXPECT_FLOAT32_GRADIENT checks the "
         "float32 gradient itself)";
  }
  if (!r.culprit.empty()) s << "; " << r.culprit;
  return out << s.str();
}

}  // namespace parity::autograd
