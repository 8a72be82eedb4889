// The lockstep divergence report (parity/train/lockstep.h) on a user's own model: a
// Sequential with a conv, pooling, two Dense layers and a layer type of the
// user's (Halve), trained in a TensorFlow-like configuration (NHWC, HWIO,
// cross-correlation, keras2_tensorflow) and a Theano-like one (NCHW, OIHW, true
// convolution of flipped kernels, keras2_theano). The report must find nothing
// beyond rounding when the two are converted correctly, and find a planted
// one-ulp weight difference and planted kernel flips at the right step, phase
// and tensor.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "reference.h"
#include "parity/train/lockstep.h"

namespace parity::testing {
namespace {

// A layer the report knows nothing about: it is compared but gets no bound.
class Halve : public nn::Module {
 public:
  std::string type_name() const override { return "Halve"; }

 protected:
  Tensor forward_impl(const Tensor& x) override { return mul(x, Scalar(0.5)); }
  Shape build_impl(const Shape& input_shape, const nn::BuildContext&) override { return input_shape; }
};

constexpr std::int64_t kSize = 10, kPooled = 4, kFilters = 6;

nn::Sequential user_model() {
  return nn::Sequential{nn::Conv2D{{.filters = kFilters, .kernel = {3, 3}}}, nn::ReLU{}, nn::MaxPool2D{{.pool = {2, 2}}},
                        nn::Flatten{}, nn::Dense{{.units = 10}}, Halve{}, nn::Dense{{.units = 3}}};
}

// The Theano-like side's weights in the common (TensorFlow) layout, and back.
nn::StateDict theano_to_common(nn::StateDict d) {
  d["0.kernel"] = nn::oihw_to_hwio(nn::flip_kernel(d.at("0.kernel"), KernelLayout::OIHW));
  d["4.kernel"] = nn::dense_rows_nchw_to_nhwc(d.at("4.kernel"), kPooled, kPooled, kFilters);
  return d;
}
nn::StateDict common_to_theano(nn::StateDict d) {
  d["0.kernel"] = nn::flip_kernel(nn::hwio_to_oihw(d.at("0.kernel")), KernelLayout::OIHW);
  d["4.kernel"] = nn::dense_rows_nhwc_to_nchw(d.at("4.kernel"), kPooled, kPooled, kFilters);
  return d;
}

struct Pair {
  nn::Sequential tf = user_model(), th = user_model();
  std::unique_ptr<optim::Optimizer> tf_opt, th_opt;
  train::LockstepSide a, b;
  Tensor x, y;

  Pair(std::uint64_t seed, std::int64_t samples, bool convert = true) {
    tf.build({kSize, kSize, 3}, {.layout = Layout::NHWC, .seed = seed});
    th.build({3, kSize, kSize}, {.layout = Layout::NCHW, .seed = seed, .conv_mode = ConvMode::Convolution});
    th.load_state_dict(convert ? common_to_theano(tf.state_dict()) : plain_theano(tf.state_dict()));
    tf_opt = std::make_unique<optim::Adam>(tf.parameters(), optim::AdamOptions{.lr = 1e-2},
                                           optim::presets::keras2_tensorflow);
    th_opt = std::make_unique<optim::Adam>(th.parameters(), optim::AdamOptions{.lr = 1e-2},
                                           optim::presets::keras2_theano);
    a = {"tensorflow", &tf, tf_opt.get()};
    b = {"theano", &th, th_opt.get(), [](const Tensor& t) { return t.permute({0, 3, 1, 2}).contiguous(); },
         theano_to_common, common_to_theano};
    Generator gen(seed);
    x = randn({samples, kSize, kSize, 3}, {}, 0.0, 1.0, &gen);
    y = randn({samples, 3}, {}, 0.0, 3.0, &gen);
  }
  // The weights moved to the Theano layout WITHOUT the flip a true convolution needs.
  static nn::StateDict plain_theano(nn::StateDict d) {
    d["0.kernel"] = nn::hwio_to_oihw(d.at("0.kernel"));
    d["4.kernel"] = nn::dense_rows_nhwc_to_nchw(d.at("4.kernel"), kPooled, kPooled, kFilters);
    return d;
  }
};

std::uint64_t seed_of(TestRng& rng) { return static_cast<std::uint64_t>(rng.integer(1, 1 << 30)); }

TEST(Lockstep, CorrectlyConvertedConfigurationsPartOnlyByRounding) {
  TestRng rng;
  Pair p(seed_of(rng), 4 * 16);
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 4, .batch_size = 16});
  EXPECT_FALSE(r.first.has_value()) << r.summary();
  ASSERT_EQ(r.free.size(), 4u);
  ASSERT_EQ(r.resynced.size(), 4u);
  // The first losses agree to rounding; every bounded tensor stayed within its bound.
  EXPECT_NEAR(r.free[0].loss_a, r.free[0].loss_b, 1e-5 * r.free[0].loss_a);
  int bounded = 0;
  for (const train::StepComparison& s : r.resynced) {
    for (const auto* part : {&s.outputs, &s.grads}) {
      for (const train::TensorComparison& c : *part) {
        if (!c.ratio) continue;
        ++bounded;
        EXPECT_LE(*c.ratio, 1.0) << "step " << s.step << " " << c.name << " (" << c.op << ")";
      }
    }
    for (const train::TensorComparison& c : s.weights) EXPECT_EQ(c.max_abs, 0.0) << c.name;
  }
  EXPECT_GE(bounded, 4 * (4 + 6)) << "the conv, pool, relu and Dense outputs and all six gradients, every step";
  // The user's layer is compared but has no bound.
  bool saw_halve = false;
  for (const train::TensorComparison& c : r.resynced[0].outputs) {
    if (c.op == "Halve") {
      saw_halve = true;
      EXPECT_FALSE(c.ratio.has_value());
    }
  }
  EXPECT_TRUE(saw_halve);
  // The JSON has every step and says there was no divergence.
  const nlohmann::json j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j.at("free").size(), 4u);
  EXPECT_TRUE(j.at("first_divergence").is_null());
}

