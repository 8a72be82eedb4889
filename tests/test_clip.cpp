// Gradient clipping (parity/optim/clip.h) on every device, against a float64
// host reference of the norm and the scaled gradients.
#include <cmath>
#include <limits>
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class Clip : public AutogradTest {
 protected:
  // Parameters whose gradients are random, of both dtypes, one without a gradient.
  std::vector<Tensor> params_with_grads(double scale) {
    std::vector<Tensor> params;
    for (const Shape& shape : {Shape{3, 4}, Shape{5}, Shape{2, 2, 2}}) {
      Tensor p = zeros(shape, f64()).requires_grad_();
      p.set_grad(mul(randn(shape, f64()), scale));
      params.push_back(p);
    }
    Tensor p32 = zeros({6}, {.dtype = kFloat32, .device = device()}).requires_grad_();
    p32.set_grad(mul(randn({6}, {.dtype = kFloat32, .device = device()}), scale));
    params.push_back(p32);
    params.push_back(zeros({4}, f64()).requires_grad_());  // no gradient: skipped
    return params;
  }
};

std::vector<std::vector<double>> grads_of(const std::vector<Tensor>& params) {
  std::vector<std::vector<double>> out;
  for (const Tensor& p : params) out.push_back(p.grad().defined() ? p.grad().to_vector<double>() : std::vector<double>{});
  return out;
}

double ref_norm(const std::vector<std::vector<double>>& grads, double p) {
  double total = 0;
  for (const auto& g : grads) {
    for (double v : g) total = std::isinf(p) ? std::max(total, std::abs(v)) : total + std::pow(std::abs(v), p);
  }
  return std::isinf(p) ? total : std::pow(total, 1.0 / p);
}

TEST_P(Clip, NormMatchesTheReferenceAndScalesEveryGradientByTheSameCoefficient) {
  const double inf = std::numeric_limits<double>::infinity();
  for (const double p : {2.0, 1.0, 3.0, inf}) {
    SCOPED_TRACE("norm_type " + std::to_string(p));
    std::vector<Tensor> params = params_with_grads(10.0);
    const auto before = grads_of(params);
    const double want = ref_norm(before, p);
    const double got = optim::clip_grad_norm(params, 1.5, p);
    EXPECT_NEAR(got, want, 1e-12 * want);
    const double coef = 1.5 / (want + 1e-6);
    ASSERT_LT(coef, 1.0);
    const auto after = grads_of(params);
    for (std::size_t i = 0; i < before.size(); ++i) {
      const bool f32 = params[i].dtype() == kFloat32;
      for (std::size_t j = 0; j < before[i].size(); ++j) {
        const double scaled = before[i][j] * (f32 ? static_cast<double>(static_cast<float>(coef)) : coef);
        EXPECT_NEAR(after[i][j], f32 ? static_cast<double>(static_cast<float>(scaled)) : scaled,
                    1e-15 * std::abs(scaled));
      }
    }
    EXPECT_FALSE(params.back().grad().defined());
    EXPECT_NEAR(ref_norm(after, p), 1.5, 1e-5) << "the joint norm is max_norm afterwards";
  }
}

TEST_P(Clip, BelowTheMaxNormGradientsKeepTheirBits) {
  std::vector<Tensor> params = params_with_grads(0.01);
  const auto before = grads_of(params);
  const double norm = optim::clip_grad_norm(params, 100.0);
  EXPECT_NEAR(norm, ref_norm(before, 2.0), 1e-12 * norm);
  EXPECT_EQ(grads_of(params), before);
}

TEST_P(Clip, ANonFiniteNormIsReturnedAndTheGradientsLeftAsTheyAre) {
  std::vector<Tensor> params = params_with_grads(1.0);
  Tensor g = params[1].grad();
  g.narrow(0, 2, 1).fill_(std::numeric_limits<double>::quiet_NaN());
  const auto before = grads_of(params);
  EXPECT_TRUE(std::isnan(optim::clip_grad_norm(params, 1.0)));
  const auto after = grads_of(params);
  EXPECT_EQ(after[0], before[0]);
}

TEST_P(Clip, ValueClampsEachElement) {
  std::vector<Tensor> params = params_with_grads(3.0);
  const auto before = grads_of(params);
  optim::clip_grad_value(params, 0.5);
  const auto after = grads_of(params);
  for (std::size_t i = 0; i < before.size(); ++i) {
    for (std::size_t j = 0; j < before[i].size(); ++j) {
      const double want = std::min(0.5, std::max(-0.5, before[i][j]));
      EXPECT_EQ(after[i][j], params[i].dtype() == kFloat32 ? static_cast<double>(static_cast<float>(want)) : want);
    }
  }
}

