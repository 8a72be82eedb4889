// gradcheck for every differentiable op of the tensor layer, several shapes
// each, broadcasting and non-contiguous inputs included, on every device.
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "test_autograd_util.h"

namespace parity::testing {
namespace {

using Inputs = std::vector<Tensor>;
using autograd::GradcheckOptions;

class GradcheckOps : public AutogradTest {};

// ---- elementwise: unary ----

TEST_P(GradcheckOps, Unary) {
  enum class Domain { Any, Positive, AwayFromZero };
  const std::vector<std::tuple<UnaryOp, Domain>> ops = {{UnaryOp::Neg, Domain::Any},
                                                        {UnaryOp::Abs, Domain::AwayFromZero},
                                                        {UnaryOp::Sign, Domain::AwayFromZero},
                                                        {UnaryOp::Exp, Domain::Any},
                                                        {UnaryOp::Log, Domain::Positive},
                                                        {UnaryOp::Sqrt, Domain::Positive},
                                                        {UnaryOp::Rsqrt, Domain::Positive},
                                                        {UnaryOp::Square, Domain::Any},
                                                        {UnaryOp::Reciprocal, Domain::AwayFromZero},
                                                        {UnaryOp::Relu, Domain::AwayFromZero},
                                                        {UnaryOp::Sigmoid, Domain::Any},
                                                        {UnaryOp::Tanh, Domain::Any},
                                                        {UnaryOp::Softplus, Domain::Any},
                                                        {UnaryOp::Log1p, Domain::Positive},
                                                        {UnaryOp::Expm1, Domain::Any}};
  const std::vector<std::pair<Shape, bool>> shapes = {
      {{}, true}, {{5}, true}, {{3, 4}, true}, {{2, 3, 4}, false}};
  for (const auto& [op, domain] : ops) {
    for (const auto& [shape, contiguous] : shapes) {
      SCOPED_TRACE(std::string(name(op)) + " " + to_string(shape) + (contiguous ? "" : " non-contiguous"));
      Tensor x = domain == Domain::Positive       ? positive(shape, contiguous)
                 : domain == Domain::AwayFromZero ? away_from_zero(shape, contiguous)
                                                  : normal(shape, contiguous);
      EXPECT_GRADCHECK([op](const Inputs& in) { return unary(op, in[0]); }, {x.requires_grad_()});
    }
  }
}

// ---- elementwise: binary, with broadcasting ----

TEST_P(GradcheckOps, BinaryBroadcasting) {
  const std::vector<std::tuple<Shape, Shape, bool>> shapes = {
      {{3, 4}, {3, 4}, true}, {{3, 4}, {4}, true}, {{2, 1, 3}, {4, 1}, true},
      {{}, {2, 3}, true},     {{3, 1}, {}, true},  {{2, 3, 4}, {3, 4}, false}};
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow,
                      BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::ReluBackward}) {
    for (const auto& [sa, sb, contiguous] : shapes) {
      SCOPED_TRACE(std::string(name(op)) + " " + to_string(sa) + " with " + to_string(sb) +
                   (contiguous ? "" : " non-contiguous"));
      Tensor a = op == BinaryOp::Pow ? positive(sa, contiguous) : normal(sa, contiguous);
      Tensor b = op == BinaryOp::Div ? away_from_zero(sb, contiguous) : normal(sb, contiguous);
      EXPECT_GRADCHECK([op](const Inputs& in) { return binary(op, in[0], in[1]); },
                       {a.requires_grad_(), b.requires_grad_()});
      // One side only.
      EXPECT_GRADCHECK([op](const Inputs& in) { return binary(op, in[0], in[1]); }, {a.detach(), b.detach()},
                       {.inputs = {1}});
    }
  }
}

