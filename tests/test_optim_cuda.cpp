// The optimizers on CUDA (skipped, with a message, where there is no GPU):
//
// - every golden trace replayed on the GPU: the fused CUDA kernel runs the same
//   functor with the same rounded operations (__fadd_rn, __fmul_rn, __fmaf_rn,
//   ..., --fmad=false), so it must give the CPU's bits. The traces replayed
//   bit-exactly on the CPU (tests/test_optim_golden.cpp) must be bit-exact on
//   the GPU too; the bounded ones (MKL's sqrt) are replayed on both devices in
//   lockstep and the GPU's parameters and state must be the CPU's, bit for bit,
//   after every step;
// - CPU vs CUDA bit for bit for every preset, strict mode, on data with zeros,
//   subnormals and values whose square overflows, fused and composed;
// - a parameter and a gradient on different devices are refused.
// Presets using the x86 rsqrt estimate (RsqrtMode::EigenAvx*) are refused on
// CUDA; the test checks that refusal instead.
#include "parity/autograd/node.h"
#include "test_optim_golden.h"

using namespace parity;
using namespace parity::optim;

namespace {

bool have_gpu() { return cuda::is_available(); }
#define SKIP_WITHOUT_GPU() \
  if (!have_gpu())         \
  GTEST_SKIP() << "no CUDA device (or no CUDA backend in this build): CUDA optimizer tests skipped"

bool uses_estimate(const Preset& p, const std::string& optimizer) {
  return golden::uses_rsqrt_estimate(p, optimizer);
}

// The traces replayed bit-exactly on the CPU (tests/test_optim_golden.cpp lists
// the others: the MKL-sqrt ones are compared CPU vs CUDA instead).
bool bit_exact_on_cpu(const golden::Trace& t) {
  const bool mkl = (t.preset == "pytorch" || t.preset == "pytorch_foreach" || t.preset == "keras3_torch") &&
                   (t.optimizer == "adam" || t.optimizer == "adadelta");
  return !mkl;
}

// Replays trace `t` on the CPU and on `device` (the GPU) in lockstep (the
// trace's gradients, all its steps) and requires the device's parameters, state
// tensors and state scalars to be the CPU's, bit for bit, after every step.
void expect_device_bits_equal_cpu_bits(const golden::Trace& t, const Preset& preset, Device device) {
  const std::vector<Tensor> pc = golden::fresh_params(Device::cpu()), pg = golden::fresh_params(device);
  const std::unique_ptr<Optimizer> oc = golden::make_optimizer(t, preset, pc);
  const std::unique_ptr<Optimizer> og = golden::make_optimizer(t, preset, pg);
  std::vector<Tensor> gc, gg;
  for (const golden::TensorSpec& s : golden::inputs()) {
    gc.push_back(s.grads);
    gg.push_back(s.grads.to(device));
  }
  const auto steps = golden::manifest().at("steps").get<std::int64_t>();
  ASSERT_GT(steps, 0);
  const auto expect_same = [&](const Tensor& gpu, const Tensor& cpu, const std::string& what,
                               std::int64_t step) {
    const golden::Mismatch m =
        golden::compare_bits(gpu.to(Device::cpu()).to_vector<float>(), cpu.to_vector<float>());
    if (m.count == 0) return true;
    ADD_FAILURE() << t.id << ": " << what << " after step " << step << ": " << m.count
                  << " elements differ; first [" << m.first << "] CUDA " << golden::hex(m.got) << ", CPU "
                  << golden::hex(m.want) << " (" << m.max_ulp << " ulp at most)";
    return false;
  };
  for (std::int64_t step = 1; step <= steps; ++step) {
    for (std::size_t i = 0; i < pc.size(); ++i) {
      pc[i].set_grad(gc[i].select(0, step - 1));
      pg[i].set_grad(gg[i].select(0, step - 1));
    }
    oc->step();
    og->step();
    const StateDict sc = oc->state_dict(), sg = og->state_dict();
    bool same = true;
    for (std::size_t i = 0; i < pc.size(); ++i) {
      const std::string name = golden::inputs()[i].name;
      same = expect_same(pg[i], pc[i], "param_" + name, step) && same;
      const StateDict::Param &cpu = sc.groups.at(0).params.at(i), &gpu = sg.groups.at(0).params.at(i);
      ASSERT_EQ(gpu.tensors.size(), cpu.tensors.size()) << t.id << ": state tensors of " << name;
      for (const auto& [key, want] : cpu.tensors) {
        const auto got = gpu.tensors.find(key);
        ASSERT_NE(got, gpu.tensors.end()) << t.id << ": no state '" << key << "' on CUDA";
        same = expect_same(got->second, want, key + "_" + name, step) && same;
      }
      EXPECT_EQ(gpu.scalars, cpu.scalars) << t.id << ": state scalars of " << name << " after step " << step;
      same = same && gpu.scalars == cpu.scalars;
    }
    if (!same) return;  // the first differing step is the informative one
  }
}

class GoldenReplayCuda : public testing::TestWithParam<golden::Trace> {};

TEST_P(GoldenReplayCuda, SameBitsAsTheCpu) {
  SKIP_WITHOUT_GPU();
  const golden::Trace& t = GetParam();
  const Preset& preset = golden::preset_for(t.preset);
  if (uses_estimate(preset, t.optimizer)) {
    const std::vector<Tensor> ps = golden::fresh_params(Device::cuda());
    EXPECT_THROW(golden::make_optimizer(t, preset, ps), Error)
        << "the x86 rsqrt estimate must be refused on CUDA";
    return;
  }
  if (bit_exact_on_cpu(t)) {
    const golden::ReplayResult gpu = golden::replay(t, preset, Device::cuda());
    EXPECT_TRUE(gpu.ok) << t.id << " on CUDA: " << gpu.first_failure << "; largest distance " << gpu.max_ulp
                        << " ulp";
  } else {
    // Bounded on the CPU (MKL's sqrt): the GPU must still compute the CPU's bits.
    expect_device_bits_equal_cpu_bits(t, preset, Device::cuda());
  }
}

std::string trace_name(const testing::TestParamInfo<golden::Trace>& info) {
  std::string n = info.param.id + (info.param.cpu_set.empty() ? "" : "_" + info.param.cpu_set);
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Traces, GoldenReplayCuda, testing::ValuesIn(golden::traces()), trace_name);

Tensor extreme_grad(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v =
      mul(randn(shape, {}, 0.0, 1.0, &gen), exp(rand(shape, {}, -20.0, 20.0, &gen))).to_vector<float>();
  for (std::size_t i = 0; i < v.size(); i += 11) v[i] = 0.0f;
  for (std::size_t i = 3; i < v.size(); i += 17) v[i] = -2e-42f;
  for (std::size_t i = 5; i < v.size(); i += 23) v[i] = 4e19f;
  return from_vector(v, shape);
}

// Strict mode (the default MathMode): every preset, every optimizer, CPU and CUDA
// give the same bits step after step, fused and (where allowed) composed.
TEST(OptimCuda, CpuAndCudaAgreeBitForBitForEveryPreset) {
  SKIP_WITHOUT_GPU();
  const Shape shape{3, 1001};  // not a multiple of 8 or of a warp
  int compared_fused = 0, compared_composed = 0;
  const auto accepts = [](Optimizer& opt, Execution execution) {
    try {
      opt.set_execution(execution);
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  for (const Preset* preset : presets::all()) {
    for (const char* kind : {"adam", "adadelta", "sgd", "sgd_momentum", "sgd_nesterov"}) {
      const std::string k = kind;
      if ((k == "adam" && !preset->has_adam) || (k == "adadelta" && !preset->has_adadelta) ||
          (k.rfind("sgd", 0) == 0 && !preset->has_sgd)) {
        continue;
      }
      if (uses_estimate(*preset, k)) continue;
      for (Execution execution : {Execution::Fused, Execution::Composed}) {
        Generator gen(7);
        const Tensor init = randn(shape, {}, 0.0, 1.0, &gen);
        const Tensor pc = init.clone().requires_grad_(), pg = init.to(Device::cuda()).requires_grad_();
        std::unique_ptr<Optimizer> oc, og;
        if (k == "adam") {
          oc = std::make_unique<Adam>(std::vector<Tensor>{pc}, AdamOptions{.lr = 1e-2, .amsgrad = true},
                                      *preset);
          og = std::make_unique<Adam>(std::vector<Tensor>{pg}, AdamOptions{.lr = 1e-2, .amsgrad = true},
                                      *preset);
        } else if (k == "adadelta") {
          oc = std::make_unique<Adadelta>(std::vector<Tensor>{pc}, AdadeltaOptions{.lr = 0.5}, *preset);
          og = std::make_unique<Adadelta>(std::vector<Tensor>{pg}, AdadeltaOptions{.lr = 0.5}, *preset);
        } else {
          const SgdOptions o{.lr = 0.01, .momentum = k == "sgd" ? 0.0 : 0.9, .nesterov = k == "sgd_nesterov"};
          oc = std::make_unique<SGD>(std::vector<Tensor>{pc}, o, *preset);
          og = std::make_unique<SGD>(std::vector<Tensor>{pg}, o, *preset);
        }
        const bool fused = execution == Execution::Fused;
        const char* mode = fused ? "fused" : "composed";
        const bool cpu_accepts = accepts(*oc, execution), gpu_accepts = accepts(*og, execution);
        ASSERT_EQ(gpu_accepts, cpu_accepts) << preset->name << " " << k << " " << mode
                                            << ": CUDA and the CPU must accept the same execution modes";
        if (fused) {
          ASSERT_TRUE(cpu_accepts) << preset->name << " " << k << ": fused mode runs every preset";
        } else if (!cpu_accepts) {
          continue;  // an FMA site: no separate tensor ops compute it (Note [Fused and composed])
        }
        ++(fused ? compared_fused : compared_composed);
        for (int step = 1; step <= 20; ++step) {
          const Tensor g = extreme_grad(shape, 100 + static_cast<std::uint64_t>(step));
          pc.set_grad(g);
          pg.set_grad(g.to(Device::cuda()));
          oc->step();
          og->step();
          const golden::Mismatch m =
              golden::compare_bits(pg.to(Device::cpu()).to_vector<float>(), pc.to_vector<float>());
          ASSERT_EQ(m.count, 0) << preset->name << " " << k << " " << mode << " step " << step << ": element "
                                << m.first << " CUDA " << golden::hex(m.got) << " CPU "
                                << golden::hex(m.want);
        }
      }
    }
  }
  // As on the CPU (Optim.FusedAndComposedAgreeBitForBitWithoutFmaSites): composed
  // mode covers the presets that round every op to float32.
  EXPECT_GE(compared_composed, 25) << "composed-mode comparisons; fused: " << compared_fused;
  EXPECT_GT(compared_fused, compared_composed);
}

TEST(OptimCuda, ParameterAndGradientOnDifferentDevicesAreRefused) {
  SKIP_WITHOUT_GPU();
  const Tensor p = zeros({4}, {.device = Device::cuda()}).requires_grad_();
  Adam opt({p});
  EXPECT_THROW(p.set_grad(zeros({4})), Error);
  autograd::detail::meta(p).grad = zeros({4});  // bypass set_grad's own check
  try {
    opt.step();
    ADD_FAILURE() << "expected parity::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is on cuda:0 but its gradient is on cpu"), std::string::npos)
        << e.what();
  }
}

TEST(OptimCuda, EstimatePresetsAreRefusedOnCuda) {
  SKIP_WITHOUT_GPU();
  const Tensor p = zeros({4}, {.device = Device::cuda()}).requires_grad_();
  EXPECT_THROW(Adadelta({p}, {}, presets::tf_raw), Error);
}

// A group refused when it is added leaves the optimizer as it was: before, the
// group was kept without its hyper-parameters, and lr(1) read past their end.
TEST(OptimCuda, ARefusedGroupLeavesTheOptimizerAsItWas) {
  SKIP_WITHOUT_GPU();
  const Tensor cpu_param = zeros({4}).requires_grad_();
  const Tensor cuda_param = zeros({4}, {.device = Device::cuda()}).requires_grad_();
  Adadelta opt({cpu_param}, {}, presets::tf_raw);
  EXPECT_THROW(opt.add_param_group({cuda_param}), Error);
  EXPECT_EQ(opt.num_groups(), 1u);
  EXPECT_THROW(opt.lr(1), Error);
}

// Runs everywhere: without a GPU the CUDA device is refused with a clear error.
TEST(OptimCuda, WithoutAGpuCudaParametersCannotBeMade) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present";
  EXPECT_THROW(zeros({4}, {.device = Device::cuda()}), Error);
}

}  // namespace
