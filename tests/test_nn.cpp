// nn: modules, layers, initializers, losses (the conv and pooling ops have
// their own suites: test_conv.cpp, test_pool.cpp).
#include <parity/autograd/gtest.h>
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <string>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

// The seed's model (keras-team/keras#6694; docs/SEED.md), Keras layout.
nn::Sequential seed_model() {
  return nn::Sequential{nn::Conv2D{{.filters = 64, .kernel = {7, 7}}}, nn::Activation{"relu"},
                        nn::Conv2D{{.filters = 64, .kernel = {7, 7}}}, nn::Activation{"relu"},
                        nn::MaxPool2D{{.pool = {4, 4}}},                nn::Flatten{},
                        nn::Dense{{.units = 64}},                       nn::Activation{"relu"},
                        nn::Dense{{.units = 8}}};
}

Tensor random_tensor(TestRng& rng, const Shape& shape, DType dtype, double lo = -1, double hi = 1,
                     Device device = Device::cpu()) {
  return to_tensor(random_ref(rng, shape, dtype, lo, hi), device);
}

// Backpropagates g through module_output() and through functional(inputs)
// and expects the same gradient bits for every input: the module computes
// exactly that function.
template <typename ModuleFn, typename Functional>
void expect_same_gradients(ModuleFn module_output, Functional functional, const std::vector<Tensor>& inputs,
                           const Tensor& g) {
  module_output().backward(g);
  std::vector<Tensor> module_grads;
  for (const Tensor& t : inputs) {
    module_grads.push_back(t.grad());
    t.set_grad(Tensor());
  }
  functional(inputs).backward(g);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_TRUE(same_bits(module_grads[i], inputs[i].grad())) << "input " << i;
    inputs[i].set_grad(Tensor());
  }
}

TEST(Module, SeedModelParameterCountMatchesKeras) {
  nn::Sequential model = seed_model();
  model.build({224, 224, 3}, {.layout = Layout::NHWC, .init = nn::Init::Keras, .seed = 6});
  // Keras 3.15.1 count_params() for the seed model (checked with tools/golden/.venv): 9472 + 200768 + 11505728 + 520.
  EXPECT_EQ(model.parameter_count(), 11716488);
  EXPECT_EQ(model.output_shape(), (Shape{8}));
  const auto named = model.named_parameters();
  ASSERT_EQ(named.size(), 8u);
  EXPECT_EQ(named[0].first, "0.kernel");
  EXPECT_EQ(named[0].second.shape(), (Shape{7, 7, 3, 64}));
  EXPECT_EQ(named[1].first, "0.bias");
  EXPECT_EQ(named[4].first, "6.kernel");
  EXPECT_EQ(named[4].second.shape(), (Shape{53 * 53 * 64, 64}));
  for (const auto& [name, t] : named) EXPECT_TRUE(t.requires_grad()) << name;

  const std::string summary = model.summary();
  for (const char* needle : {"conv2d_1 (Conv2D)", "(None, 218, 218, 64)", "9472", "conv2d_2 (Conv2D)",
                             "(None, 212, 212, 64)", "200768", "max_pooling2d_1 (MaxPooling2D)",
                             "(None, 53, 53, 64)", "flatten_1 (Flatten)", "(None, 179776)", "dense_1 (Dense)",
                             "11505728", "activation_3 (Activation)", "dense_2 (Dense)", "(None, 8)", "520",
                             "Total params: 11,716,488", "Trainable params: 11,716,488",
                             "Non-trainable params: 0"}) {
    EXPECT_NE(summary.find(needle), std::string::npos) << needle << " not in\n" << summary;
  }
}

TEST(Module, NchwSeedModelHasOihwKernelsAndTheSameCount) {
  nn::Sequential model = seed_model();
  model.build({3, 224, 224}, {.layout = Layout::NCHW, .init = nn::Init::PyTorch});
  EXPECT_EQ(model.parameter_count(), 11716488);
  EXPECT_EQ(model.named_parameters()[2].second.shape(), (Shape{64, 64, 7, 7}));
}