TEST_P(GradcheckOps, ScalarForms) {
  const Tensor x = normal({3, 4});
  Tensor xp = positive({3, 4}, false);
  Tensor xa = away_from_zero({2, 3});
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"x + 2.5", [](const Tensor& t) { return t + 2.5; }},
      {"2.5 + x", [](const Tensor& t) { return 2.5 + t; }},
      {"x - 1", [](const Tensor& t) { return t - 1; }},
      {"1 - x", [](const Tensor& t) { return 1 - t; }},
      {"x * 3.0", [](const Tensor& t) { return t * 3.0; }},
      {"-2.0 * x", [](const Tensor& t) { return -2.0 * t; }},
      {"x / 4.0", [](const Tensor& t) { return t / 4.0; }},
      {"-x", [](const Tensor& t) { return -t; }},
      {"maximum(x, 0.3)", [](const Tensor& t) { return maximum(t, 0.3); }},
      {"minimum(0.3, x)", [](const Tensor& t) { return minimum(0.3, t); }},
      {"pow(2.5, x)", [](const Tensor& t) { return pow(2.5, t); }},
      {"pow(x, 2)", [](const Tensor& t) { return pow(t, 2); }}};
  for (const auto& [label, fn] : cases) {
    SCOPED_TRACE(label);
    EXPECT_GRADCHECK([fn](const Inputs& in) { return fn(in[0]); }, {x.detach().requires_grad_()});
  }
  EXPECT_GRADCHECK([](const Inputs& in) { return pow(in[0], 2.5); }, {xp.requires_grad_()});
  EXPECT_GRADCHECK([](const Inputs& in) { return pow(in[0], -1.5); }, {xp.detach().requires_grad_()});
  EXPECT_GRADCHECK([](const Inputs& in) { return 3.0 / in[0]; }, {xa.requires_grad_()});
}

TEST_P(GradcheckOps, WhereAndClamp) {
  const Tensor cond = lt(rand({3, 1}, f64()), 0.5);
  const Tensor cond_full = lt(rand({3, 4}, f64()), 0.5);
  EXPECT_GRADCHECK([&](const Inputs& in) { return where(cond_full, in[0], in[1]); },
                   {normal({3, 4}).requires_grad_(), normal({3, 4}, false).requires_grad_()});
  EXPECT_GRADCHECK([&](const Inputs& in) { return where(cond, in[0], in[1]); },
                   {normal({4}).requires_grad_(), normal({3, 4}).requires_grad_()});
  EXPECT_GRADCHECK([&](const Inputs& in) { return where(cond, in[0], in[1]); },
                   {normal({3, 4}).requires_grad_(), normal({}).requires_grad_()});
  for (bool contiguous : {true, false}) {
    EXPECT_GRADCHECK([](const Inputs& in) { return clamp(in[0], -0.5, 0.7); },
                     {normal({4, 5}, contiguous).requires_grad_()});
  }
}

TEST_P(GradcheckOps, CastBetweenFloatDtypes) {
  // Through float32 the finite differences need a wide step and float32 tolerance.
  EXPECT_GRADCHECK([](const Inputs& in) { return mul(in[0].to(kFloat32), 3.0).to(kFloat64); },
                   {normal({3, 4}).requires_grad_()}, {.eps = 1e-2, .atol = 1e-4, .rtol = 1e-4});
  EXPECT_GRADCHECK([](const Inputs& in) { return cast(in[0], kFloat64); }, {normal({3, 4}).requires_grad_()});
  // The gradient of a float32 leaf is float32, even through float64 ops.
  Tensor x = randn({3}, {.device = device()}).requires_grad_();
  sum(x.to(kFloat64)).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(x.grad().device(), device());
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 1, 1}));
}

// ---- reductions ----

TEST_P(GradcheckOps, Reductions) {
  const std::vector<std::pair<Shape, std::vector<std::int64_t>>> cases = {
      {{5}, {}},           {{3, 4}, {}},     {{3, 4}, {0}}, {{3, 4}, {-1}},
      {{2, 3, 4}, {0, 2}}, {{2, 3, 4}, {1}}, {{}, {}}};
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
    for (const auto& [shape, dims] : cases) {
      for (bool keepdim : {false, true}) {
        for (bool contiguous : {true, false}) {
          SCOPED_TRACE(std::string(name(op)) + " " + to_string(shape) + " dims " + to_string(dims) +
                       (keepdim ? " keepdim" : "") + (contiguous ? "" : " non-contiguous"));
          auto fn = [op, dims, keepdim](const Inputs& in) {
            switch (op) {
              case ReduceOp::Sum:
                return sum(in[0], dims, keepdim);
              case ReduceOp::Mean:
                return mean(in[0], dims, keepdim);
              case ReduceOp::Max:
                return max(in[0], dims, keepdim);
              default:
                return min(in[0], dims, keepdim);
            }
          };
          EXPECT_GRADCHECK(fn, {normal(shape, contiguous).requires_grad_()});
        }
      }
    }
  }
}