TEST(Lockstep, FindsAPlantedOneUlpWeightDifferenceAtItsStepAndLayer) {
  TestRng rng;
  Pair p(seed_of(rng), 5 * 16);
  const std::int64_t element = rng.integer(0, 29);  // of the last Dense kernel [10, 3]
  const int planted_step = 3;
  train::LockstepOptions o{.steps = 5, .batch_size = 16};
  o.before_step = [&](int step, train::LockstepSide&, train::LockstepSide& b) {
    if (step != planted_step) return;
    // "6.kernel": the last Dense layer's kernel, the same in both layouts.
    const nn::NamedTensors named = b.model->named_parameters();
    ASSERT_EQ(named[named.size() - 2].first, "6.kernel");
    Tensor k = named[named.size() - 2].second;
    autograd::NoGradGuard no_grad;
    std::vector<float> v = k.to_vector<float>();
    v[static_cast<std::size_t>(element)] = std::nextafter(v[static_cast<std::size_t>(element)], INFINITY);
    k.copy_(from_vector(v, k.shape()));
  };
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, o);
  ASSERT_TRUE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.first->step, planted_step);
  EXPECT_EQ(r.first->phase, "weights");
  EXPECT_EQ(r.first->tensor, "6.kernel");
  EXPECT_NE(r.first->why.find("1 ulp"), std::string::npos) << r.first->why;
}

TEST(Lockstep, FindsKernelsNotFlippedOnLoad) {
  TestRng rng;
  Pair p(seed_of(rng), 2 * 16, /*convert=*/false);
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 2, .batch_size = 16});
  ASSERT_TRUE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.first->step, 1);
  EXPECT_EQ(r.first->phase, "weights");
  EXPECT_EQ(r.first->tensor, "0.kernel");
  EXPECT_NE(r.first->why.find("flipped"), std::string::npos) << r.first->why;
  // The free pass shows what a user sees: the first predictions part far beyond
  // rounding (~1e-6 of their scale; over 3000 seeds a flip gave 0.26 at least).
  // Not the loss: a sum of signed terms, it can agree to 6e-6 (next test).
  ASSERT_FALSE(r.free[0].outputs.empty());
  EXPECT_EQ(r.free[0].outputs.back().name, "6");
  EXPECT_GT(r.free[0].outputs.back().relative, 1e-2);
}

// A missing flip that leaves the first loss almost unchanged (5.6e-6 of it)
// while the predictions part by 72% of their scale: why the report judges
// tensors, not losses. This seed failed the loss check the test above once had.
TEST(Lockstep, AMissingFlipCanLeaveTheFirstLossAlmostEqual) {
  Pair p(698 * 7919, 2 * 16, /*convert=*/false);
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 2, .batch_size = 16});
  ASSERT_TRUE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.first->tensor, "0.kernel");
  EXPECT_LT(std::abs(r.free[0].loss_a - r.free[0].loss_b), 1e-5 * r.free[0].loss_a);
  EXPECT_GT(r.free[0].outputs.back().relative, 0.5);
}

// A conversion that is wrong both ways (no flip in to_common nor in from_common)
// hides the flip from the weights: the forward pass finds it, at layer 0.
TEST(Lockstep, FindsAFlipThatTheWeightsCannotShowInTheForwardPass) {
  TestRng rng;
  Pair p(seed_of(rng), 3 * 16, /*convert=*/false);
  p.b.to_common = [](nn::StateDict d) {
    d["0.kernel"] = nn::oihw_to_hwio(d.at("0.kernel"));
    d["4.kernel"] = nn::dense_rows_nchw_to_nhwc(d.at("4.kernel"), kPooled, kPooled, kFilters);
    return d;
  };
  p.b.from_common = Pair::plain_theano;
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 3, .batch_size = 16});
  ASSERT_TRUE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.first->step, 1);
  EXPECT_EQ(r.first->phase, "forward");
  EXPECT_EQ(r.first->tensor, "0");
  EXPECT_EQ(r.first->op, "Conv2D");
  EXPECT_GT(r.first->ratio, 10.0);
}