TEST(Module, KerasInitIsGlorotUniformWithZeroBias) {
  nn::Sequential model{nn::Dense{{.units = 300}}};
  model.build({200}, {.seed = 3});
  const auto kernel = model.named_parameters()[0].second.to_vector<double>();
  const auto bias = model.named_parameters()[1].second.to_vector<double>();
  const double limit = std::sqrt(6.0 / 500.0);
  double lo = 1, hi = -1, mean = 0;
  for (double v : kernel) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    mean += v / static_cast<double>(kernel.size());
  }
  EXPECT_GE(lo, -limit);
  EXPECT_LT(hi, limit);
  EXPECT_GT(hi, 0.99 * limit);  // 60000 draws reach the ends of the range
  EXPECT_LT(lo, -0.99 * limit);
  EXPECT_NEAR(mean, 0, 0.01 * limit);
  for (double v : bias) EXPECT_EQ(v, 0);
}

// PyTorch's defaults: the kernel is kaiming_uniform(a = sqrt(5)) and the bias
// uniform, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels *
// kh * kw (in_features for Dense); fan_out (filters * kh * kw, units) plays no
// part. Each tensor must fill its range: its extremes near both bounds (for n
// uniform draws the chance that none lies within 0.05 of a bound is 0.975^n,
// under 2e-5 for the 448-draw bias), its mean near 0 and its variance near
// bound^2 / 3 (the standard errors are bound / sqrt(3 n) and about 0.9 bound^2
// / (3 sqrt(n)); 5 of them allowed). A bound from the wrong fan or formula
// fails one side or the other.
TEST(Module, PyTorchInitBoundsFollowFanIn) {
  struct Layer {
    std::string name;
    nn::Sequential model;
    Shape input;
    Layout layout;
    double fan_in;
  };
  std::vector<Layer> layers;
  layers.push_back({"Conv2D",
                    nn::Sequential{nn::Conv2D{{.filters = 448, .kernel = {3, 3}}}},
                    {8, 10, 10},
                    Layout::NCHW,
                    8.0 * 9.0});
  layers.push_back({"Dense", nn::Sequential{nn::Dense{{.units = 448}}}, {30}, Layout::NHWC, 30.0});
  for (Layer& layer : layers) {
    layer.model.build(layer.input, {.layout = layer.layout, .init = nn::Init::PyTorch, .seed = 4});
    const double bound = 1.0 / std::sqrt(layer.fan_in);
    for (const auto& [name, t] : layer.model.named_parameters()) {
      SCOPED_TRACE(layer.name + " " + name);
      const std::vector<double> v = t.to_vector<double>();
      const double n = static_cast<double>(v.size());
      double lo = 0, hi = 0, mean = 0, var = 0;
      for (double x : v) {
        EXPECT_LE(std::abs(x), bound);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        mean += x / n;
      }
      for (double x : v) var += (x - mean) * (x - mean) / n;
      EXPECT_GT(hi, 0.95 * bound);
      EXPECT_LT(lo, -0.95 * bound);
      EXPECT_NEAR(mean, 0, 5 * bound / std::sqrt(3 * n));
      EXPECT_NEAR(var, bound * bound / 3, 5 * 0.9 * bound * bound / (3 * std::sqrt(n)));
    }
  }
}

TEST(Module, SameSeedSameWeightsOtherSeedOthers) {
  auto weights = [](std::uint64_t seed) {
    nn::Sequential m{nn::Conv2D{{.filters = 4, .kernel = {3, 3}}}, nn::Flatten{}, nn::Dense{{.units = 3}}};
    m.build({6, 6, 2}, {.seed = seed});
    std::vector<double> all;
    for (const Tensor& t : m.parameters()) {
      auto v = t.to_vector<double>();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  EXPECT_EQ(weights(7), weights(7));
  EXPECT_NE(weights(7), weights(8));
}

TEST(Module, WeightsAreTheSameBitsOnCuda) {
  PARITY_REQUIRE_CUDA();
  nn::Sequential cpu_model = seed_model();
  cpu_model.build({32, 32, 3}, {.seed = 6});
  nn::Sequential cuda_model = seed_model();
  cuda_model.build({32, 32, 3}, {.seed = 6, .device = Device::cuda()});
  const auto a = cpu_model.parameters(), b = cuda_model.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].device(), Device::cuda());
    EXPECT_TRUE(same_bits(a[i], b[i].to(Device::cpu()))) << i;
  }
}