TEST_P(GradcheckOps, MaxTiesShareTheGradient) {
  Tensor x = from_vector<double>({1, 3, 3, 2}, {4}, device()).requires_grad_();
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 0.5, 0}));
  Tensor a = from_vector<double>({1, 2, 3}, {3}, device()).requires_grad_();
  Tensor b = from_vector<double>({3, 2, 1}, {3}, device()).requires_grad_();
  sum(maximum(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 0.5, 0}));
}

// Note [Gradients at ties and kinks] (parity/autograd/derivatives.cpp), point by point:
// each expected gradient is the value the note prescribes, written out.
// Gradcheck stays away from these points, so only these tests see them.
namespace kinks {
const double kInf = std::numeric_limits<double>::infinity();

// The gradient of sum(weights * f(x)) with respect to x, on the test's device.
std::vector<double> grad_of(const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& x,
                            const std::vector<double>& weights, Device device) {
  Tensor t = from_vector(x, {static_cast<std::int64_t>(x.size())}, device).requires_grad_();
  const Tensor w = from_vector(weights, {static_cast<std::int64_t>(weights.size())}, device);
  sum(mul(f(t), w)).backward();
  return t.grad().to_vector<double>();
}
std::vector<double> grad_of(const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& x,
                            Device device) {
  return grad_of(f, x, std::vector<double>(x.size(), 1.0), device);
}

// got == want, except that a finite non-zero want may differ by 2 ulps (a
// libm value such as log(2), which the device's libm may round otherwise).
// Zeros and infinities, the values the note prescribes, must be exact.
::testing::AssertionResult values_are(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " values, expected " << want.size();
  std::ostringstream bad;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool exact_only = want[i] == 0 || std::isinf(want[i]);
    const bool ok =
        got[i] == want[i] || (!exact_only && std::abs(got[i] - want[i]) <= 4.5e-16 * std::abs(want[i]));
    if (!ok) bad << "\n  [" << i << "]: got " << std::setprecision(17) << got[i] << ", expected " << want[i];
  }
  if (bad.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "gradients differ:" << bad.str();
}
}  // namespace kinks

TEST_P(GradcheckOps, ScalarMaximumAndMinimumTiesShareTheGradient) {
  using kinks::grad_of;
  // The example: sum(maximum([0.3, 1, -1], 0.3)) has gradient 0.5, 1, 0.
  EXPECT_EQ(grad_of([](const Tensor& t) { return maximum(t, 0.3); }, {0.3, 1, -1}, device()),
            (std::vector<double>{0.5, 1, 0}));
  EXPECT_EQ(grad_of([](const Tensor& t) { return maximum(0.3, t); }, {0.3, 1, -1}, device()),
            (std::vector<double>{0.5, 1, 0}));
  EXPECT_EQ(grad_of([](const Tensor& t) { return minimum(t, 0.3); }, {0.3, 1, -1}, device()),
            (std::vector<double>{0.5, 0, 1}));
  EXPECT_EQ(grad_of([](const Tensor& t) { return minimum(0.3, t); }, {0.3, 1, -1}, device()),
            (std::vector<double>{0.5, 0, 1}));
  // Half of the incoming gradient, whatever it is.
  EXPECT_EQ(grad_of([](const Tensor& t) { return maximum(t, 0.0); }, {0, 2, 0}, {6, 5, -3}, device()),
            (std::vector<double>{3, 5, -1.5}));
}

TEST_P(GradcheckOps, ClampPassesTheGradientAtItsBounds) {
  // lo <= x <= hi, bounds included; outside, nothing.
  EXPECT_EQ(kinks::grad_of([](const Tensor& t) { return clamp(t, -0.5, 0.7); }, {-0.5, 0.7, -0.6, 0.8, 0.1},
                           {2, 3, 5, 7, 11}, device()),
            (std::vector<double>{2, 3, 0, 0, 11}));
  // lo == hi: the one point that is both bounds.
  EXPECT_EQ(kinks::grad_of([](const Tensor& t) { return clamp(t, 1, 1); }, {1, 0.5, 2}, device()),
            (std::vector<double>{1, 0, 0}));
}

TEST_P(GradcheckOps, ReluAndAbsHaveZeroDerivativeAtZero) {
  EXPECT_EQ(kinks::grad_of([](const Tensor& t) { return relu(t); }, {0.0, -0.0, 1, -1, 1e-300}, device()),
            (std::vector<double>{0, 0, 1, 0, 1}));
  EXPECT_EQ(
      kinks::grad_of([](const Tensor& t) { return abs(t); }, {0.0, -0.0, 2, -2}, {3, 3, 3, 3}, device()),
      (std::vector<double>{0, 0, 3, -3}));
  EXPECT_EQ(kinks::grad_of([](const Tensor& t) { return sign(t); }, {0.0, 2, -2}, device()),
            (std::vector<double>{0, 0, 0}));
}

