// The tape: recording, backward, accumulation, lifetime, grad modes, in-place
// rules, custom functions, on every device.
#include <thread>

#include "test_autograd_util.h"

namespace parity::testing {
namespace {

using autograd::EnableGradGuard;
using autograd::NoGradGuard;
using autograd::TapeScope;

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Expects fn to throw a parity::Error whose message contains every fragment.
template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected a parity::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& f : fragments) {
      EXPECT_NE(message.find(f), std::string::npos) << "message lacks '" << f << "': " << message;
    }
  }
}

class Tape : public AutogradTest {
 protected:
  Tensor leaf(const Shape& shape) { return randn(shape, f64()).requires_grad_(); }
  Tensor tensor(std::vector<double> v, const Shape& shape) { return from_vector<double>(v, shape, device()); }
};

TEST_P(Tape, RecordsOnlyWhenAnInputRequiresGrad) {
  const Tensor a = randn({3}, f64());
  const Tensor b = randn({3}, f64());
  const Tensor c = a * b + a;
  EXPECT_FALSE(c.requires_grad());
  EXPECT_TRUE(c.is_leaf());
  EXPECT_EQ(c.grad_fn(), nullptr);
  const Tensor w = leaf({3});
  const Tensor d = a * w;
  EXPECT_TRUE(d.requires_grad());
  EXPECT_FALSE(d.is_leaf());
  ASSERT_NE(d.grad_fn(), nullptr);
  EXPECT_EQ(d.grad_fn()->name(), "mul");
  EXPECT_TRUE(w.is_leaf());
  // Non-differentiable results don't require grad.
  EXPECT_FALSE(gt(w, 0).requires_grad());
  EXPECT_FALSE(argmax(w).requires_grad());
  // Ops built from other ops record once: one entry (plus the leaf's accumulator).
  const Tensor m = leaf({2, 3, 4});
  const std::int64_t before = autograd::live_node_count();
  const Tensor r1 = matmul(m.select(0, 0), randn({4}, f64()));  // select + matmul
  EXPECT_EQ(autograd::live_node_count() - before, 3);
  const Tensor r2 = sum(m, {0, 2});  // reduces through a permuted copy internally
  EXPECT_EQ(autograd::live_node_count() - before, 4);
  EXPECT_EQ(r2.grad_fn()->name(), "sum");
}

TEST_P(Tape, BackwardFromLeavesAndSeveralRoots) {
  const Tensor x = leaf({3});
  x.backward(full({3}, 2.0, f64()));
  EXPECT_EQ(values(x.grad()), std::vector<double>(3, 2.0));
  const Tensor a = leaf({2});
  const Tensor y1 = a * 3.0;
  const Tensor y2 = sum(a * a);
  autograd::backward({y1, y2}, {ones({2}, f64()), Tensor()});
  const std::vector<double> av = values(a.detach());
  const std::vector<double> g = values(a.grad());
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(g[i], 3 + 2 * av[i], 1e-12);
}

TEST_P(Tape, OperatorsRecordLikeNamedOps) {
  const Tensor x = leaf({2, 3});
  const Tensor y = leaf({3});
  EXPECT_EQ((x + y).grad_fn()->name(), "add");
  EXPECT_EQ((x - 1.0).grad_fn()->name(), "sub");
  EXPECT_EQ((2.0 * x).grad_fn()->name(), "mul");
  EXPECT_EQ((x / y).grad_fn()->name(), "div");
  EXPECT_EQ((-x).grad_fn()->name(), "neg");
  EXPECT_EQ(x.t().grad_fn()->name(), "transpose");
  EXPECT_EQ(x.reshape({6}).grad_fn()->name(), "reshape");
  EXPECT_EQ(sum(x).grad_fn()->name(), "sum");
  const Tensor z = (x * 2.0 + y) / 4.0 - (-x);  // dz/dx = 1/2 + 1 = 1.5, dz/dy = 1/4 per element
  sum(z).backward();
  for (double v : values(x.grad())) EXPECT_DOUBLE_EQ(v, 1.5);
  for (double v : values(y.grad())) EXPECT_DOUBLE_EQ(v, 0.5);  // broadcast over 2 rows
}

