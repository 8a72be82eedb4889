// Tests of gradcheck itself: it must fail, and say where, when a backward is wrong.
#include <gtest/gtest-spi.h>

#include <sstream>

#include "test_autograd_util.h"

namespace parity::testing {
namespace {

using autograd::FunctionCtx;
using autograd::GradcheckOptions;
using autograd::GradcheckReport;
using Inputs = std::vector<Tensor>;

// y = x^2 elementwise, with a backward that is wrong at one element of x:
// three times the true gradient at flat index kWrong.
constexpr std::int64_t kWrong = 6;  // [1, 2] in a [3, 4] tensor

struct SquareWrongAtOneElement : autograd::Function<SquareWrongAtOneElement> {
  static constexpr const char* name = "square_wrong_at_one_element";
  static Tensor forward(FunctionCtx& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return mul(x, x);
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor x = ctx.saved_tensors()[0];
    Tensor scale = ones(x.shape(), {.dtype = x.dtype(), .device = x.device()});
    scale.reshape({-1}).select(0, kWrong).fill_(3.0);
    return {mul(mul(mul(g[0], x), 2.0), scale)};
  }
};

// a * b with a correct gradient for a and a wrong one (sign flipped) for b.
struct MulWrongForB : autograd::Function<MulWrongForB> {
  static Tensor forward(FunctionCtx& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return mul(a, b);
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const std::vector<Tensor> s = ctx.saved_tensors();
    return {mul(g[0], s[1]), neg(mul(g[0], s[0]))};
  }
};

// Exact in float64, off by 1% in float32: what the float32 check must catch.
struct WrongInFloat32 : autograd::Function<WrongInFloat32> {
  static Tensor forward(FunctionCtx& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return mul(x, x);
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor x = ctx.saved_tensors()[0];
    const double bias = x.dtype() == kFloat32 ? 1.01 : 1.0;
    return {mul(mul(g[0], x), 2.0 * bias)};
  }
};

// k x^3 with its correct gradient, and a non-tensor argument (k).
struct ScaledCube : autograd::Function<ScaledCube> {
  static constexpr const char* name = "scaled_cube";
  static Tensor forward(FunctionCtx& ctx, const Tensor& x, double k) {
    ctx.save_for_backward({x});
    ctx.saved_data["k"] = k;
    return mul(mul(mul(x, x), x), k);
  }
  static std::vector<Tensor> backward(FunctionCtx& ctx, const std::vector<Tensor>& g) {
    const Tensor x = ctx.saved_tensors()[0];
    return {mul(mul(g[0], mul(x, x)), 3.0 * std::any_cast<double>(ctx.saved_data["k"]))};
  }
};

class Gradcheck : public AutogradTest {};

// Note [Gradcheck names the culprit]: in a composite of built-in ops and two
// custom functions, one right and one wrong, the report names the wrong one
// (which call, and that call's own worst entry).
TEST_P(Gradcheck, NamesTheCustomFunctionWhoseBackwardIsWrongInAComposite) {
  const Tensor x = normal({3, 4}).requires_grad_();
  const Tensor y = normal({3, 4}).requires_grad_();
  const autograd::GradcheckReport report = autograd::gradcheck(
      [](const Inputs& in) {
        const Tensor cube = ScaledCube::apply(tanh(in[0]), 0.5);
        const Tensor product = MulWrongForB::apply(exp(mul(in[0], 0.1)), in[1]);
        return sum(add(cube, product));
      },
      {x, y});
  ASSERT_FALSE(report.ok);
  EXPECT_NE(report.culprit.find("MulWrongForB"), std::string::npos) << report.culprit;
  EXPECT_NE(report.culprit.find("call 2 of 2"), std::string::npos) << report.culprit;
  EXPECT_NE(report.culprit.find("fails on its own"), std::string::npos) << report.culprit;
  std::ostringstream text;
  text << report;
  EXPECT_NE(text.str().find("MulWrongForB"), std::string::npos) << text.str();

  // The right one alone in a composite passes, and a failure in the first call is named as such.
  EXPECT_TRUE(autograd::gradcheck([](const Inputs& in) { return sum(ScaledCube::apply(tanh(in[0]), 0.5)); }, {x}).ok);
  const autograd::GradcheckReport first = autograd::gradcheck(
      [](const Inputs& in) {
        const Tensor wrong = SquareWrongAtOneElement::apply(in[0]);  // called first (an argument list has no order)
        return add(wrong, ScaledCube::apply(in[0], 2.0));
      },
      {x});
  ASSERT_FALSE(first.ok);
  EXPECT_NE(first.culprit.find("square_wrong_at_one_element (call 1 of 2"), std::string::npos) << first.culprit;
  // Turned off, nothing is searched.
  EXPECT_TRUE(autograd::gradcheck([](const Inputs& in) { return SquareWrongAtOneElement::apply(in[0]); }, {x},
                                  {.find_culprit = false})
                  .culprit.empty());
}

TEST_P(Gradcheck, FailsOnAWrongBackwardAndNamesTheElement) {
  const Tensor x = away_from_zero({3, 4}).requires_grad_();
  const GradcheckReport report =
      autograd::gradcheck([](const Inputs& in) { return SquareWrongAtOneElement::apply(in[0]); }, {x});
  EXPECT_FALSE(report.ok) << report;
  EXPECT_TRUE(report.error.empty()) << report.error;
  EXPECT_EQ(report.output, 0);
  EXPECT_EQ(report.output_element, kWrong);
  EXPECT_EQ(report.output_index, (Shape{1, 2}));
  EXPECT_EQ(report.input, 0);
  EXPECT_EQ(report.input_element, kWrong);
  EXPECT_EQ(report.input_index, (Shape{1, 2}));
  const double xv = x.detach().reshape({-1}).select(0, kWrong).item<double>();
  EXPECT_NEAR(report.analytical, 6 * xv, 1e-9);
  EXPECT_NEAR(report.numerical, 2 * xv, 1e-6);
  EXPECT_NEAR(report.abs_error, 4 * std::abs(xv), 1e-6);
  EXPECT_NEAR(report.rel_error, 2.0, 1e-6);
  EXPECT_EQ(report.checked, 12 * 12);
  std::ostringstream text;
  text << report;
  EXPECT_NE(text.str().find("FAILED"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("output 0[1, 2]"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("input 0[1, 2]"), std::string::npos) << text.str();
}

// A float32 input is checked as a float64 copy, and the report says so.
TEST_P(Gradcheck, SaysWhenItRanFloat32InputsAsFloat64) {
  const Tensor a = randn({2, 3}, {.dtype = kFloat32, .device = device()}).requires_grad_();
  const Tensor b = normal({2, 3}).requires_grad_();
  const GradcheckReport report = autograd::gradcheck([](const Inputs& in) { return mul(in[0], in[1]); },
                                                     {a, b.to(kFloat32).detach().requires_grad_()});
  EXPECT_TRUE(report.ok) << report;
  EXPECT_EQ(report.promoted_inputs, (std::vector<int>{0, 1}));
  std::ostringstream text;
  text << report;
  EXPECT_NE(text.str().find("inputs 0, 1 were float32 and ran as float64"), std::string::npos) << text.str();
  // float64 inputs: nothing to say.
  std::ostringstream plain;
  plain << autograd::gradcheck([](const Inputs& in) { return mul(in[0], in[0]); }, {b});
  EXPECT_EQ(plain.str().find("float32"), std::string::npos) << plain.str();
}

TEST_P(Gradcheck, NamesTheInputWhoseGradientIsWrong) {
  const Inputs inputs = {normal({2, 3}).requires_grad_(), normal({2, 3}).requires_grad_()};
  auto fn = [](const Inputs& in) { return MulWrongForB::apply(in[0], in[1]); };
  const GradcheckReport report = autograd::gradcheck(fn, inputs);
  EXPECT_FALSE(report.ok) << report;
  EXPECT_EQ(report.input, 1);
  EXPECT_EQ(report.output_element, report.input_element);  // the Jacobian is diagonal
  // Checking only input 0 passes: options.inputs selects what is checked.
  EXPECT_TRUE(autograd::gradcheck(fn, inputs, {.inputs = {0}}).ok);
  // So does a tolerance wide enough to hide the error.
  EXPECT_TRUE(autograd::gradcheck(fn, inputs, {.atol = 100.0}).ok);
}

TEST_P(Gradcheck, FastModeFindsWrongGradientsInLargeInputs) {
  Tensor a = normal({40, 50}).requires_grad_();
  Tensor b = normal({50, 30}).requires_grad_();
  const GradcheckReport good = autograd::gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); },
                                                   {a, b}, {.fast_mode = true, .seed = 7});
  EXPECT_TRUE(good.ok) << good;
  EXPECT_EQ(good.checked, 2 * 3);
  const GradcheckReport bad = autograd::gradcheck(
      [](const Inputs& in) { return MulWrongForB::apply(in[0], in[1]); },
      {normal({40, 50}).requires_grad_(), normal({40, 50}).requires_grad_()}, {.fast_mode = true});
  EXPECT_FALSE(bad.ok) << bad;
  EXPECT_EQ(bad.input, 1);
  std::ostringstream text;
  text << bad;
  EXPECT_NE(text.str().find("fast mode"), std::string::npos) << text.str();
}

TEST_P(Gradcheck, CapsTheCheckedElements) {
  const GradcheckReport report = autograd::gradcheck(
      [](const Inputs& in) { return exp(in[0]); }, {normal({10, 10}).requires_grad_()}, {.max_elements = 7});
  EXPECT_TRUE(report.ok) << report;
  EXPECT_EQ(report.checked, 7 * 7);
}

TEST_P(Gradcheck, KeepsNonContiguousInputsNonContiguous) {
  const Tensor x = normal({3, 4}, /*contiguous=*/false).requires_grad_();
  ASSERT_FALSE(x.is_contiguous());
  bool saw_contiguous = false;
  const GradcheckReport report = autograd::gradcheck(
      [&](const Inputs& in) {
        saw_contiguous = saw_contiguous || in[0].is_contiguous();
        return sum(square(in[0]), {1});
      },
      {x});
  EXPECT_TRUE(report.ok) << report;
  EXPECT_FALSE(saw_contiguous);
  // The caller's tensor is left as it was, and stays a leaf.
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(x.grad().defined());
}

TEST_P(Gradcheck, ReportsAFunctionThatThrows) {
  const GradcheckReport report = autograd::gradcheck(
      [](const Inputs& in) { return add(in[0], ones({5}, {.dtype = kFloat64, .device = in[0].device()})); },
      {normal({3}).requires_grad_()});
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.error.find("add"), std::string::npos) << report.error;
  std::ostringstream text;
  text << report;
  EXPECT_NE(text.str().find("could not run"), std::string::npos);
}