TEST_P(GradcheckOps, MinReductionTiesShareTheGradient) {
  Tensor x = from_vector<double>({2, 1, 1, 3}, {4}, device()).requires_grad_();
  min(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 0.5, 0}));
  // Three ties: a third each (1/3 rounded once, as 1.0 / 3 is).
  Tensor y = from_vector<double>({-1, 4, -1, -1}, {4}, device()).requires_grad_();
  mul(min(y), 3.0).backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{1, 0, 1, 1}));
  Tensor z = from_vector<double>({5, 5, 5}, {3}, device()).requires_grad_();
  max(z).backward();
  EXPECT_EQ(z.grad().to_vector<double>(), std::vector<double>(3, 1.0 / 3));
}

// Ties are counted within each reduced group, not over the whole tensor, and
// each group's incoming gradient goes to its own ties.
TEST_P(GradcheckOps, TiesWhenReducingOverChosenDims) {
  // x[2][3]:  [[1, 3, 3],
  //            [2, 2, 0]]
  const std::vector<double> xv{1, 3, 3, 2, 2, 0};
  for (bool keepdim : {false, true}) {
    SCOPED_TRACE(keepdim ? "keepdim" : "no keepdim");
    const Shape row_shape = keepdim ? Shape{2, 1} : Shape{2};
    const Shape col_shape = keepdim ? Shape{1, 3} : Shape{3};
    {  // max over dim 1: row 0 ties at 3, row 1 ties at 2.
      Tensor x = from_vector(xv, {2, 3}, device()).requires_grad_();
      max(x, {1}, keepdim).backward(from_vector<double>({10, 100}, row_shape, device()));
      EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 5, 5, 50, 50, 0}));
    }
    {  // min over dim 1: row 0 has one minimum (1), row 1 one (0).
      Tensor x = from_vector(xv, {2, 3}, device()).requires_grad_();
      min(x, {-1}, keepdim).backward(from_vector<double>({10, 100}, row_shape, device()));
      EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{10, 0, 0, 0, 0, 100}));
    }
    {  // min over dim 0: columns (1, 2), (3, 2), (3, 0): no ties; max over dim 0 likewise.
      Tensor x = from_vector(xv, {2, 3}, device()).requires_grad_();
      min(x, {0}, keepdim).backward(from_vector<double>({1, 2, 4}, col_shape, device()));
      EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 0, 0, 0, 2, 4}));
    }
  }
  // Two of three dims reduced: x[2][2][2], groups x[:, j, :] for j = 0, 1.
  //   j = 0: {4, 4, 1, 4} (three ties at 4);  j = 1: {7, 0, 0, 7} (two ties at 7)
  Tensor x = from_vector<double>({4, 4, 7, 0, 1, 4, 0, 7}, {2, 2, 2}, device()).requires_grad_();
  max(x, {0, 2}).backward(from_vector<double>({3, 8}, {2}, device()));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 4, 0, 0, 1, 0, 4}));
}