TEST_P(Tape, BackwardAccumulatesAcrossUsesAndCalls) {
  const Tensor x = leaf({4});
  auto loss = [&] { return sum(x * x + x); };  // d/dx = 2x + 1
  loss().backward();
  const std::vector<double> xs = values(x);
  std::vector<double> expected(4);
  for (int i = 0; i < 4; ++i) expected[i] = 2 * xs[i] + 1;
  const std::vector<double> g1 = values(x.grad());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(g1[i], expected[i], 1e-12);
  loss().backward();  // adds up until zeroed
  const std::vector<double> g2 = values(x.grad());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(g2[i], 2 * expected[i], 1e-12);
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  EXPECT_EQ(x.grad().device(), device());
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
  loss().backward();
  const std::vector<double> g3 = values(x.grad());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(g3[i], expected[i], 1e-12);
}

TEST_P(Tape, GradIsAPrivateDenseTensor) {
  // sum's gradient is an expanded view of one value; .grad must own its memory.
  const Tensor x = leaf({2, 3});
  sum(x).backward();
  EXPECT_TRUE(x.grad().is_contiguous());
  EXPECT_EQ(values(x.grad()), std::vector<double>(6, 1.0));
  sum(x * 2.0).backward();
  EXPECT_EQ(values(x.grad()), std::vector<double>(6, 3.0));
  // A gradient passed in by the caller is not aliased.
  const Tensor y = leaf({3});
  const Tensor g = tensor({1, 2, 3}, {3});
  (y + 0.0).backward(g);
  sum(y).backward();
  EXPECT_EQ(values(g), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(values(y.grad()), (std::vector<double>{2, 3, 4}));
}

TEST_P(Tape, NonScalarBackwardNeedsAGradient) {
  const Tensor x = leaf({2, 3});
  const Tensor y = x * 3.0;
  expect_error([&] { y.backward(); }, {"one-element", "[2, 3]"});
  expect_error([&] { y.backward(ones({3}, f64())); }, {"shape [3]", "[2, 3]"});
  y.backward(full({2, 3}, 2.0, f64()));
  EXPECT_EQ(values(x.grad()), std::vector<double>(6, 6.0));
  expect_error([&] { randn({1}, f64()).backward(); }, {"does not require grad"});
}

TEST_P(Tape, VisitsOnlyWhatTheOutputDependsOn) {
  const Tensor a = leaf({3});
  const Tensor b = leaf({3});
  const Tensor ya = sum(a * 2.0);
  const Tensor yb = sum(exp(b));
  ya.backward();
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  yb.backward();  // b's graph was neither run nor released by ya.backward()
  EXPECT_TRUE(b.grad().defined());
}

TEST_P(Tape, ReleasedAfterBackwardUnlessRetained) {
  const Tensor x = leaf({3});
  const Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();  // allowed: the first one retained the graph
  const std::vector<double> e = values(exp(x.detach()));
  const std::vector<double> g = values(x.grad());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], 2 * e[i], 1e-12);
  expect_error([&] { y.backward(); }, {"second time", "retain_graph"});
}

TEST_P(Tape, RetainGradKeepsNonLeafGradients) {
  const Tensor x = leaf({3});
  const Tensor h = x * 2.0;
  const Tensor k = h + 1.0;
  h.retain_grad();
  EXPECT_TRUE(h.retains_grad());
  sum(h * h + k).backward();
  ASSERT_TRUE(h.grad().defined());
  const std::vector<double> hv = values(h.detach());
  const std::vector<double> hg = values(h.grad());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(hg[i], 2 * hv[i] + 1, 1e-12);
  EXPECT_FALSE(k.grad().defined());  // not retained
  // The root itself.
  const Tensor r = sum(x * 3.0);
  r.retain_grad();
  r.backward();
  EXPECT_EQ(r.grad().item<double>(), 1.0);
}

