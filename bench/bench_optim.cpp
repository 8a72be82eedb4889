// Optimizer step benchmarks on the CPU.
//
//   build/bench/bench_optim [--benchmark_filter=...]
//   PARITY_BENCH_OPTIM_SIZES=1000000,10000000 build/bench/bench_optim   (sizes override)
//
// Names: optim_<optimizer>/<preset>/<fused|composed>/cpu/<n>. Each reports
// bytes/s against the minimum traffic of one step and "copy_frac", its share of
// the machine's copy bandwidth measured at start-up in the same process
// (stream_copy/f32/cpu, also reported):
//
//   Adam, Adadelta:   param, grad and two state tensors read; param and state written: 28 bytes/element
//   SGD with momentum: param, grad, buffer read; param, buffer written: 20 bytes/element
//
// Fused runs one pass per tensor (parity/optim/launch.h, run by the backend); composed runs every
// operation as a separate tensor op (Note [Fused and composed]), only for the
// presets that allow it. The presets are one per family of update forms:
// pytorch (Torch form, lerp and addcmul FMAs), keras2_theano (Keras 2 ε-hat
// form, no FMA), keras2_tensorflow (the same with flush-to-zero on every op),
// tf_raw (TF kernels, running beta powers), optax (XLA-contracted Optax form).
// Default sizes: 1M, 10M and 100M parameters (100M Adam holds 4 x 400 MB).
// TORCH=1 SUITES=optim scripts/bench runs this next to PyTorch 1.13's optimizers in one go.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_optim_common.h"
#include "parity/optim/optim.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

using namespace parity;
using namespace parity::optim;

namespace {

double g_copy_bytes_per_second = 0.0;

std::vector<std::int64_t> sizes() {
  std::vector<std::int64_t> out;
  if (const char* env = std::getenv("PARITY_BENCH_OPTIM_SIZES")) {
    std::stringstream in(env);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
    return out;
  }
  return {1'000'000, 10'000'000, 100'000'000};
}

// GCC would turn the loop into memcpy (non-temporal stores): keep plain stores, as the kernels use.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
void copy_loop(float* __restrict a, const float* __restrict b, std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i];
}

// STREAM-like copy over 2 x 256 MiB: bytes read + bytes written per second, best of 10.
double measure_copy_bandwidth() {
  const std::int64_t n = std::int64_t{1} << 26;
  Tensor ta = zeros({n}), tb = ones({n});
  float* a = ta.data<float>();
  const float* b = tb.data<float>();
  copy_loop(a, b, n);
  double best = 0.0;
  for (int rep = 0; rep < 10; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    copy_loop(a, b, n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * static_cast<double>(n) * sizeof(float) / s);
  }
  return best;
}

void BM_StreamCopy(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  Tensor ta = zeros({n}), tb = ones({n});
  for (auto _ : state) {
    copy_loop(ta.data<float>(), tb.data<float>(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * std::int64_t{sizeof(float)});
  state.counters["threads"] = omp_get_max_threads();
}

using Kind = bench::OptimizerKind;
using bench::bytes_per_element;


void BM_Step(benchmark::State& state, Kind kind, const Preset* preset, Execution execution) {
  const std::int64_t n = state.range(0);
  Tensor p = randn({n}).requires_grad_();
  p.set_grad(randn({n}, {}, 0.0, 1e-3));
  std::unique_ptr<Optimizer> opt = bench::make_optimizer(kind, p, *preset);
  opt->set_execution(execution);
  opt->step();  // creates the state outside the timed loop
  for (auto _ : state) {
    opt->step();
    benchmark::ClobberMemory();
  }
  const std::int64_t bytes = bytes_per_element(kind) * n;
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["copy_frac"] = benchmark::Counter(static_cast<double>(bytes) / g_copy_bytes_per_second,
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = omp_get_max_threads();
  state.counters["simd"] = cpu_simd() ? 1 : 0;
}

const char* kind_name(Kind k) { return bench::name(k); }

void register_all() {
  benchmark::RegisterBenchmark("stream_copy/f32/cpu", BM_StreamCopy)
      ->Arg(std::int64_t{1} << 26)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  const std::vector<const Preset*> families = {&presets::pytorch,       &presets::pytorch_1_13,
                                               &presets::keras2_theano, &presets::keras2_tensorflow,
                                               &presets::tf_raw,        &presets::optax};
  for (Kind kind : {Kind::Adam, Kind::Adadelta, Kind::SgdMomentum}) {
    for (const Preset* preset : families) {
      if ((kind == Kind::Adadelta && !preset->has_adadelta) ||
          (kind == Kind::SgdMomentum && !preset->has_sgd))
        continue;
      if (kind != Kind::Adam && preset != &presets::pytorch && preset != &presets::keras2_theano) continue;
      if (preset == &presets::pytorch_1_13 && kind != Kind::Adam) continue;
      for (Execution execution : {Execution::Fused, Execution::Composed}) {
        // Composed only where the preset allows it (no FMA site, no hardware estimate).
        if (execution == Execution::Composed) {
          try {
            Tensor probe = zeros({1}).requires_grad_();
            bench::make_optimizer(kind, probe, *preset)->set_execution(Execution::Composed);
          } catch (const Error&) {
            continue;
          }
        }
        const std::string name = std::string("optim_") + kind_name(kind) + "/" + preset->name + "/" +
                                 (execution == Execution::Fused ? "fused" : "composed") + "/cpu";
        auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Step, kind, preset, execution);
        for (std::int64_t n : sizes()) {
          // Composed mode allocates ~10 temporaries per step: keep it to the smaller sizes.
          if (execution == Execution::Composed && n > 10'000'000) continue;
          b->Arg(n);
        }
        b->UseRealTime()->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_copy_bytes_per_second = measure_copy_bandwidth();
  std::printf("copy bandwidth (2 x 256 MiB, %d threads, best of 10): %.2f GB/s\n", omp_get_max_threads(),
              g_copy_bytes_per_second / 1e9);
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("copy_bandwidth_GBps", std::to_string(g_copy_bytes_per_second / 1e9));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