TEST(Module, LazyBuildFromTheFirstBatch) {
  TestRng rng;
  nn::Sequential model{nn::Dense{{.units = 5, .activation = "tanh"}}, nn::Dense{{.units = 2}}};
  EXPECT_FALSE(model.built());
  const Tensor x = random_tensor(rng, {4, 3}, kFloat64);
  const Tensor y = model(x);
  EXPECT_TRUE(model.built());
  EXPECT_EQ(y.shape(), (Shape{4, 2}));
  EXPECT_EQ(model.input_shape(), (Shape{3}));
  EXPECT_EQ(model.parameters()[0].dtype(), kFloat64);
}

TEST(Module, DenseComputesMatmulPlusBiasThenActivation) {
  TestRng rng;
  nn::Dense dense{{.units = 3, .activation = "relu"}};
  dense.build({4}, {.init = nn::Init::PyTorch, .seed = 1, .dtype = kFloat64});
  const Tensor x = random_tensor(rng, {5, 4}, kFloat64);
  const auto params = dense.parameters();
  const Ref want = [&] {
    Ref r = ref_matmul(to_ref(x), to_ref(params[0]));
    const auto b = params[1].to_vector<double>();
    for (std::size_t i = 0; i < r.v.size(); ++i) r.v[i] = std::max(0.0, r.v[i] + b[i % 3]);
    return r;
  }();
  // Terms are O(1) and the sum may cancel: an absolute bound of a few eps per term.
  EXPECT_TRUE(matches(dense(x), want, Tolerance{.ulps = 0, .abs = {1e-14}}));
}

TEST(Module, DenseGradientsPassGradcheck) {
  TestRng rng;
  nn::Sequential model{nn::Dense{{.units = 3, .activation = "tanh"}}, nn::Dense{{.units = 2}}};
  model.build({4}, {.init = nn::Init::PyTorch, .seed = 2, .dtype = kFloat64});
  const Tensor x = random_tensor(rng, {3, 4}, kFloat64).requires_grad_();
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : model.parameters()) inputs.push_back(p);
  // What the two layers compute, as a function of all their inputs (gradcheck
  // perturbs copies of its inputs, so the function must take the weights).
  auto layers = [](const std::vector<Tensor>& in) {
    return add(matmul(tanh(add(matmul(in[0], in[1]), in[2])), in[3]), in[4]);
  };
  EXPECT_GRADCHECK(layers, inputs);
  // The model computes exactly that, forward and backward.
  expect_same_gradients([&] { return model(x); }, layers, inputs, random_tensor(rng, {3, 2}, kFloat64));
}

// Conv2D, pooling and Flatten layers compute their ops with the model's
// layout and mode; their gradients are the ops' (gradchecked in test_conv.cpp
// and test_pool.cpp) and pass gradcheck composed, in both layouts and modes.
TEST(Module, ConvPoolFlattenLayersPassGradcheckInEveryLayoutAndMode) {
  TestRng rng;
  for (Layout layout : {Layout::NHWC, Layout::NCHW}) {
    for (ConvMode mode : {ConvMode::CrossCorrelation, ConvMode::Convolution}) {
      SCOPED_TRACE(std::string(name(layout)) + " " + std::string(name(mode)));
      nn::Sequential model{nn::Conv2D{{.filters = 3, .kernel = {3, 2}, .strides = {2, 1}, .padding = "same"}},
                           nn::Activation{"tanh"}, nn::MaxPool2D{{.pool = {2, 2}, .strides = {{1, 1}}}},
                           nn::AveragePool2D{{.pool = {2, 2}, .padding = "same"}}, nn::Flatten{}};
      const Shape input = layout == Layout::NHWC ? Shape{7, 6, 2} : Shape{2, 7, 6};
      model.build(input, {.layout = layout, .init = nn::Init::PyTorch, .seed = 5, .dtype = kFloat64,
                          .conv_mode = mode});
      Shape batch{2};
      batch.insert(batch.end(), input.begin(), input.end());
      const Tensor x = random_tensor(rng, batch, kFloat64).requires_grad_();
      const auto& conv = dynamic_cast<const nn::Conv2D&>(model[0]);
      const auto& max_pool = dynamic_cast<const nn::Pool2D&>(model[2]);
      const auto& avg_pool = dynamic_cast<const nn::Pool2D&>(model[3]);
      auto layers = [&](const std::vector<Tensor>& in) {
        const Tensor h = tanh(conv2d(in[0], in[1], in[2], conv.conv_options()));
        const Tensor p = avg_pool2d(max_pool2d(h, max_pool.pool_options(layout)), avg_pool.pool_options(layout));
        return p.reshape({p.size(0), -1});
      };
      std::vector<Tensor> inputs{x};
      for (const Tensor& p : model.parameters()) inputs.push_back(p);
      EXPECT_GRADCHECK(layers, inputs);
      const Tensor g = random_tensor(rng, model(x).shape(), kFloat64);
      expect_same_gradients([&] { return model(x); }, layers, inputs, g);
    }
  }
}