TEST_P(Tape, NoGradAndEnableGradGuards) {
  Tensor x = leaf({3});
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(autograd::is_grad_enabled());
    const Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    {
      EnableGradGuard enable;
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
    EXPECT_FALSE((x * 2.0).requires_grad());
    // In-place on a leaf is a plain write here (an optimizer step).
    const std::uint64_t version = x.version();
    x.sub_(1.0);
    EXPECT_GT(x.version(), version);
  }
  EXPECT_TRUE(autograd::is_grad_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
  // Grad mode is per thread.
  bool other_thread_enabled = false;
  {
    NoGradGuard no_grad;
    std::thread t([&] { other_thread_enabled = autograd::is_grad_enabled(); });
    t.join();
  }
  EXPECT_TRUE(other_thread_enabled);
}

TEST_P(Tape, DetachSharesStorageOutsideTheGraph) {
  const Tensor x = leaf({3});
  const Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.storage(), x.storage());
  EXPECT_FALSE((d * 2.0).requires_grad());
  const Tensor y = (x * 2.0).detach();
  EXPECT_FALSE(y.requires_grad());
  // A gradient does not flow through a detached tensor.
  sum(x * d).backward();
  EXPECT_EQ(values(x.grad()), values(d));
}

TEST_P(Tape, RequiresGradFlag) {
  expect_error([&] { randint(0, 5, {3}, {.dtype = kInt64, .device = device()}).requires_grad_(); },
               {"floating"});
  Tensor x = leaf({3});
  Tensor y = x * 2.0;
  expect_error([&] { y.requires_grad_(false); }, {"leaf", "detach"});
  x.requires_grad_(false);
  EXPECT_FALSE((x * 2.0).requires_grad());
  expect_error([&] { x.retain_grad(); }, {"does not require grad"});
}

TEST_P(Tape, InPlaceOnALeafThatRequiresGradIsRefused) {
  Tensor x = leaf({2, 3});
  expect_error([&] { x.add_(1.0); }, {"add_", "leaf", "requires grad", "NoGradGuard"});
  expect_error([&] { x.mul_(x); }, {"mul_", "leaf"});
  expect_error([&] { x.zero_(); }, {"fill_", "leaf"});
  expect_error([&] { x.copy_(zeros({2, 3}, f64())); }, {"copy_", "leaf"});
  expect_error([&] { x.relu_(); }, {"relu_", "leaf"});
}

TEST_P(Tape, InPlaceOnNonLeafRebasesItsHistory) {
  const Tensor x = leaf({3});
  Tensor y = x * 2.0;
  y.mul_(x);  // y = 2x^2
  EXPECT_EQ(y.grad_fn()->name(), "mul");
  sum(y).backward();
  const std::vector<double> xv = values(x.detach());
  const std::vector<double> g = values(x.grad());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], 4 * xv[i], 1e-12);
  // A buffer that needs no grad comes to need it.
  const Tensor w = leaf({3});
  Tensor acc = zeros({3}, f64());
  acc.add_(w);
  acc.add_(w);
  EXPECT_TRUE(acc.requires_grad());
  sum(acc).backward();
  EXPECT_EQ(values(w.grad()), std::vector<double>(3, 2.0));
}

TEST_P(Tape, InPlaceModificationOfASavedTensorIsReportedAtBackward) {
  {
    // exp saves its output; modifying it afterwards is caught, naming both ops.
    const Tensor x = leaf({3});
    Tensor y = exp(x);
    const Tensor loss = sum(y);
    y.add_(1.0);
    expect_error([&] { loss.backward(); }, {"exp", "add_", "modified by an in-place operation"});
  }
  {
    // mul saved its input x; an optimizer-style update of x (under NoGradGuard).
    Tensor x = leaf({3});
    const Tensor w = leaf({3});
    const Tensor loss = sum(x * w);
    {
      NoGradGuard no_grad;
      x.sub_(0.1);
    }
    expect_error([&] { loss.backward(); }, {"mul", "sub_", "input 0"});
  }
  {
    // Through a view of the saved tensor's storage.
    const Tensor x = leaf({4});
    const Tensor base = zeros({4}, f64()) + 1.0;
    const Tensor loss = sum(base * x);
    Tensor part = base.slice(0, 0, 2);
    part.fill_(3.0);
    expect_error([&] { loss.backward(); }, {"mul", "fill_"});
  }
}