TEST_P(Clip, RefusesBadBounds) {
  std::vector<Tensor> params = params_with_grads(1.0);
  EXPECT_PARITY_ERROR(optim::clip_grad_norm(params, -1.0), {"clip_grad_norm:", "max_norm is -1"});
  EXPECT_PARITY_ERROR(optim::clip_grad_norm(params, 1.0, 0.5), {"clip_grad_norm:", "norm_type is 0.5"});
  EXPECT_PARITY_ERROR(optim::clip_grad_value(params, -0.1), {"clip_grad_value:", "clip_value is -0.1"});
}

// Keras' clipnorm / clipvalue on the optimizer (optim::GradientClipping):
// plain SGD with lr 1 moves each parameter by exactly the gradient it was
// handed, so the parameters' change shows the clipped gradients; the stored
// .grad() keeps its bits.
class KerasClipping : public AutogradTest {
 protected:
  std::vector<Tensor> float32_params(double scale) {
    std::vector<Tensor> params;
    for (const Shape& shape : {Shape{3, 4}, Shape{5}, Shape{2, 3}}) {
      Tensor p = randn(shape, {.dtype = kFloat32, .device = device()}).requires_grad_();
      p.set_grad(mul(randn(shape, {.dtype = kFloat32, .device = device()}), scale));
      params.push_back(p);
    }
    params.push_back(zeros({4}, {.dtype = kFloat32, .device = device()}).requires_grad_());  // no gradient
    return params;
  }
  // What each parameter moved by in one SGD(lr = 1) step with `clipping`.
  std::vector<std::vector<double>> moves(std::vector<Tensor>& params, optim::GradientClipping clipping) {
    std::vector<std::vector<double>> before;
    for (const Tensor& p : params) before.push_back(p.to_vector<double>());
    optim::SGD sgd(params, {.lr = 1.0, .momentum = 0.0});
    sgd.set_gradient_clipping(clipping);
    sgd.step();
    std::vector<std::vector<double>> out;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::vector<double> after = params[i].to_vector<double>();
      std::vector<double> d(after.size());
      for (std::size_t j = 0; j < d.size(); ++j) d[j] = before[i][j] - after[j];
      out.push_back(d);
    }
    return out;
  }
};

TEST_P(KerasClipping, ClipnormScalesEveryGradientByTheJointNormOnlyWhenItReachesClipnorm) {
  for (const double scale : {10.0, 0.01}) {  // a joint norm above clipnorm, then below
    SCOPED_TRACE("gradient scale " + std::to_string(scale));
    std::vector<Tensor> params = float32_params(scale);
    const auto grads = grads_of(params);
    const double n = ref_norm(grads, 2.0);
    const auto moved = moves(params, {.clipnorm = 1.0});
    for (std::size_t i = 0; i < grads.size(); ++i) {
      for (std::size_t j = 0; j < grads[i].size(); ++j) {
        const double want = n >= 1.0 ? grads[i][j] / n : grads[i][j];
        // float32 throughout (the norm, g * c / n, and p - g): a few float32 ulps of the parameter.
        EXPECT_NEAR(moved[i][j], want, 1e-5 * (1.0 + std::abs(params[i].to_vector<double>()[j])))
            << "parameter " << i << ", element " << j;
      }
    }
    for (const double m : moved.back()) EXPECT_EQ(m, 0.0) << "the parameter without a gradient stays";
    EXPECT_EQ(grads_of(params), grads) << "the stored gradients keep their bits";
  }
}

TEST_P(KerasClipping, ClipvalueClampsEachElementAfterClipnorm) {
  std::vector<Tensor> params = float32_params(3.0);
  const auto grads = grads_of(params);
  const double n = ref_norm(grads, 2.0);
  ASSERT_GT(n, 2.0);
  const auto moved = moves(params, {.clipnorm = 2.0, .clipvalue = 0.1});
  for (std::size_t i = 0; i < grads.size(); ++i) {
    for (std::size_t j = 0; j < grads[i].size(); ++j) {
      const double want = std::min(0.1, std::max(-0.1, grads[i][j] * 2.0 / n));
      EXPECT_NEAR(moved[i][j], want, 1e-5 * (1.0 + std::abs(params[i].to_vector<double>()[j])));
    }
  }
}

TEST_P(KerasClipping, RefusesNegativeOrNonFiniteBounds) {
  std::vector<Tensor> params = float32_params(1.0);
  optim::Adam adam(params);
  EXPECT_PARITY_ERROR(adam.set_gradient_clipping({.clipnorm = -1.0}), {"Adam", "clipnorm", "-1"});
  EXPECT_PARITY_ERROR(adam.set_gradient_clipping({.clipvalue = std::numeric_limits<double>::infinity()}),
                      {"Adam", "clipvalue"});
  EXPECT_EQ(adam.gradient_clipping().clipnorm, 0.0) << "a refused setting changes nothing";
}

INSTANTIATE_TEST_SUITE_P(Devices, KerasClipping, ::testing::ValuesIn(test_devices()), device_name);
INSTANTIATE_TEST_SUITE_P(Devices, Clip, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