TEST(Module, FlattenKeepsTheLayoutsRowMajorOrder) {
  TestRng rng;
  nn::Flatten flatten;
  const Tensor x = random_tensor(rng, {2, 3, 4, 5}, kFloat32);
  const Tensor y = flatten(x);
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_TRUE(same_bits(y, x.reshape({2, 60})));
}

// Each activation against its formula in long double: within 4 ulps (libm's
// exp and tanh, and sigmoid's division, round once or twice each); relu and
// linear exactly.
TEST(Module, ActivationsByName) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    Ref in = random_ref(rng, {3, 5}, dtype, -6, 6);
    in.v[0] = 0;
    in.v[1] = -0.0;
    const Tensor x = to_tensor(in, Device::cpu());
    auto want = [&](auto f) {
      return ref_map(in, dtype,
                     [&](double v) { return static_cast<double>(f(static_cast<long double>(v))); });
    };
    EXPECT_TRUE(matches(nn::Activation{"sigmoid"}(x),
                        want([](long double v) { return 1 / (1 + std::exp(-v)); }), ulps(4)));
    EXPECT_TRUE(
        matches(nn::Activation{"tanh"}(x), want([](long double v) { return std::tanh(v); }), ulps(4)));
    EXPECT_TRUE(matches(nn::Activation{"linear"}(x), in, exact()));
    const Ref relu_want = want([](long double v) { return v > 0 ? v : 0.0L; });
    EXPECT_TRUE(matches(nn::Activation{"relu"}(x), relu_want, exact()));
    EXPECT_TRUE(matches(nn::ReLU{}(x), relu_want, exact()));
  }
  const Tensor x = random_tensor(rng, {3, 4}, kFloat64, -3, 3);
  const auto s = nn::Activation{"softmax"}(x).to_vector<double>();
  const auto xv = x.to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double z = 0;
    for (int c = 0; c < 4; ++c) z += std::exp(xv[r * 4 + c]);
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(s[r * 4 + c], std::exp(xv[r * 4 + c]) / z, 1e-15);
  }
  EXPECT_PARITY_ERROR(nn::Activation{"relu6"}, {"Activation", "relu6", "expected"});
}

TEST(Module, StateDictRoundTripKeepsTheSameTensors) {
  nn::Sequential a{nn::Dense{{.units = 3}}, nn::Dense{{.units = 2}}};
  a.build({4}, {.seed = 1});
  nn::Sequential b{nn::Dense{{.units = 3}}, nn::Dense{{.units = 2}}};
  b.build({4}, {.seed = 2});
  const Tensor b_kernel = b.parameters()[0];
  b.load_state_dict(a.state_dict());
  EXPECT_TRUE(b.parameters()[0].is_same(b_kernel));  // loaded in place: optimizers keep their tensors
  for (std::size_t i = 0; i < a.parameters().size(); ++i) {
    EXPECT_TRUE(same_bits(a.parameters()[i], b.parameters()[i])) << i;
  }
  nn::StateDict wrong = a.state_dict();
  wrong.erase("1.bias");
  wrong["1.kernel"] = zeros({2, 3});
  wrong["2.kernel"] = zeros({1});
  EXPECT_PARITY_ERROR(b.load_state_dict(wrong), {"load_state_dict", "missing: 1.bias", "1.kernel", "[3, 2]",
                                                 "[2, 3]", "unexpected: 2.kernel"});
}