TEST_P(Tape, InPlaceOnViewsWhileRecordingIsRefused) {
  const Tensor x = leaf({4});
  Tensor y = x * 2.0;
  Tensor v = y.slice(0, 0, 2);
  expect_error([&] { v.mul_(2.0); }, {"mul_", "view"});
  expect_error([&] { y.mul_(2.0); }, {"mul_", "view"});
  // Once the views are gone the base may be modified.
  v = Tensor();
  y.mul_(2.0);
  sum(y).backward();
  EXPECT_EQ(values(x.grad()), std::vector<double>(4, 4.0));
  // A buffer shared with other tensors cannot start requiring grad.
  Tensor buffer = zeros({4}, f64());
  const Tensor alias = buffer.view({2, 2});
  expect_error([&] { buffer.add_(x); }, {"add_", "share"});
  EXPECT_FALSE(alias.requires_grad());
}

TEST_P(Tape, DeepChainsDoNotOverflowTheStack) {
  constexpr int kDepth = 100000;
  const Tensor x = leaf({2});
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = y * 1.00001;
  sum(y).backward();
  const double expected = std::pow(1.00001, kDepth);
  for (double g : values(x.grad())) EXPECT_NEAR(g, expected, 1e-9 * expected);
  // The first graph's nodes all go with its last tensor.
  const std::int64_t with_first_graph = autograd::live_node_count();
  y = Tensor();
  const std::int64_t before = autograd::live_node_count();
  EXPECT_LE(before, with_first_graph - kDepth);
  // Dropping a deep graph without running backward frees every node. Counted
  // with the first graph already gone, so that its kDepth nodes cannot hide a
  // leak of as many.
  {
    Tensor z = x;
    for (int i = 0; i < kDepth; ++i) z = exp(z * 0.0);
    EXPECT_GE(autograd::live_node_count(), before + 2 * kDepth);  // mul and exp per step, and x's accumulator
  }
  EXPECT_EQ(autograd::live_node_count(), before);
}

// A small training loop: the tape and the allocator must come back to the
// same state after every step.
struct TinyModel {
  Tensor w1, b1, w2;
  TinyModel(Device device) {
    const TensorOptions options{.dtype = kFloat32, .device = device};
    w1 = mul(randn({8, 16}, options), 0.3).requires_grad_();
    b1 = zeros({16}, options).requires_grad_();
    w2 = mul(randn({16, 1}, options), 0.3).requires_grad_();
  }
  Tensor loss(const Tensor& x, const Tensor& y) const {
    const Tensor h = relu(matmul(x, w1) + b1);
    return mean(square(matmul(h, w2) - y));
  }
  void step(float lr) {
    NoGradGuard no_grad;
    for (Tensor* p : {&w1, &b1, &w2}) {
      p->sub_(mul(p->grad(), lr));
      p->set_grad(Tensor());
    }
  }
};

TEST_P(Tape, MemoryDoesNotGrowOverTrainingSteps) {
  TinyModel model(device());
  const TensorOptions options{.dtype = kFloat32, .device = device()};
  const Tensor x = randn({32, 8}, options);
  const Tensor y = randn({32, 1}, options);
  std::int64_t bytes_after_warmup = 0, nodes_after_warmup = 0;
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 1000; ++step) {
    const Tensor loss = model.loss(x, y);
    if (step == 0) first_loss = loss.item<float>();
    last_loss = loss.item<float>();
    loss.backward();
    model.step(0.05f);
    if (step == 9) {
      bytes_after_warmup = memory_stats(device()).allocated_bytes;
      nodes_after_warmup = autograd::live_node_count();
    }
    if (step == 999) {
      EXPECT_EQ(memory_stats(device()).allocated_bytes, bytes_after_warmup);
      EXPECT_EQ(autograd::live_node_count(), nodes_after_warmup);
    }
  }
  EXPECT_LT(last_loss, first_loss);  // it trained
}