// pow(a, b): d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0;
// elsewhere the formulas b a^(b-1) and a^b log(a), at a = 0 too.
TEST_P(GradcheckOps, PowAtZeroBaseAndZeroExponent) {
  using kinks::kInf;
  //                                   a:  0  0  0  2   0   3
  //                                   b:  0  2  1  0  -1  0.5
  const std::vector<double> av{0, 0, 0, 2, 0, 3}, bv{0, 2, 1, 0, -1, 0.5};
  Tensor a = from_vector(av, {6}, device()).requires_grad_();
  Tensor b = from_vector(bv, {6}, device()).requires_grad_();
  sum(pow(a, b)).backward();
  EXPECT_TRUE(kinks::values_are(a.grad().to_vector<double>(), {0, 0, 1, 0, -kInf, 0.5 / std::sqrt(3.0)}));
  EXPECT_TRUE(kinks::values_are(b.grad().to_vector<double>(),
                                {0, 0, 0, std::log(2.0), -kInf, std::sqrt(3.0) * std::log(3.0)}));
  using kinks::grad_of;
  // x^s: 0 everywhere when s == 0 (at x = 0 too); s x^(s-1) otherwise.
  EXPECT_EQ(grad_of([](const Tensor& t) { return pow(t, 0); }, {0, 2, -3}, device()),
            (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(grad_of([](const Tensor& t) { return pow(t, 1); }, {0, 2}, device()),
            (std::vector<double>{1, 1}));
  EXPECT_EQ(grad_of([](const Tensor& t) { return pow(t, 2); }, {0, 2}, device()),
            (std::vector<double>{0, 4}));
  // s^x: 0 when s == 0 (x >= 0); s^x log(s) otherwise.
  EXPECT_EQ(grad_of([](const Tensor& t) { return pow(0.0, t); }, {0, 1, 2.5}, device()),
            (std::vector<double>{0, 0, 0}));
  EXPECT_TRUE(kinks::values_are(grad_of([](const Tensor& t) { return pow(2.0, t); }, {0, 1}, device()),
                                {std::log(2.0), 2 * std::log(2.0)}));
}

// ---- matmul ----

TEST_P(GradcheckOps, Matmul) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {4, 5}},    {{2, 3, 4}, {2, 4, 5}}, {{2, 1, 3, 4}, {3, 4, 2}},
      {{3, 4}, {2, 4, 5}}, {{4}, {4, 5}},          {{3, 4}, {4}},
      {{4}, {4}},          {{2, 3, 4}, {4}},       {{4}, {2, 4, 3}}};
  for (const auto& [sa, sb] : shapes) {
    SCOPED_TRACE(to_string(sa) + " @ " + to_string(sb));
    EXPECT_GRADCHECK([](const Inputs& in) { return matmul(in[0], in[1]); },
                     {normal(sa).requires_grad_(), normal(sb).requires_grad_()});
  }
  // Transposed (non-contiguous) operands.
  EXPECT_GRADCHECK([](const Inputs& in) { return matmul(in[0].t(), in[1].transpose(0, 1)); },
                   {normal({4, 3}).requires_grad_(), normal({5, 4}).requires_grad_()});
  EXPECT_GRADCHECK([](const Inputs& in) { return matmul(in[0], in[1]); },
                   {normal({3, 4}, false).requires_grad_(), normal({4, 2}, false).requires_grad_()});
}

// ---- views and copies ----

TEST_P(GradcheckOps, Views) {
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"reshape",
       [](const Tensor& t) {
         return t.reshape({4, 6});
       }},
      {"reshape -1", [](const Tensor& t) { return t.reshape({-1}); }},
      {"view",
       [](const Tensor& t) {
         return t.contiguous().view({6, 4});
       }},
      {"permute",
       [](const Tensor& t) {
         return t.permute({2, 0, 1});
       }},
      {"transpose", [](const Tensor& t) { return t.transpose(0, 2); }},
      {"t", [](const Tensor& t) { return t.select(0, 1).t(); }},
      {"slice", [](const Tensor& t) { return t.slice(2, 1, 4); }},
      {"slice step", [](const Tensor& t) { return t.slice(1, 0, 3, 2); }},
      {"narrow", [](const Tensor& t) { return t.narrow(2, 1, 2); }},
      {"select", [](const Tensor& t) { return t.select(1, -1); }},
      {"expand",
       [](const Tensor& t) {
         return t.slice(1, 0, 1).expand({2, 5, 4});
       }},
      {"expand new dims",
       [](const Tensor& t) {
         return t.select(0, 0).expand({3, 3, 4});
       }},
      {"broadcast_to",
       [](const Tensor& t) {
         return t.narrow(0, 0, 1).broadcast_to({2, 2, 3, 4});
       }},
      {"squeeze", [](const Tensor& t) { return t.narrow(1, 1, 1).squeeze(); }},
      {"squeeze dim", [](const Tensor& t) { return t.narrow(1, 1, 1).squeeze(1); }},
      {"unsqueeze", [](const Tensor& t) { return t.unsqueeze(1); }},
      {"flatten", [](const Tensor& t) { return t.flatten(1); }},
      {"contiguous", [](const Tensor& t) { return t.transpose(0, 1).contiguous(); }},
      {"clone", [](const Tensor& t) { return t.clone(); }},
      {"chain", [](const Tensor& t) {
         return t.permute({1, 2, 0}).reshape({3, 8}).slice(1, 1, 7, 3) * 2.0;
       }}};
  for (bool contiguous : {true, false}) {
    for (const auto& [label, fn] : cases) {
      SCOPED_TRACE(label + (contiguous ? "" : " (non-contiguous input)"));
      EXPECT_GRADCHECK([fn](const Inputs& in) { return fn(in[0]); },
                       {normal({2, 3, 4}, contiguous).requires_grad_()});
    }
  }
}

