// softplus(x) = log(1 + exp(x)), the op CONTRIBUTING.md's "How to add an
// elementwise op" walks through, added by following that recipe to the letter:
// its enum value and name (tensor/op_kinds.h), its functor and visit case
// (tensor/functors.h; its math in tensor/portable_math.h), its public function (tensor/ops.h) and its gradient rule
// (autograd/derivatives.cpp). This suite checks the result of those four places
// on every device: the values against a float64 reference, the ends where the
// textbook formula overflows or cancels, the gradient by finite differences, and
// the error for a dtype the op does not take. (It is in the shared unary tables
// of test_ops_elementwise.cpp and test_autograd_ops.cpp too.)
#include <cmath>
#include <limits>
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

// The float64 reference: the textbook formula, exact enough in float64 over
// |x| <= 100 (exp(100) is 2.7e43, far from float64's overflow).
double ref_softplus(double x) { return std::log1p(std::exp(x)); }

class Softplus : public AutogradTest {};

TEST_P(Softplus, MatchesTheFloat64ReferenceWithin4Ulps) {
  // 4 ulps: float32's softplus is correctly rounded, float64's within 4 ulps
  // (docs/NUMERICS.md, "Same bits on every device"); the same on every device.
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    // [-80, 80]: float32's softplus stays a normal number (exp(-80) = 1.8e-35).
    const Ref x = random_ref(rng, {3, 1000}, dtype, -80, 80);
    const Tensor got = softplus(to_tensor(x, device()));
    EXPECT_TRUE(matches(got, ref_map(x, dtype, ref_softplus), ulps(4)));
    // And a non-contiguous view of the same values.
    const Tensor strided = softplus(to_tensor(x, device()).t());
    EXPECT_TRUE(matches(strided, ref_map(ref_permute(x, {1, 0}), dtype, ref_softplus), ulps(4)));
  }
}

TEST_P(Softplus, StaysFiniteWhereTheTextbookFormulaOverflowsOrCancels) {
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const double inf = std::numeric_limits<double>::infinity();
    // log(1 + exp(x)) is inf in float32 from x = 89 (exp overflows), and 0 below
    // x = -17 (1 + exp(x) rounds to 1); softplus is x and exp(x) there.
    const std::vector<double> in = {100.0, 1e30, -30.0, -1e30, inf, -inf, 0.0};
    const Tensor x = from_vector(in, {7}, device()).to(dtype);
    const std::vector<double> got = softplus(x).to(kFloat64).to_vector<double>();
    EXPECT_EQ(got[0], dtype == kFloat32 ? static_cast<double>(100.0f) : 100.0);
    EXPECT_EQ(got[1], dtype == kFloat32 ? static_cast<double>(1e30f) : 1e30);
    const double want = round_to(ref_softplus(-30.0), dtype);  // 9.36e-14, where 1 + exp(-30) is 1 in float32
    EXPECT_NEAR(got[2], want, 4 * want * (dtype == kFloat32 ? 1.2e-7 : 2.3e-16));
    EXPECT_EQ(got[3], 0.0);
    EXPECT_EQ(got[4], inf);
    EXPECT_EQ(got[5], 0.0);
    EXPECT_NEAR(got[6], std::log(2.0), dtype == kFloat32 ? 1e-7 : 1e-16);
  }
  const Tensor nan = full({2}, std::numeric_limits<double>::quiet_NaN(), f64());
  for (double v : softplus(nan).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
}

TEST_P(Softplus, GradientIsTheSigmoidByFiniteDifferences) {
  // Contiguous and strided, values past the kink of max(x, 0) on both sides.
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return softplus(in[0]); },
                   {mul(normal({4, 5}), 3.0).requires_grad_()});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return softplus(in[0]); },
                   {normal({3, 4}, false).requires_grad_()});
  // And the rule's value itself: d softplus / dx = sigmoid(x).
  const Tensor x = mul(normal({6}), 5.0).requires_grad_();
  sum(softplus(x)).backward();
  const std::vector<double> g = x.grad().to_vector<double>(), xs = x.detach().to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], 1.0 / (1.0 + std::exp(-xs[i])), 1e-15) << i;
}

TEST_P(Softplus, RefusesIntegersNamingTheOpAndTheDtypes) {
  EXPECT_PARITY_ERROR(softplus(ones({3}, {.dtype = kInt32, .device = device()})),
                      {"softplus:", "float32 or float64", "int32"});
}

INSTANTIATE_TEST_SUITE_P(Devices, Softplus, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
