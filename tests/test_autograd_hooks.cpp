// Gradient hooks (parity/autograd/hooks.h) and anomaly mode
// (parity/autograd/anomaly.h), on every device: what a hook sees, what its
// return does on non-leaves and leaves (backward and autograd::grad alike),
// removal, post-accumulate hooks, the errors, and anomaly mode's error text
// (this executable exports its symbols, so the recorded stack names the test).
#include <cmath>
#include <string>
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {

// Where anomaly mode's test records its op: a function with external linkage,
// so that the exported symbol table names it (the tests' bodies live in an
// anonymous namespace, which nothing exports).
Tensor sqrt_recorded_by_a_named_function(const Tensor& x) { return sum(sqrt(x)); }

namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

class Hooks : public AutogradTest {};

TEST_P(Hooks, ANonLeafHookSeesTheSummedGradientOnceAndItsReturnFlowsOn) {
  const Tensor x = normal({4}).requires_grad_();
  const Tensor w1 = normal({4}), w2 = normal({4});
  const Tensor h = mul(x, 3.0);
  int calls = 0;
  std::vector<double> seen;
  autograd::register_hook(h, [&](const Tensor& g) {
    ++calls;
    seen = values(g);
    return mul(g, 2.0);
  });
  add(sum(mul(h, w1)), sum(mul(h, w2))).backward();
  EXPECT_EQ(calls, 1);
  const std::vector<double> a = values(w1), b = values(w2), gx = values(x.grad());
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(seen[i], a[i] + b[i]) << "the hook sees the gradient summed over both uses";
    EXPECT_EQ(gx[i], (a[i] + b[i]) * 2.0 * 3.0) << "the doubled gradient flows into mul's backward";
  }
}

TEST_P(Hooks, ALeafHookChangesWhatIsAccumulatedAndWhatGradReturns) {
  const Tensor x = normal({3}).requires_grad_();
  const Tensor w = normal({3});
  autograd::HookHandle handle = autograd::register_hook(x, [](const Tensor& g) { return mul(g, 0.5); });
  sum(mul(x, w)).backward();
  const std::vector<double> ws = values(w);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(values(x.grad())[i], 0.5 * ws[i]);
  const std::vector<Tensor> g = autograd::grad({sum(mul(x, w))}, {x});
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(values(g[0])[i], 0.5 * ws[i]);
  // Removed: the next backward accumulates the plain gradient.
  handle.remove();
  handle.remove();  // twice: a no-op
  x.set_grad(Tensor());
  sum(mul(x, w)).backward();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(values(x.grad())[i], ws[i]);
}

TEST_P(Hooks, AnUndefinedReturnKeepsTheGradientAndHooksRunInOrder) {
  const Tensor x = normal({2}).requires_grad_();
  const Tensor h = mul(x, 1.0);
  std::string order;
  autograd::register_hook(h, [&](const Tensor&) {
    order += "a";
    return Tensor();
  });
  autograd::register_hook(h, [&](const Tensor& g) {
    order += "b";
    return add(g, 1.0);
  });
  autograd::register_hook(h, [&](const Tensor& g) {
    order += "c";
    EXPECT_EQ(values(g)[0], 2.0) << "the third hook sees the second's return";
    return Tensor();
  });
  sum(h).backward();
  EXPECT_EQ(order, "abc");
  EXPECT_EQ(values(x.grad())[0], 2.0);
}

TEST_P(Hooks, PostAccumulateHooksSeeTheUpdatedGrad) {
  const Tensor p = normal({3}).requires_grad_();
  std::vector<std::vector<double>> seen;
  autograd::register_post_accumulate_grad_hook(p, [&](const Tensor& leaf) { seen.push_back(values(leaf.grad())); });
  sum(mul(p, 2.0)).backward();
  sum(mul(p, 3.0)).backward();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::vector<double>(3, 2.0));
  EXPECT_EQ(seen[1], std::vector<double>(3, 5.0)) << "after the second accumulation";
}

TEST_P(Hooks, RefusalsNameTheTensorAndWhatWasExpected) {
  const Tensor plain = normal({2});
  EXPECT_PARITY_ERROR(autograd::register_hook(plain, [](const Tensor& g) { return g; }),
                      {"register_hook:", "does not require grad"});
  const Tensor x = normal({2, 3}).requires_grad_();
  const Tensor h = mul(x, 2.0);
  EXPECT_PARITY_ERROR(autograd::register_post_accumulate_grad_hook(h, [](const Tensor&) {}),
                      {"register_post_accumulate_grad_hook:", "expected a leaf", "computed by an op"});
  autograd::register_hook(h, [](const Tensor& g) { return sum(g, {0}); });
  EXPECT_PARITY_ERROR(sum(h).backward(),
                      {"register_hook:", "output 0 of mul", "shape [3]", "expected the gradient's shape [2, 3]"});
}