TEST_P(Gradcheck, Float32AgreesWithFloat64) {
  auto good = [](const Inputs& in) { return sum(tanh(matmul(in[0], in[1])), {0}); };
  const Inputs inputs = {normal({4, 5}).requires_grad_(), normal({5, 3}).requires_grad_()};
  const GradcheckReport ok = autograd::check_float32_gradient(good, inputs);
  EXPECT_TRUE(ok.ok) << ok;
  EXPECT_EQ(ok.checked, 20 + 15);
  const GradcheckReport bad = autograd::check_float32_gradient(
      [](const Inputs& in) { return WrongInFloat32::apply(in[0]); }, {away_from_zero({6}).requires_grad_()});
  EXPECT_FALSE(bad.ok) << bad;
  EXPECT_EQ(bad.input, 0);
  EXPECT_NEAR(bad.rel_error, 0.01, 1e-4);
  // The float64 version of that function is right: gradcheck passes on it.
  EXPECT_GRADCHECK([](const Inputs& in) { return WrongInFloat32::apply(in[0]); },
                   {away_from_zero({6}).requires_grad_()});
}

TEST_P(Gradcheck, MultipleOutputsAndFloat32Inputs) {
  // Float32 inputs are checked in float64; every output is compared.
  const Tensor x = randn({3}, {.dtype = kFloat32, .device = device()}).requires_grad_();
  const GradcheckReport report = autograd::gradcheck(
      [](const Inputs& in) {
        return std::vector<Tensor>{exp(in[0]), sum(square(in[0]))};
      },
      {x});
  EXPECT_TRUE(report.ok) << report;
  EXPECT_EQ(report.checked, 3 * 3 + 3);
}

// EXPECT_GRADCHECK fails the test and prints the report.
void expect_gradcheck_on_wrong_backward() {
  EXPECT_GRADCHECK([](const Inputs& in) { return SquareWrongAtOneElement::apply(in[0]); },
                   {randn({3, 4}, {.dtype = kFloat64}).requires_grad_()});
}

TEST(GradcheckMacro, FailsWithTheReport) {
  EXPECT_NONFATAL_FAILURE(expect_gradcheck_on_wrong_backward(), "gradcheck FAILED");
  EXPECT_NONFATAL_FAILURE(expect_gradcheck_on_wrong_backward(), "d output 0[1, 2] / d input 0[1, 2]");
}

INSTANTIATE_TEST_SUITE_P(Devices, Gradcheck, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
