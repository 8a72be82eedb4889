// Optimizer step benchmarks on CUDA: the fused updates of
// parity/cuda/optim_update.cu, and composed mode where the preset allows it.
//
// Names: optim_<optimizer>/<preset>/<fused|composed>/cuda/<n>, n = 1M, 10M,
// 100M parameters. Timing: CUDA events around each step (manual time); each
// step moves 28 bytes per parameter for Adam and Adadelta, 20 for SGD with
// momentum, reported as bytes/s and "copy_frac", the share of the card's
// device-to-device copy bandwidth (cudaMemcpyAsync of 256 MiB, bytes read +
// written, best of 10) measured in the same process. Target on an H100: >= 0.9
// for the fused Adam step at 100M. Before timing, each benchmark checks that
// 3 CUDA steps give the CPU's bits (strict mode) and fails otherwise.
// Without a GPU (or without the CUDA backend) it registers nothing and says so.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_cuda_common.h"
#include "parity/cuda/api.h"
#include "bench/bench_optim_common.h"
#include "parity/optim/optim.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

#if PARITY_WITH_CUDA
#include <cuda_runtime.h>
#endif

using namespace parity;
using namespace parity::optim;

namespace {

#if PARITY_WITH_CUDA

using bench::copy_bandwidth;
using bench::stream;

using Kind = bench::OptimizerKind;
using bench::bytes_per_element;


// 3 steps on the CPU and on CUDA from the same data: the same bits.
bool matches_cpu(Kind kind, const Preset& preset, Execution execution) {
  const Tensor init = randn({100003});
  const Tensor pc = init.clone().requires_grad_(), pg = init.to(Device::cuda()).requires_grad_();
  auto oc = bench::make_optimizer(kind, pc, preset), og = bench::make_optimizer(kind, pg, preset);
  oc->set_execution(execution);
  og->set_execution(execution);
  for (int i = 0; i < 3; ++i) {
    const Tensor g = randn({100003});
    pc.set_grad(g);
    pg.set_grad(g.to(Device::cuda()));
    oc->step();
    og->step();
  }
  return pg.to(Device::cpu()).to_vector<float>() == pc.to_vector<float>();
}

void BM_Step(benchmark::State& state, Kind kind, const Preset* preset, Execution execution) {
  if (!matches_cpu(kind, *preset, execution)) {
    state.SkipWithError("CUDA step differs from the CPU step");
    return;
  }
  const std::int64_t n = state.range(0);
  Tensor p = randn({n}, {.device = Device::cuda()}).requires_grad_();
  p.set_grad(randn({n}, {.device = Device::cuda()}, 0.0, 1e-3));
  auto opt = bench::make_optimizer(kind, p, *preset);
  opt->set_execution(execution);
  opt->step();
  cuda::Event start, stop;
  for (auto _ : state) {
    start.record();
    opt->step();
    stop.record();
    stop.synchronize();
    state.SetIterationTime(static_cast<double>(stop.elapsed_ms(start)) * 1e-3);
  }
  const std::int64_t bytes = bytes_per_element(kind) * n;
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["copy_frac"] = benchmark::Counter(static_cast<double>(bytes) / copy_bandwidth(),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  const std::vector<const Preset*> families = {&presets::pytorch, &presets::keras2_theano,
                                               &presets::keras2_tensorflow, &presets::tf_raw,
                                               &presets::optax};
  for (Kind kind : {Kind::Adam, Kind::Adadelta, Kind::SgdMomentum}) {
    for (const Preset* preset : families) {
      if (kind != Kind::Adam && preset != &presets::pytorch && preset != &presets::keras2_theano) continue;
      for (Execution execution : {Execution::Fused, Execution::Composed}) {
        if (execution == Execution::Composed) {
          try {
            Tensor probe = zeros({1}).requires_grad_();
            bench::make_optimizer(kind, probe, *preset)->set_execution(Execution::Composed);
          } catch (const Error&) {
            continue;
          }
        }
        const char* k = bench::name(kind);
        const std::string name = std::string("optim_") + k + "/" + preset->name + "/" +
                                 (execution == Execution::Fused ? "fused" : "composed") + "/cuda";
        benchmark::RegisterBenchmark(name.c_str(), BM_Step, kind, preset, execution)
            ->Arg(1'000'000)
            ->Arg(10'000'000)
            ->Arg(100'000'000)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

#endif

}  // namespace

int main(int argc, char** argv) {
#if PARITY_WITH_CUDA
  return parity::bench::run_cuda_suite(argc, argv, "bench_optim_cuda", [] {
    benchmark::AddCustomContext("cuda_copy_GBps", std::to_string(copy_bandwidth() / 1e9));
    register_all();
  });
#else
  return parity::bench::run_cuda_suite(argc, argv, "bench_optim_cuda", nullptr);
#endif
}