TEST(Lockstep, FindsAKernelFlippedAtALaterStep) {
  TestRng rng;
  Pair p(seed_of(rng), 4 * 16);
  train::LockstepOptions o{.steps = 4, .batch_size = 16};
  o.before_step = [](int step, train::LockstepSide&, train::LockstepSide& b) {
    if (step != 2) return;
    autograd::NoGradGuard no_grad;
    Tensor k = b.model->named_parameters().front().second;  // "0.kernel", OIHW
    k.copy_(nn::flip_kernel(k, KernelLayout::OIHW));
  };
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, o);
  ASSERT_TRUE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.first->step, 2);
  EXPECT_EQ(r.first->phase, "weights");
  EXPECT_EQ(r.first->tensor, "0.kernel");
  EXPECT_NE(r.first->why.find("flipped"), std::string::npos) << r.first->why;
}

// Each side computes under its own settings (LockstepSide::numerics); the report
// states them, and a math-mode difference is found where it first acts: the
// first layer's forward, with the settings named in the diagnosis.
TEST(Lockstep, FindsTf32OnOneSideAtTheFirstLayersForward) {
  TestRng rng;
  Pair p(seed_of(rng), 2 * 16);
  p.b.numerics.math_mode = MathMode::TF32;
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 2, .batch_size = 16});
  EXPECT_EQ(math_mode(), MathMode::StrictFP32) << "lockstep left B's math mode set";
  EXPECT_EQ(r.a_numerics.math_mode, MathMode::StrictFP32);
  EXPECT_EQ(r.b_numerics.math_mode, MathMode::TF32);
  ASSERT_TRUE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.first->step, 1);
  EXPECT_EQ(r.first->phase, "forward");
  EXPECT_EQ(r.first->tensor, "0");
  EXPECT_GT(r.first->ratio, 10.0) << "TF32's error is far above float32's rounding";
  EXPECT_NE(r.first->why.find("math mode strict_fp32 vs tf32"), std::string::npos) << r.first->why;
  const nlohmann::json j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j.at("b_numerics").at("math_mode"), "tf32");
  EXPECT_EQ(j.at("a_numerics").at("device"), "cpu");
  EXPECT_NE(r.summary().find("tf32"), std::string::npos);
}

// oneDNN against im2col + GEMM: two float32 summation orders of the same sums,
// so nothing parts beyond rounding (the two CPU convolution algorithms).
TEST(Lockstep, CpuConvolutionAlgorithmsPartOnlyByRounding) {
  TestRng rng;
  Pair p(seed_of(rng), 3 * 16);
  p.a.numerics.cpu_conv_algorithm = CpuConvAlgorithm::OneDnn;
  p.b.numerics.cpu_conv_algorithm = CpuConvAlgorithm::Im2colGemm;
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 3, .batch_size = 16});
  EXPECT_FALSE(r.first.has_value()) << r.summary();
  EXPECT_EQ(r.a_numerics.cpu_conv_algorithm, cpu_conv_algorithm_used(kFloat32));
  EXPECT_EQ(r.b_numerics.cpu_conv_algorithm, CpuConvAlgorithm::Im2colGemm);
  EXPECT_EQ(cpu_conv_algorithm(), CpuConvAlgorithm::OneDnn) << "lockstep left a side's algorithm set";
}

// A side on a GPU: batches go to its device, comparisons are made on the host.
TEST(Lockstep, ComparesACpuSideWithAGpuSide) {
  if (!cuda::is_available()) GTEST_SKIP() << "no CUDA device: this build or machine has no GPU (CUDA tests skipped)";
  TestRng rng;
  Pair p(seed_of(rng), 2 * 16);
  p.th.to(Device::cuda(0));
  p.th_opt = std::make_unique<optim::Adam>(p.th.parameters(), optim::AdamOptions{.lr = 1e-2},
                                           optim::presets::keras2_theano);
  p.b.optimizer = p.th_opt.get();
  const train::DivergenceReport r = train::lockstep(p.a, p.b, p.x, p.y, {.steps = 2, .batch_size = 16});
  EXPECT_EQ(r.b_numerics.device, Device::cuda(0));
  EXPECT_FALSE(r.first.has_value()) << r.summary();
}

TEST(Lockstep, RejectsBadInput) {
  TestRng rng;
  Pair p(seed_of(rng), 16);
  EXPECT_THROW(train::lockstep(p.a, p.b, p.x, p.y, {.steps = 2, .batch_size = 16}), Error);  // too few samples
  train::LockstepSide unbuilt{"x", nullptr, nullptr};
  EXPECT_THROW(train::lockstep(unbuilt, p.b, p.x, p.y, {.steps = 1, .batch_size = 16}), Error);
}

TEST(Lockstep, SumRoundingBoundIsTwiceGammaK) {
  const double u = std::ldexp(1.0, -24);
  EXPECT_DOUBLE_EQ(train::sum_rounding_bound(1, 1.0), 2 * u / (1 - u));
  EXPECT_DOUBLE_EQ(train::sum_rounding_bound(100, 3.0), 2 * 100 * u / (1 - 100 * u) * 3.0);
  EXPECT_EQ(train::sum_rounding_bound(0, 5.0), 0.0);
}

}  // namespace
}  // namespace parity::testing