TEST(Module, BadInputsGiveClearErrors) {
  TestRng rng;
  nn::Sequential model = seed_model();
  model.build({32, 32, 3});
  EXPECT_PARITY_ERROR(model(random_tensor(rng, {2, 32, 32, 4}, kFloat32)),
                      {"Sequential", "(None, 32, 32, 3)", "[2, 32, 32, 4]"});
  EXPECT_PARITY_ERROR(model(random_tensor(rng, {32, 32, 3}, kFloat32)), {"(None, 32, 32, 3)", "[32, 32, 3]"});
  // A kernel larger than the input.
  nn::Sequential tiny = seed_model();
  EXPECT_PARITY_ERROR(tiny.build({5, 5, 3}), {"conv2d", "larger than", "[1, 5, 5, 3]"});
  // Wrong rank for a conv layer, and for a dense one.
  nn::Conv2D conv{{.filters = 2, .kernel = {3, 3}}};
  EXPECT_PARITY_ERROR(conv.build({10, 3}), {"Conv2D", "(height, width, channels)", "(None, 10, 3)"});
  nn::Dense dense{{.units = 2}};
  EXPECT_PARITY_ERROR(dense.build({}), {"Dense", "(None)"});
  EXPECT_PARITY_ERROR(nn::Conv2D({.filters = 2, .kernel = {3, 3}, .padding = "sme"}), {"padding", "sme"});
  EXPECT_PARITY_ERROR(nn::Dense({.units = 0}), {"Dense", "units"});
  // A module built for float32 refuses float64 input.
  EXPECT_PARITY_ERROR(dense.build({3}); dense(random_tensor(rng, {2, 3}, kFloat64)), {"float64", "float32"});
}

TEST(Module, TrainEvalPropagatesToChildren) {
  nn::Sequential model = seed_model();
  model.eval();
  EXPECT_FALSE(model.is_training());
  EXPECT_FALSE(model[0].is_training());
  model.train();
  EXPECT_TRUE(model[8].is_training());
}

// ---- losses ----

class Losses : public ::testing::TestWithParam<Device> {};

TEST_P(Losses, MseIsKerasTwoStageMean) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor p = random_tensor(rng, {6, 5}, dtype, -40, 40, GetParam());
    const Tensor t = random_tensor(rng, {6, 5}, dtype, -40, 40, GetParam());
    const auto pv = p.to_vector<double>(), tv = t.to_vector<double>();
    double mse = 0, mae = 0;
    for (int r = 0; r < 6; ++r) {
      double row = 0, row_abs = 0;
      for (int c = 0; c < 5; ++c) {
        const double d = pv[r * 5 + c] - tv[r * 5 + c];
        row += d * d;
        row_abs += std::abs(d);
      }
      mse += row / 5 / 6;
      mae += row_abs / 5 / 6;
    }
    const double tol = dtype == kFloat32 ? 1e-6 : 1e-14;
    EXPECT_NEAR(nn::losses::mse(p, t).item<double>(), mse, tol * mse);
    EXPECT_NEAR(nn::losses::mae(p, t).item<double>(), mae, tol * mae);
    // The two-stage mean in the dtype's own arithmetic, summed in the order of
    // Note [Summation order] (parity/tensor/ops.h): the CPU's bits.
    if (GetParam().is_cpu()) {
      const auto two_stage = [&]<typename T>(T) {
        auto note_sum = [](const std::vector<T>& v) {  // one block of at most 1024: 8 interleaved lanes
          T lane[8] = {};
          for (std::size_t i = 0; i < v.size(); ++i) lane[i % 8] += v[i];
          return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        };
        std::vector<T> rows;
        for (int r = 0; r < 6; ++r) {
          std::vector<T> squares;
          for (int c = 0; c < 5; ++c) {
            const T d = static_cast<T>(pv[r * 5 + c]) - static_cast<T>(tv[r * 5 + c]);
            squares.push_back(d * d);
          }
          rows.push_back(note_sum(squares) / T(5));
        }
        return static_cast<double>(note_sum(rows) / T(6));
      };
      const double want = dtype == kFloat32 ? two_stage(0.0f) : two_stage(0.0);
      EXPECT_EQ(nn::losses::mse(p, t).item<double>(), want);
    }
  }
}

