// A custom differentiable op, checked with gradcheck.
//
// softplus(x) = log(1 + exp(x)), written as a parity::autograd::Function with
// its own backward (d/dx = sigmoid(x)), then used in a small computation and
// checked against finite differences: in full mode, in fast mode, and for
// float32 against float64. Also shows what a failing check reports.
#include <parity/parity.h>

#include <iostream>

using namespace parity;

struct Softplus : autograd::Function<Softplus> {
  static constexpr const char* name = "softplus";

  static Tensor forward(autograd::FunctionCtx& ctx, const Tensor& x, double beta) {
    ctx.save_for_backward({x});
    ctx.saved_data["beta"] = beta;
    // log(1 + exp(beta x)) / beta
    return div(log(add(exp(mul(x, beta)), 1.0)), beta);
  }

  static std::vector<Tensor> backward(autograd::FunctionCtx& ctx, const std::vector<Tensor>& grads) {
    const Tensor x = ctx.saved_tensors()[0];
    const double beta = std::any_cast<double>(ctx.saved_data.at("beta"));
    return {mul(grads[0], sigmoid(mul(x, beta)))};  // one gradient per Tensor argument
  }
};

// The same op with a deliberately wrong backward (missing beta inside sigmoid).
struct BrokenSoftplus : autograd::Function<BrokenSoftplus> {
  static constexpr const char* name = "broken_softplus";
  static Tensor forward(autograd::FunctionCtx& ctx, const Tensor& x, double beta) {
    ctx.save_for_backward({x});
    return div(log(add(exp(mul(x, beta)), 1.0)), beta);
  }
  static std::vector<Tensor> backward(autograd::FunctionCtx& ctx, const std::vector<Tensor>& grads) {
    return {mul(grads[0], sigmoid(ctx.saved_tensors()[0]))};
  }
};

int main() {
  manual_seed(42);
  Tensor x = randn({3, 4}, {.dtype = kFloat64}).requires_grad_();
  Tensor w = randn({4, 2}, {.dtype = kFloat64}).requires_grad_();

  // Use it like any op: it records on the tape.
  Tensor loss = mean(matmul(Softplus::apply(x, 2.0), w));
  loss.backward();
  std::cout << "loss " << loss.item<double>()
            << ", grad_fn of softplus output: " << Softplus::apply(x, 2.0).grad_fn()->name() << "\n";
  std::cout << "x.grad() =\n" << x.grad() << "\n";

  auto fn = [](const std::vector<Tensor>& in) { return matmul(Softplus::apply(in[0], 2.0), in[1]); };
  const autograd::GradcheckReport full = autograd::gradcheck(fn, {x, w});
  const autograd::GradcheckReport fast = autograd::gradcheck(fn, {x, w}, {.fast_mode = true});
  const autograd::GradcheckReport f32 = autograd::check_float32_gradient(fn, {x, w});
  std::cout << full << "\n" << fast << "\n" << f32 << "\n";

  const autograd::GradcheckReport broken = autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return BrokenSoftplus::apply(in[0], 2.0); }, {x});
  std::cout << "with a wrong backward: " << broken << "\n";

  const bool ok = full.ok && fast.ok && f32.ok && !broken.ok;
  std::cout << (ok ? "custom_function: OK" : "custom_function: UNEXPECTED RESULT") << "\n";
  return ok ? 0 : 1;
}
