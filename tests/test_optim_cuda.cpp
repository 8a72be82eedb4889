// The optimizers on CUDA (skipped, with a message, where there is no GPU):
//
// - every golden trace replayed on the GPU, with the same expectations as on the
//   CPU (tests/test_optim_golden.cpp): the fused CUDA kernel runs the same
//   functor with the same rounded operations (__fadd_rn, __fmul_rn, __fmaf_rn,
//   ..., --fmad=false), so it must give the CPU's bits;
// - CPU vs CUDA bit for bit for every preset, strict mode, on data with zeros,
//   subnormals and values whose square overflows, fused and composed;
// - a parameter and a gradient on different devices are refused.
// Presets using the x86 rsqrt estimate (RsqrtMode::EigenAvx*) are refused on
// CUDA; the test checks that refusal instead.
#include "autograd/node.h"
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
  const golden::ReplayResult gpu = golden::replay(t, preset, Device::cuda());
  if (bit_exact_on_cpu(t)) {
    EXPECT_TRUE(gpu.ok) << t.id << " on CUDA: " << gpu.first_failure << "; largest distance " << gpu.max_ulp
                        << " ulp";
  } else {
    const golden::ReplayResult cpu = golden::replay(t, preset, Device::cpu());
    EXPECT_EQ(gpu.max_ulp, cpu.max_ulp) << t.id << ": CUDA and CPU depart from the trace differently";
  }
}

std::string trace_name(const testing::TestParamInfo<golden::Trace>& info) {
  std::string n = info.param.id;
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
        try {
          oc->set_execution(execution);
          og->set_execution(execution);
        } catch (const Error&) {
          continue;
        }
        for (int step = 1; step <= 20; ++step) {
          const Tensor g = extreme_grad(shape, 100 + static_cast<std::uint64_t>(step));
          pc.set_grad(g);
          pg.set_grad(g.to(Device::cuda()));
          oc->step();
          og->step();
          const golden::Mismatch m =
              golden::compare_bits(pg.to(Device::cpu()).to_vector<float>(), pc.to_vector<float>());
          ASSERT_EQ(m.count, 0) << preset->name << " " << k
                                << (execution == Execution::Fused ? " fused" : " composed") << " step "
                                << step << ": element " << m.first << " CUDA " << golden::hex(m.got)
                                << " CPU " << golden::hex(m.want);
        }
      }
    }
  }
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

// Runs everywhere: without a GPU the CUDA device is refused with a clear error.
TEST(OptimCuda, WithoutAGpuCudaParametersCannotBeMade) {
  if (have_gpu()) GTEST_SKIP() << "a GPU is present";
  EXPECT_THROW(zeros({4}, {.device = Device::cuda()}), Error);
}

}  // namespace