TEST_P(GradcheckOps, ToDevice) {
  if (device().is_cpu()) GTEST_SKIP() << "to(Device) across devices needs a CUDA device";
  EXPECT_GRADCHECK([](const Inputs& in) { return mul(in[0].to(Device::cpu()), 2.0).to(in[0].device()); },
                   {normal({3, 4}).requires_grad_()});
}

// ---- in-place ops on tensors that are not leaves ----

TEST_P(GradcheckOps, InPlaceOnNonLeaves) {
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&, const Tensor&)>>> cases = {
      {"add_",
       [](const Tensor& x, const Tensor& w) {
         Tensor y = x * 2.0;
         y.add_(w);
         return y;
       }},
      {"sub_ scalar",
       [](const Tensor& x, const Tensor&) {
         Tensor y = x * 2.0;
         y.sub_(1.5);
         return y;
       }},
      {"mul_",
       [](const Tensor& x, const Tensor& w) {
         Tensor y = x * 1.0;
         y.mul_(w);
         return y;
       }},
      {"mul_ scalar",
       [](const Tensor& x, const Tensor&) {
         Tensor y = x + 0.0;
         y.mul_(3.0);
         return y;
       }},
      {"div_",
       [](const Tensor& x, const Tensor& w) {
         Tensor y = x * w;
         y.div_(add(square(w), 1.0));
         return y;
       }},
      {"pow_",
       [](const Tensor& x, const Tensor&) {
         Tensor y = square(x) + 1.0;
         y.pow_(1.5);
         return y;
       }},
      {"exp_ then log_",
       [](const Tensor& x, const Tensor&) {
         Tensor y = x * 0.5;
         y.exp_();
         y.log_();
         y.exp_();
         return y;
       }},
      {"neg_ abs_ sqrt_",
       [](const Tensor& x, const Tensor&) {
         Tensor y = x + 0.0;
         y.neg_();
         y.abs_();
         y.sqrt_();
         return y * x;
       }},
      {"relu_",
       [](const Tensor& x, const Tensor& w) {
         Tensor y = x * w;
         y.relu_();
         return y;
       }},
      {"clamp_",
       [](const Tensor& x, const Tensor&) {
         Tensor y = x * 1.0;
         y.clamp_(-0.5, 0.5);
         return y;
       }},
      {"copy_ from a tensor that requires grad",
       [](const Tensor& x, const Tensor& w) {
         Tensor buffer = zeros_like(w);
         buffer.copy_(w * x);
         return buffer;
       }},
      {"add_ into a buffer that does not",
       [](const Tensor& x, const Tensor& w) {
         Tensor acc = zeros_like(x);
         acc.add_(x);
         acc.mul_(w);
         return acc;
       }},
      {"fill_ then add_", [](const Tensor& x, const Tensor& w) {
         Tensor y = x * 2.0;
         y.fill_(1.0);
         y.add_(w);
         return y;
       }}};
  for (const auto& [label, fn] : cases) {
    SCOPED_TRACE(label);
    EXPECT_GRADCHECK([fn](const Inputs& in) { return fn(in[0], in[1]); },
                     {away_from_zero({3, 4}).requires_grad_(), away_from_zero({3, 4}).requires_grad_()});
  }
}

// ---- a composite: what a small model computes ----

TEST_P(GradcheckOps, SmallNetwork) {
  auto net = [](const Inputs& in) {
    const Tensor& x = in[0];
    const Tensor& w1 = in[1];
    const Tensor& b1 = in[2];
    const Tensor& w2 = in[3];
    Tensor h = tanh(matmul(x, w1) + b1);
    Tensor logits = matmul(h, w2);
    Tensor z = logits - max(logits, {1}, true);
    Tensor lse = log(sum(exp(z), {1}, true));
    return mean(square(z - lse));
  };
  EXPECT_GRADCHECK(net, {normal({4, 3}), normal({3, 5}).requires_grad_(), normal({5}).requires_grad_(),
                         normal({5, 2}).requires_grad_()});
  EXPECT_FLOAT32_GRADIENT(net, {normal({4, 3}), normal({3, 5}).requires_grad_(), normal({5}).requires_grad_(),
                                normal({5, 2}).requires_grad_()});
}

INSTANTIATE_TEST_SUITE_P(Devices, GradcheckOps, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
