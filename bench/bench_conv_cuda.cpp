// The CUDA convolution and pooling benchmarks (cuDNN: parity/cuda/conv.cpp,
// parity/cuda/pool.cpp) at the seed model's layers at full size (seed/keras-issue.txt:
// batch 64, Keras' NHWC images and HWIO kernels; the argument is the model's
// input size, 224): Conv2D(64, 7x7, valid) on 224x224x3 (seed1), then on
// 218x218x64 -> 212x212x64 (seed2), and MaxPool2D(4x4) on 212x212x64.
//
//   conv2d_{fwd,bwd_input,bwd_weight}_seed{1,2}_nhwc_{strict,tf32}_{det,fast}/f32/cuda/224
//   max_pool2d_{fwd,bwd}_4x4_nhwc/f32/cuda/224
//
// strict / tf32: MathMode (parity/tensor/context.h). det / fast: the deterministic
// algorithm cuDNN's heuristics rank first (Parity's default) or the fastest
// one cudnnFind measures (deterministic(false)); the difference is the price of
// reproducibility. Counters: FLOP/s = 2*N*OH*OW*Cout*Cin*KH*KW per pass (each
// of the three passes does that many multiply-adds); pooling reports bytes/s
// (forward: x read, y written; backward: x, y and dy read, dx written: what
// cuDNN's max-pool backward reads) and copy_frac, its share of the card's
// device-to-device copy bandwidth measured in the same run.
//
// Timing as bench/bench_cuda.cpp: CUDA events around each call, manual time, an
// L2 flush before each. Each benchmark first checks its own configuration
// against the CPU backend on the batch's first image (for the weight gradient,
// a dy that is zero past the first image, so the batch's gradient is that
// image's) and fails (SkipWithError) on a mismatch; that call also makes the
// algorithm choice (and, in fast mode, runs cudnnFind's timing), so neither is
// timed. Without a GPU it registers nothing and says so.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/bench_cuda_common.h"
#include "parity/cuda/api.h"
#include "parity/tensor/context.h"
#include "parity/tensor/conv.h"
#include "parity/tensor/pool.h"