TEST_P(Hooks, AnomalyModeNamesTheRuleAndWhereItsOpWasRecorded) {
  const Tensor x = zeros({3}, f64()).requires_grad_();
  {
    autograd::DetectAnomalyGuard anomaly;
    EXPECT_TRUE(autograd::anomaly_mode_enabled());
    const Tensor y = sqrt_recorded_by_a_named_function(x);  // d sqrt / dx = 0.5 / sqrt(0) = infinity
    EXPECT_PARITY_ERROR(y.backward(), {"anomaly mode:", "backward of sqrt", "infinity", "gradient of its input 0",
                                       "recorded at:", "parity::testing::sqrt_recorded_by_a_named_function"});
  }
  EXPECT_FALSE(autograd::anomaly_mode_enabled());
  // Off: no check, the infinity reaches .grad.
  sum(sqrt(x)).backward();
  EXPECT_TRUE(std::isinf(values(x.grad())[0]));
  // Recorded outside, checked inside: the error says how to see where.
  const Tensor y = sum(sqrt(x));
  autograd::DetectAnomalyGuard anomaly;
  EXPECT_PARITY_ERROR(y.backward(), {"backward of sqrt", "recorded outside anomaly mode", "DetectAnomalyGuard"});
}

// ---- module hooks ----

TEST_P(Hooks, ModuleForwardHooksSeeAndMayReplaceTheInputAndOutput) {
  nn::Sequential model{nn::Dense{{.units = 3}}, nn::Activation{"relu"}};
  model.build({4}, {.dtype = kFloat64, .device = device()});
  nn::Module& dense = *model.children()[0].second;
  std::vector<std::string> log;
  autograd::HookHandle pre = dense.register_forward_pre_hook([&](nn::Module& m, const Tensor& in) {
    log.push_back("pre " + m.type_name());
    return mul(in, 2.0);  // the layer sees twice its input
  });
  autograd::HookHandle post = dense.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    log.push_back("post");
    return neg(out);
  });
  const Tensor x = normal({2, 4});
  const std::vector<Tensor> params = dense.parameters();
  const Tensor want = relu(neg(add(matmul(mul(x, 2.0), params[0]), params[1])));
  EXPECT_EQ(values(model.forward(x)), values(want));
  EXPECT_EQ(log, (std::vector<std::string>{"pre Dense", "post"}));
  pre.remove();
  post.remove();
  EXPECT_EQ(values(model.forward(x)), values(relu(add(matmul(x, params[0]), params[1]))));
}

TEST_P(Hooks, AFullBackwardHookGetsTheInputAndOutputGradientsAndMayReplaceTheFirst) {
  nn::Sequential model{nn::Dense{{.units = 3}}, nn::Dense{{.units = 2}}};
  model.build({4}, {.dtype = kFloat64, .device = device()});
  nn::Module& second = *model.children()[1].second;
  Tensor seen_in, seen_out;
  second.register_full_backward_hook([&](nn::Module&, const Tensor& grad_input, const Tensor& grad_output) {
    seen_in = grad_input.clone();
    seen_out = grad_output.clone();
    return mul(grad_input, 0.0);  // nothing reaches the first layer
  });
  const Tensor x = normal({5, 4}), w = normal({5, 2});
  sum(mul(model.forward(x), w)).backward();
  // grad_output is w; grad_input is w @ kernel2^T.
  const Tensor kernel2 = second.parameters()[0];
  EXPECT_EQ(values(seen_out), values(w));
  const std::vector<double> gi = values(seen_in), want = values(matmul(w, kernel2.detach().t()));
  for (std::size_t i = 0; i < gi.size(); ++i) EXPECT_NEAR(gi[i], want[i], 1e-14) << i;
  // The replaced (zero) gradient reached the first layer's parameters.
  for (double g : values(model.children()[0].second->parameters()[0].grad())) EXPECT_EQ(g, 0.0);
  EXPECT_TRUE(second.parameters()[0].grad().defined());
}

TEST_P(Hooks, ABackwardHookOnTheFirstLayerRunsWithoutAnInputGradient) {
  nn::Sequential model{nn::Dense{{.units = 2}}};
  model.build({3}, {.dtype = kFloat64, .device = device()});
  int calls = 0;
  model.register_full_backward_hook([&](nn::Module&, const Tensor& grad_input, const Tensor& grad_output) {
    ++calls;
    EXPECT_FALSE(grad_input.defined()) << "the input needs no gradient";
    EXPECT_EQ(grad_output.shape(), (Shape{4, 2}));
    return Tensor();
  });
  sum(model.forward(normal({4, 3}))).backward();
  EXPECT_EQ(calls, 1);
}

INSTANTIATE_TEST_SUITE_P(Devices, Hooks, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
