// One training step of the seed model (tools/seed/seed.h), and its big Dense
// layer, on the CPU (reduced image sizes) and on CUDA (the seed's 224x224).
//
//   seed_train_step/f32/<device>/<size>   zero_grad, forward, mse, backward, Adam step; batch 64
//   dense_train/f32/<device>/<in>          Dense(in -> 64) forward + backward at batch 64
//
// FLOP/s counts the convolutions' and Dense layers' multiply-adds (2 per MAC):
// the forward pass, the weight gradients and the input gradients (except the
// first conv's, which nothing needs). Elementwise ops, pooling and the
// optimizer are not counted, so this is a lower bound on the work done. Each
// step reads the loss back to the host (as fit() does), which synchronizes, so
// wall time is the device time plus the host's.
#include <benchmark/benchmark.h>
#include <parity/parity.h>

#include <cstdio>
#include <string>

#include "tools/seed/seed.h"
#include "parity/train/train.h"

namespace parity::bench {
namespace {

constexpr std::int64_t kBatch = 64;

// Multiply-adds of one forward pass of the seed model on size x size images, per sample.
struct SeedMacs {
  double conv1 = 0, conv2 = 0, dense1 = 0, dense2 = 0;
};

SeedMacs seed_macs(std::int64_t size) {
  const double o1 = static_cast<double>(size - 6), o2 = static_cast<double>(size - 12);
  const double pooled = static_cast<double>(seed::pooled_size(size));
  return {o1 * o1 * 64 * 3 * 49, o2 * o2 * 64 * 64 * 49, pooled * pooled * 64 * 64, 64.0 * 8};
}

double train_step_flops(std::int64_t size) {
  const SeedMacs m = seed_macs(size);
  // conv1: forward + weight grad; the others: forward + weight grad + input grad.
  return 2.0 * kBatch * (2 * m.conv1 + 3 * (m.conv2 + m.dense1 + m.dense2));
}

void BM_SeedTrainStep(benchmark::State& state, Device device, CpuConvAlgorithm algorithm) {
  CpuConvAlgorithmGuard conv(algorithm);
  const std::int64_t size = state.range(0);
  nn::Sequential model = seed::model();
  model.build({size, size, 3}, {.seed = 6, .device = device});
  optim::Adam adam(model.parameters(), {}, optim::presets::keras2_tensorflow);
  const seed::Data data = seed::data(kBatch, size);
  const Tensor x = data.x.to(device), y = data.y.to(device);
  train::train_step(model, adam, nn::losses::mse, x, y);  // warm up: allocator, algorithm choice
  for (auto _ : state) {
    benchmark::DoNotOptimize(train::train_step(model, adam, nn::losses::mse, x, y).loss_value);
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(train_step_flops(size), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseTrain(benchmark::State& state, Device device) {
  const std::int64_t in = state.range(0);
  nn::Dense dense{{.units = 64}};
  dense.build({in}, {.seed = 1, .device = device});
  const Tensor x = rand({kBatch, in}, {.device = device});
  const Tensor g = rand({kBatch, 64}, {.device = device});
  for (auto _ : state) {
    Tensor y = dense(x);
    y.backward(g);
    benchmark::DoNotOptimize(dense.parameters()[0].grad().data_ptr());
    if (device.is_cuda()) cuda::synchronize(device.index);
  }
  // forward + weight grad (x needs none): 2 GEMMs of batch x in x 64.
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * 2.0 * kBatch * static_cast<double>(in) * 64,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void register_device(Device device) {
  const std::string d = device.is_cpu() ? "cpu" : "cuda";
  // On the CPU: the default (oneDNN where built with it) and the im2col + GEMM reference path.
  std::vector<std::pair<std::string, CpuConvAlgorithm>> variants{{d, CpuConvAlgorithm::OneDnn}};
  if (device.is_cpu()) variants.push_back({"cpu_im2col", CpuConvAlgorithm::Im2colGemm});
  for (const auto& [label, algorithm] : variants) {
    auto* step = benchmark::RegisterBenchmark(("seed_train_step/f32/" + label).c_str(), BM_SeedTrainStep, device,
                                              algorithm);
    if (device.is_cpu()) {
      step->Arg(32)->Arg(64);
      if (label == "cpu") step->Arg(224);  // the seed's own size: ~8 s a step
    } else {
      step->Arg(64)->Arg(224);
    }
    step->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(device.is_cpu() ? 2.0 : 1.0);
  }
  benchmark::RegisterBenchmark(("dense_train/f32/" + d).c_str(), BM_DenseTrain, device)
      ->Arg(53 * 53 * 64)  // the seed's Dense(64) after the Flatten at 224x224
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace
}  // namespace parity::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  parity::bench::register_device(parity::Device::cpu());
  if (parity::cuda::is_available()) {
    parity::bench::register_device(parity::Device::cuda());
  } else {
    std::printf("bench_seed: no CUDA device: CPU benchmarks only\n");
  }
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