TEST_P(Tape, TapeScopeBoundsWhatKeptTensorsHold) {
  TinyModel model(device());
  const TensorOptions options{.dtype = kFloat32, .device = device()};
  const Tensor x = randn({16, 8}, options);
  const Tensor y = randn({16, 1}, options);
  const std::int64_t nodes_before = autograd::live_node_count();
  std::vector<Tensor> history;  // losses kept past their step: without a scope, each holds its graph
  for (int step = 0; step < 50; ++step) {
    Tensor loss = model.loss(x, y);
    loss.backward();
    model.step(0.01f);
    history.push_back(loss);
  }
  const std::int64_t grown = autograd::live_node_count() - nodes_before;
  EXPECT_GT(grown, 50);
  history.clear();
  EXPECT_EQ(autograd::live_node_count(), nodes_before);

  std::int64_t bytes_at_10 = 0;
  for (int step = 0; step < 50; ++step) {
    TapeScope tape;
    Tensor loss = model.loss(x, y);
    loss.backward();
    model.step(0.01f);
    history.push_back(loss);
    EXPECT_GT(tape.size(), 0u);
    if (step == 10) bytes_at_10 = memory_stats(device()).allocated_bytes;
  }
  // Each kept loss holds one released node now, nothing below it.
  EXPECT_LE(autograd::live_node_count() - nodes_before, 50);
  EXPECT_LE(memory_stats(device()).allocated_bytes, bytes_at_10 + 39 * 512);
  expect_error([&] { history.back().backward(); }, {"second time"});
}

TEST_P(Tape, GradFunctionReturnsWithoutAccumulating) {
  const Tensor x = leaf({3});
  const Tensor w = leaf({3});
  const Tensor u = leaf({2});
  const Tensor y = sum(x * w);
  const std::vector<Tensor> g = autograd::grad({y}, {x, w}, {}, {.retain_graph = true});
  EXPECT_EQ(values(g[0]), values(w.detach()));
  EXPECT_EQ(values(g[1]), values(x.detach()));
  EXPECT_FALSE(x.grad().defined());
  expect_error([&] { autograd::grad({y}, {u}, {}, {.retain_graph = true}); }, {"not used", "allow_unused"});
  const std::vector<Tensor> unused =
      autograd::grad({y}, {u}, {}, {.retain_graph = true, .allow_unused = true});
  EXPECT_FALSE(unused[0].defined());
  // With respect to a non-leaf.
  const Tensor h = x * 3.0;
  const Tensor z = sum(h * h);
  const std::vector<Tensor> gh = autograd::grad({z}, {h});
  const std::vector<double> hv = values(h.detach());
  const std::vector<double> ghv = values(gh[0]);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(ghv[i], 2 * hv[i], 1e-12);
}

// ---- custom functions ----

struct Cube : autograd::Function<Cube> {
  static constexpr const char* name = "cube";
  static Tensor forward(autograd::FunctionCtx& ctx, const Tensor& x, double scale) {
    ctx.save_for_backward({x});
    ctx.saved_data["scale"] = scale;
    return mul(mul(mul(x, x), x), scale);
  }
  static std::vector<Tensor> backward(autograd::FunctionCtx& ctx, const std::vector<Tensor>& grads) {
    const Tensor x = ctx.saved_tensors()[0];
    const double scale = std::any_cast<double>(ctx.saved_data.at("scale"));
    return {mul(mul(grads[0], square(x)), 3.0 * scale)};
  }
};

// Two outputs, two tensor inputs: (a + b, a * b).
struct SumAndProduct : autograd::Function<SumAndProduct> {
  static std::vector<Tensor> forward(autograd::FunctionCtx& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return {add(a, b), mul(a, b)};
  }
  static std::vector<Tensor> backward(autograd::FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const std::vector<Tensor> s = ctx.saved_tensors();
    Tensor ga, gb;
    if (ctx.needs_input_grad(0)) ga = add(g[0], mul(g[1], s[1]));
    if (ctx.needs_input_grad(1)) gb = add(g[0], mul(g[1], s[0]));
    return {ga, gb};
  }
};