// Fixed float32 values whose mse rounds differently in every order but Keras'
// two-stage one in the Note's summation order (found by search; with NumPy's
// float32: 7.2223954 two-stage, 7.222396 as one mean of all 30 squares,
// 7.2223964 summing each row left to right).
TEST_P(Losses, MseRoundsAsKerasTwoStageMeanInTheNotesOrder) {
  if (!GetParam().is_cpu()) GTEST_SKIP() << "Note [Summation order] is the CPU's";
  const std::vector<int> eighths{36, -3,  -15, -2, 0,   -15, 11,  22,  27, -36, -9, -22, 30, 26, -18,
                                 9,  -24, 0,   37, -11, -21, -30, -12, -4, 14,  38, -14, 7,  38, 6};
  std::vector<float> pv, tv;
  for (int k : eighths) {
    pv.push_back(static_cast<float>(k) / 8 + 0.5f);  // exact: p - t is k / 8
    tv.push_back(0.5f);
  }
  const Tensor p = from_vector(pv, {6, 5}, GetParam()), t = from_vector(tv, {6, 5}, GetParam());
  EXPECT_EQ(nn::losses::mse(p, t).item<float>(), 7.2223954f);
}

// Keras' mse and mae of a [2, 3, 4] batch: the mean over the last axis, then over everything else.
TEST_P(Losses, KerasMeanOfARank3Batch) {
  TestRng rng;
  const Ref pr = random_ref(rng, {2, 3, 4}, kFloat64, -2, 2),
            tr = random_ref(rng, {2, 3, 4}, kFloat64, -2, 2);
  long double mse = 0, mae = 0;
  for (int i = 0; i < 6; ++i) {
    long double row = 0, row_abs = 0;
    for (int c = 0; c < 4; ++c) {
      const long double d = static_cast<long double>(pr.v[i * 4 + c]) - tr.v[i * 4 + c];
      row += d * d;
      row_abs += std::abs(d);
    }
    mse += row / 4 / 6;
    mae += row_abs / 4 / 6;
  }
  const Tensor p = to_tensor(pr, GetParam()), t = to_tensor(tr, GetParam());
  EXPECT_EQ(nn::losses::mse(p, t).shape(), Shape{});
  EXPECT_NEAR(nn::losses::mse(p, t).item<double>(), static_cast<double>(mse),
              1e-14 * static_cast<double>(mse));
  EXPECT_NEAR(nn::losses::mae(p, t).item<double>(), static_cast<double>(mae),
              1e-14 * static_cast<double>(mae));
}

TEST_P(Losses, CrossEntropiesMatchTheirFormulas) {
  TestRng rng;
  const Tensor x = random_tensor(rng, {4, 3}, kFloat64, -30, 30, GetParam());
  const Tensor t = random_tensor(rng, {4, 3}, kFloat64, 0, 1, GetParam());
  const auto xv = x.to_vector<double>(), tv = t.to_vector<double>();
  double bce = 0, cce = 0;
  for (int r = 0; r < 4; ++r) {
    double m = -1e300, z = 0;
    for (int c = 0; c < 3; ++c) m = std::max(m, xv[r * 3 + c]);
    for (int c = 0; c < 3; ++c) z += std::exp(xv[r * 3 + c] - m);
    for (int c = 0; c < 3; ++c) {
      const double xi = xv[r * 3 + c], ti = tv[r * 3 + c];
      // -log(sigmoid(x)) = softplus(-x), -log(1 - sigmoid(x)) = softplus(x), each in its stable form.
      auto softplus = [](double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); };
      bce += (ti * softplus(-xi) + (1 - ti) * softplus(xi)) / 12;
      cce += -ti * (xi - m - std::log(z)) / 4;
    }
  }
  EXPECT_NEAR(nn::losses::binary_crossentropy_with_logits(x, t).item<double>(), bce, 1e-9 * std::abs(bce));
  EXPECT_NEAR(nn::losses::categorical_crossentropy_with_logits(x, t).item<double>(), cce, 1e-12 * std::abs(cce));
}