#if PARITY_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace parity::bench {
namespace {

#if PARITY_WITH_CUDA

constexpr Device kCuda = Device::cuda(0);
constexpr Device kCpu = Device::cpu();
constexpr std::int64_t kBatch = 64;
constexpr std::int64_t kFilters = 64;
constexpr std::int64_t kKernel = 7;

// max |gpu - cpu| <= rel_tol * max |cpu|.
bool close_to(const Tensor& gpu, const Tensor& cpu, double rel_tol, const char* what) {
  const Tensor g = gpu.to(kCpu).to(kFloat64), c = cpu.to(kFloat64);
  const double err = max(abs(sub(g, c))).item<double>(), scale = max(abs(c)).item<double>();
  if (!(err <= rel_tol * scale)) {
    std::fprintf(stderr, "bench_conv_cuda: %s: max |cuda - cpu| = %g > %g * %g\n", what, err, rel_tol, scale);
    return false;
  }
  return true;
}

// ---- convolution ----

struct Layer {
  std::int64_t in_channels, in_size;
  std::int64_t out_size() const { return in_size - kKernel + 1; }
  double flops() const {
    return 2.0 * kBatch * static_cast<double>(out_size() * out_size()) * kFilters * in_channels * kKernel *
           kKernel;
  }
};
Layer seed_layer(int which, std::int64_t size) {
  return which == 1 ? Layer{3, size} : Layer{kFilters, size - 6};
}

enum class Pass { Forward, BackwardInput, BackwardWeight };

// The operands of one layer at batch 64 on the GPU, made once per layer.
struct Operands {
  Tensor x, w, b, dy, dy_first;  // dy_first: dy on the first image, zero elsewhere
  std::map<int, Tensor> cpu;     // the CPU's result of each pass on the first image
};

Operands& operands(int which, std::int64_t size) {
  static std::map<std::pair<int, std::int64_t>, Operands>* cache =
      new std::map<std::pair<int, std::int64_t>, Operands>;
  auto it = cache->find({which, size});
  if (it != cache->end()) return it->second;
  // One layer's operands at a time: layer 2's take ~3 GB.
  cache->clear();
  const Layer L = seed_layer(which, size);
  const TensorOptions t{.device = kCuda};
  Operands o;
  o.x = rand({kBatch, L.in_size, L.in_size, L.in_channels}, t, -1.0, 1.0);
  o.w = rand({kKernel, kKernel, L.in_channels, kFilters}, t, -0.1, 0.1);
  o.b = rand({kFilters}, t, -0.1, 0.1);
  o.dy = rand({kBatch, L.out_size(), L.out_size(), kFilters}, t, -1.0, 1.0);
  o.dy_first = zeros(o.dy.shape(), t);
  o.dy_first.narrow(0, 0, 1).copy_(o.dy.narrow(0, 0, 1));
  return cache->emplace(std::pair{which, size}, std::move(o)).first->second;
}

// The CPU's result of `pass` on the first image, computed once per layer and pass.
const Tensor& cpu_reference(Pass pass, Operands& o, const Conv2dOptions& opts) {
  auto it = o.cpu.find(static_cast<int>(pass));
  if (it != o.cpu.end()) return it->second;
  const Tensor x0 = o.x.narrow(0, 0, 1).to(kCpu), dy0 = o.dy.narrow(0, 0, 1).to(kCpu);
  const Tensor w = o.w.to(kCpu), b = o.b.to(kCpu);
  Tensor ref;
  switch (pass) {
    case Pass::Forward:
      ref = conv2d(x0, w, b, opts);
      break;
    case Pass::BackwardInput:
      ref = conv2d_backward_input(dy0, w, x0.shape(), opts);
      break;
    case Pass::BackwardWeight:
      ref = conv2d_backward_weight(x0, dy0, w.shape(), opts);
      break;
  }
  return o.cpu.emplace(static_cast<int>(pass), ref).first->second;
}

void BM_Conv(benchmark::State& state, int which, Pass pass, MathMode math, bool det) {
  const std::int64_t size = state.range(0);
  const Layer L = seed_layer(which, size);
  Operands& o = operands(which, size);
  const Conv2dOptions opts{};  // NHWC, HWIO, valid, cross-correlation: Keras' Conv2D
  MathModeGuard math_guard(math);
  DeterministicGuard det_guard(det);
  {
    // The check (and the warm-up: the algorithm choice, cudnnFind in fast mode).
    Tensor got;
    switch (pass) {
      case Pass::Forward:
        got = conv2d(o.x, o.w, o.b, opts).narrow(0, 0, 1);
        break;
      case Pass::BackwardInput:
        got = conv2d_backward_input(o.dy, o.w, o.x.shape(), opts).narrow(0, 0, 1);
        break;
      case Pass::BackwardWeight:
        got = conv2d_backward_weight(o.x, o.dy_first, o.w.shape(), opts);
        break;
    }
    // Errors: a few ulps of the largest partial sums in strict FP32 (m up to
    // 3136 or, for the weight, 212^2 products), ~1e-3 of them in TF32; a wrong
    // layout or algorithm errs by the size of the outputs themselves.
    const double tol = math == MathMode::TF32 ? 2e-2 : 1e-4;
    if (!close_to(got, cpu_reference(pass, o, opts), tol, "conv2d")) {
      state.SkipWithError("the CUDA convolution differs from the CPU's");
      return;
    }
  }
  timed(state, [&] {
    Tensor out;
    switch (pass) {
      case Pass::Forward:
        out = conv2d(o.x, o.w, o.b, opts);
        break;
      case Pass::BackwardInput:
        out = conv2d_backward_input(o.dy, o.w, o.x.shape(), opts);
        break;
      case Pass::BackwardWeight:
        out = conv2d_backward_weight(o.x, o.dy, o.w.shape(), opts);
        break;
    }
    benchmark::DoNotOptimize(out.data_ptr());
  });
  state.counters["FLOP/s"] = benchmark::Counter(L.flops(), benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// ---- pooling ----

void BM_MaxPool(benchmark::State& state, bool backward) {
  const std::int64_t s = state.range(0) - 12;  // layer 2's output
  const Pool2dOptions o{.pool = {4, 4}};
  const TensorOptions t{.device = kCuda};
  const Tensor x = rand({kBatch, s, s, kFilters}, t, -1.0, 1.0);
  const Tensor y = max_pool2d(x, o);
  const Tensor dy = rand(y.shape(), t, -1.0, 1.0);
  {
    // Max pooling is exact. Its gradient routes each window's dy to the
    // window's maximum; random floats tie within a 16-element window about once
    // per image here, and cuDNN may route a tie elsewhere than the CPU (Note
    // [Max-pool ties]), so a few differing windows are allowed; a wrong routing
    // differs almost everywhere.
    const Tensor x0 = x.narrow(0, 0, 1).to(kCpu), y0 = y.narrow(0, 0, 1).to(kCpu),
                 dy0 = dy.narrow(0, 0, 1).to(kCpu);
    bool ok = close_to(y.narrow(0, 0, 1), max_pool2d(x0, o), 0.0, "max_pool2d");
    if (ok && backward) {
      const Tensor got = pool2d_backward(PoolKind::Max, x, y, dy, x.shape(), o).narrow(0, 0, 1).to(kCpu);
      const Tensor want = pool2d_backward(PoolKind::Max, x0, y0, dy0, x0.shape(), o);
      const auto differing = sum(ne(got, want).to(kInt64)).item<std::int64_t>();
      ok = differing <= 16;
      if (!ok)
        std::fprintf(stderr, "bench_conv_cuda: max_pool2d backward: %lld elements differ\n",
                     static_cast<long long>(differing));
    }
    if (!ok) {
      state.SkipWithError("the CUDA max pooling differs from the CPU's");
      return;
    }
  }
  timed(state, [&] {
    Tensor out = backward ? pool2d_backward(PoolKind::Max, x, y, dy, x.shape(), o) : max_pool2d(x, o);
    benchmark::DoNotOptimize(out.data_ptr());
  });
  const std::int64_t bytes = 4 * (backward ? 2 * x.numel() + 2 * y.numel() : x.numel() + y.numel());
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["copy_frac"] = benchmark::Counter(static_cast<double>(bytes) / copy_bandwidth(),
                                                   benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void register_all() {
  const char* pass_names[] = {"fwd", "bwd_input", "bwd_weight"};
  constexpr std::int64_t kSeedSize = 224;
  for (int which : {1, 2}) {
    for (Pass pass : {Pass::Forward, Pass::BackwardInput, Pass::BackwardWeight}) {
      for (MathMode math : {MathMode::StrictFP32, MathMode::TF32}) {
        for (bool det : {true, false}) {
          const std::string op = std::string("conv2d_") + pass_names[static_cast<int>(pass)] + "_seed" +
                                 std::to_string(which) + "_nhwc_" +
                                 (math == MathMode::TF32 ? "tf32" : "strict") + (det ? "_det" : "_fast");
          // seed2 is ~1.15 TFLOP a pass: ~10-40 ms; seed1 ~20 times less.
          with_best(benchmark::RegisterBenchmark(bench_name(op, kFloat32, kCuda).c_str(),
                                                 [which, pass, math, det](benchmark::State& s) {
                                                   BM_Conv(s, which, pass, math, det);
                                                 }))
              ->Arg(kSeedSize)
              ->UseManualTime()
              ->Iterations(which == 2 ? 10 : 50)
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  for (bool backward : {false, true}) {
    with_best(
        benchmark::RegisterBenchmark(
            bench_name(backward ? "max_pool2d_bwd_4x4_nhwc" : "max_pool2d_fwd_4x4_nhwc", kFloat32, kCuda)
                .c_str(),
            [backward](benchmark::State& s) { BM_MaxPool(s, backward); }))
        ->Arg(kSeedSize)
        ->UseManualTime()
        ->Iterations(50)
        ->Unit(benchmark::kMillisecond);
  }
}

#endif  // PARITY_WITH_CUDA

}  // namespace
}  // namespace parity::bench

int main(int argc, char** argv) {
#if PARITY_WITH_CUDA
  return parity::bench::run_cuda_suite(argc, argv, "bench_conv_cuda", [] {
    benchmark::AddCustomContext("cuda_copy_GBps", std::to_string(parity::bench::copy_bandwidth() / 1e9));
    parity::bench::register_all();
  });
#else
  return parity::bench::run_cuda_suite(argc, argv, "bench_conv_cuda", nullptr);
#endif
}