// Returns its input itself: the output must be a new handle (a view of it).
struct Identity : autograd::Function<Identity> {
  static Tensor forward(autograd::FunctionCtx&, const Tensor& x) { return x; }
  static std::vector<Tensor> backward(autograd::FunctionCtx&, const std::vector<Tensor>& g) { return {g[0]}; }
};

struct WrongArity : autograd::Function<WrongArity> {
  static Tensor forward(autograd::FunctionCtx&, const Tensor& x) { return mul(x, 2.0); }
  static std::vector<Tensor> backward(autograd::FunctionCtx&, const std::vector<Tensor>& g) {
    return {g[0], g[0]};
  }
};

struct WrongShape : autograd::Function<WrongShape> {
  static Tensor forward(autograd::FunctionCtx&, const Tensor& x) { return sum(x); }
  static std::vector<Tensor> backward(autograd::FunctionCtx&, const std::vector<Tensor>& g) { return {g[0]}; }
};

// The natural way to read a saved tensor: a reference into saved_tensors()'s
// result. That vector must outlive the statement (it once was a temporary, and
// the next op ran on a destroyed tensor), across further calls too.
struct ProductByReference : autograd::Function<ProductByReference> {
  static Tensor forward(autograd::FunctionCtx& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return mul(a, b);
  }
  static std::vector<Tensor> backward(autograd::FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];  // a second call leaves `a` valid
    const Tensor scratch = ones({1 << 12});      // an allocation that would reuse a freed tensor's memory
    EXPECT_EQ(scratch.numel(), 1 << 12);
    return {mul(g[0], b), mul(g[0], a)};
  }
};

TEST_P(Tape, SavedTensorsMayBeReadByReference) {
  const Tensor a = leaf({5}), b = leaf({5});
  sum(ProductByReference::apply(a, b)).backward();
  EXPECT_EQ(values(a.grad()), values(b.detach()));
  EXPECT_EQ(values(b.grad()), values(a.detach()));
}

TEST_P(Tape, CustomFunctions) {
  const Tensor x = leaf({3});
  const Tensor y = Cube::apply(x, 2.0);
  EXPECT_EQ(y.grad_fn()->name(), "cube");
  sum(y).backward();
  const std::vector<double> xv = values(x.detach());
  const std::vector<double> g = values(x.grad());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], 6 * xv[i] * xv[i], 1e-12);
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return Cube::apply(in[0], 0.5); }, {leaf({2, 3})});

  // Multiple outputs; one input not requiring grad.
  const Tensor a = leaf({4});
  const Tensor b = randn({4}, f64());
  const std::vector<Tensor> outs = SumAndProduct::apply(a, b);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_TRUE(outs[0].requires_grad());
  sum(outs[1]).backward();  // only the second output: the first gets a zero gradient
  EXPECT_EQ(values(a.grad()), values(b));
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return SumAndProduct::apply(in[0], in[1]); },
                   {leaf({2, 2}), leaf({2, 2})});

  // An output that is an input: a new handle with its own history, a view of the input.
  const Tensor h0 = x * 1.0;
  Tensor same = Identity::apply(h0);
  EXPECT_FALSE(same.is_same(h0));
  EXPECT_EQ(h0.grad_fn()->name(), "mul");
  expect_error([&] { same.add_(1.0); }, {"add_", "view"});

  // Under NoGradGuard nothing is recorded.
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(Cube::apply(x, 1.0).requires_grad());
  }
  // Mistakes in a backward are reported with the function's name.
  expect_error([&] { sum(WrongArity::apply(leaf({2}))).backward(); }, {"WrongArity", "returned 2 gradients"});
  expect_error([&] { WrongShape::apply(leaf({2})).backward(); }, {"WrongShape", "shape"});
  // Saved tensors are version-checked.
  Tensor h = x * 1.0;
  const Tensor c = Cube::apply(h, 1.0);
  h.add_(1.0);
  expect_error([&] { sum(c).backward(); }, {"cube", "add_"});
}

INSTANTIATE_TEST_SUITE_P(Devices, Tape, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