// Logits up to +-3000, where exp overflows and 1 - sigmoid rounds to 0: the
// stable forms give the formulas' values. In long double (its exp reaches
// e^11356) the naive forms are still exact enough to be the reference.
TEST_P(Losses, CrossEntropiesOfLargeLogitsMatchTheirFormulas) {
  TestRng rng;
  const Ref xr = random_ref(rng, {4, 3}, kFloat64, -3000, 3000), tr = random_ref(rng, {4, 3}, kFloat64, 0, 1);
  long double bce = 0, cce = 0;
  for (int r = 0; r < 4; ++r) {
    long double z = 0;
    for (int c = 0; c < 3; ++c) z += std::exp(static_cast<long double>(xr.v[r * 3 + c]));
    for (int c = 0; c < 3; ++c) {
      const long double xi = xr.v[r * 3 + c], ti = tr.v[r * 3 + c];
      // -t log(sigmoid(x)) - (1 - t) log(1 - sigmoid(x)) = t log(1 + e^-x) + (1 - t) log(1 + e^x)
      bce += (ti * std::log1p(std::exp(-xi)) + (1 - ti) * std::log1p(std::exp(xi))) / 12;
      cce += -ti * (xi - std::log(z)) / 4;
    }
  }
  const Tensor x = to_tensor(xr, GetParam()), t = to_tensor(tr, GetParam());
  // Terms of ~3000 summed: a few float64 roundings of that size (2^-52 * 3000 * 12 per term, far below the
  // naive forms' inf or NaN).
  const double tol = 16 * 3000 * 0x1p-52;
  EXPECT_NEAR(nn::losses::binary_crossentropy_with_logits(x, t).item<double>(), static_cast<double>(bce),
              tol);
  EXPECT_NEAR(nn::losses::categorical_crossentropy_with_logits(x, t).item<double>(), static_cast<double>(cce),
              tol);
}

TEST_P(Losses, GradientsPassGradcheck) {
  TestRng rng;
  const Tensor p = random_tensor(rng, {3, 4}, kFloat64, -2, 2, GetParam()).requires_grad_();
  const Tensor t = random_tensor(rng, {3, 4}, kFloat64, 0, 1, GetParam());
  for (const char* name : {"mse", "mae", "binary_crossentropy", "categorical_crossentropy"}) {
    const nn::Loss loss = nn::losses::by_name(name);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return loss(in[0], t); }, {p}) << name;
  }
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return nn::softmax(in[0], 0); }, {p});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return nn::log_softmax(in[0], -1); }, {p});
}

TEST_P(Losses, MismatchedShapesAreRefused) {
  const Tensor p = zeros({64, 8}, {.device = GetParam()});
  const Tensor t = zeros({64, 7}, {.device = GetParam()});
  EXPECT_PARITY_ERROR(nn::losses::mse(p, t), {"mse", "[64, 8]", "[64, 7]"});
  EXPECT_PARITY_ERROR(nn::losses::mae(p, zeros({64, 8}, {.dtype = kFloat64, .device = GetParam()})),
                      {"mae", "float32", "float64"});
  EXPECT_PARITY_ERROR(nn::losses::by_name("hinge"), {"hinge", "mse"});
}

INSTANTIATE_TEST_SUITE_P(Devices, Losses, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing

namespace parity::testing {
namespace {
TEST(Module, KerasLayerNames) {
  EXPECT_EQ(nn::snake_case("Conv2D"), "conv2d");
  EXPECT_EQ(nn::snake_case("MaxPooling2D"), "max_pooling2d");
  EXPECT_EQ(nn::snake_case("AveragePooling2D"), "average_pooling2d");
  EXPECT_EQ(nn::snake_case("ReLU"), "re_lu");
  EXPECT_EQ(nn::snake_case("Dense"), "dense");
}
}  // namespace
}  // namespace parity::testing
