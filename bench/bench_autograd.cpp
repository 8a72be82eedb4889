// Autograd host overhead: what recording an op and running a tape entry cost.
//
//   record/<op>/<size>/<mode>   one op, mode: nograd (inputs need no grad),
//                               recorded (an input requires grad: a tape node is
//                               made and freed each time), guarded (an input
//                               requires grad, inside a NoGradGuard)
//   backward/<op>/<size>        backward through a chain of 100 such ops,
//                               timed alone (the forward is not timed)
//   train_step/<width>          a training-like step of ~100 ops: an MLP of 33
//                               layers (matmul, add, relu) and a loss, forward +
//                               backward, vs the same forward without recording
//
// Counters: `per_op` (or `per_entry`) is seconds per op, printed with SI
// prefixes (u = microseconds); `cpu_per_entry` the same in this thread's CPU
// time (steadier than wall time on a busy machine). The recording overhead of an op is
// recorded - nograd; of a tape entry, backward per_entry minus the cost of the
// ops its formula runs (for mul by a scalar: one mul, record/mul_scalar/nograd).
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "parity/autograd/autograd.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace {

using namespace parity;

constexpr std::int64_t kSmall = 16;
constexpr std::int64_t kLarge = std::int64_t{1} << 20;
constexpr int kChain = 100;

enum Mode : int { kNoGrad = 0, kRecorded = 1, kGuarded = 2 };

// This thread's CPU time: on a shared machine, less noisy than wall time.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

benchmark::Counter per(double count) {
  return benchmark::Counter(count,
                            benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void record_add(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const auto mode = static_cast<Mode>(state.range(1));
  Tensor a = randn({n});
  const Tensor b = randn({n});
  if (mode != kNoGrad) a.requires_grad_();
  std::optional<autograd::NoGradGuard> guard;
  if (mode == kGuarded) guard.emplace();
  for (auto _ : state) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
  state.counters["per_op"] = per(1);
}

void record_mul_scalar(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const auto mode = static_cast<Mode>(state.range(1));
  Tensor a = randn({n});
  if (mode != kNoGrad) a.requires_grad_();
  std::optional<autograd::NoGradGuard> guard;
  if (mode == kGuarded) guard.emplace();
  for (auto _ : state) {
    Tensor c = mul(a, 1.0001);
    benchmark::DoNotOptimize(c.impl());
  }
  state.counters["per_op"] = per(1);
}

void record_matmul(benchmark::State& state) {
  const std::int64_t n = state.range(0);  // n x n matrices
  const auto mode = static_cast<Mode>(state.range(1));
  Tensor a = randn({n, n});
  const Tensor b = randn({n, n});
  if (mode != kNoGrad) a.requires_grad_();
  std::optional<autograd::NoGradGuard> guard;
  if (mode == kGuarded) guard.emplace();
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
  state.counters["per_op"] = per(1);
}

void record_view(benchmark::State& state) {
  const auto mode = static_cast<Mode>(state.range(1));
  Tensor a = randn({4, 4});
  if (mode != kNoGrad) a.requires_grad_();
  std::optional<autograd::NoGradGuard> guard;
  if (mode == kGuarded) guard.emplace();
  for (auto _ : state) {
    Tensor c = a.transpose(0, 1);
    benchmark::DoNotOptimize(c.impl());
  }
  state.counters["per_op"] = per(1);
}

// Backward through a chain of kChain ops y = y * 1.0001 (each entry runs one mul).
void backward_mul_scalar(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  Tensor x = randn({n}).requires_grad_();
  const Tensor seed = ones({n});
  double cpu = 0;
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kChain; ++i) y = mul(y, 1.0001);
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_seconds();
    y.backward(seed);
    cpu += thread_cpu_seconds() - cpu_start;
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    x.set_grad(Tensor());
  }
  state.counters["per_entry"] = per(kChain);
  state.counters["cpu_per_entry"] = cpu / static_cast<double>(state.iterations()) / kChain;
}

// Backward through a chain of y = y + w_i with kChain leaves (each entry hands
// its gradient on unchanged and accumulates into a leaf: pure engine overhead).
void backward_add_leaves(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::vector<Tensor> w;
  for (int i = 0; i < kChain; ++i) w.push_back(randn({n}).requires_grad_());
  const Tensor seed = ones({n});
  double cpu = 0;
  for (auto _ : state) {
    Tensor y = zeros({n});
    for (int i = 0; i < kChain; ++i) y = add(y, w[i]);
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_seconds();
    y.backward(seed);
    cpu += thread_cpu_seconds() - cpu_start;
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    for (Tensor& t : w) t.set_grad(Tensor());
  }
  state.counters["per_entry"] = per(2 * kChain);  // kChain add nodes + kChain accumulators
  state.counters["cpu_per_entry"] = cpu / static_cast<double>(state.iterations()) / (2 * kChain);
}

// A training-like step of 100 ops: 33 layers of relu(h @ W + b), then mean(h^2).
void train_step(benchmark::State& state) {
  const std::int64_t width = state.range(0);
  const bool record = state.range(1) != 0;
  constexpr int kLayers = 33;
  std::vector<Tensor> weights, biases;
  for (int i = 0; i < kLayers; ++i) {
    weights.push_back(
        mul(randn({width, width}), 1.0 / std::sqrt(static_cast<double>(width))).requires_grad_());
    biases.push_back(zeros({width}).requires_grad_());
  }
  const Tensor x = randn({32, width});
  for (auto _ : state) {
    std::optional<autograd::NoGradGuard> guard;
    if (!record) guard.emplace();
    Tensor h = x;
    for (int i = 0; i < kLayers; ++i) h = relu(add(matmul(h, weights[i]), biases[i]));
    Tensor loss = mean(square(h));
    if (record) {
      loss.backward();
      autograd::NoGradGuard no_grad;
      for (int i = 0; i < kLayers; ++i) {
        weights[i].set_grad(Tensor());
        biases[i].set_grad(Tensor());
      }
    }
    benchmark::DoNotOptimize(loss.impl());
  }
  state.counters["per_op"] = per(3 * kLayers + 2);
}

void mode_args(benchmark::internal::Benchmark* b, const std::vector<std::int64_t>& sizes) {
  for (std::int64_t n : sizes) {
    for (int mode : {kNoGrad, kRecorded, kGuarded}) b->Args({n, mode});
  }
  b->ArgNames({"n", "mode"});
}

}  // namespace

BENCHMARK(record_add)->Apply([](auto* b) { mode_args(b, {kSmall, kLarge}); });
BENCHMARK(record_mul_scalar)->Apply([](auto* b) { mode_args(b, {kSmall, kLarge}); });
BENCHMARK(record_matmul)->Apply([](auto* b) { mode_args(b, {4, 256}); });
BENCHMARK(record_view)->Apply([](auto* b) { mode_args(b, {16}); });
BENCHMARK(backward_mul_scalar)->Arg(kSmall)->Arg(kLarge)->UseManualTime();
BENCHMARK(backward_add_leaves)->Arg(kSmall)->Arg(kLarge)->UseManualTime();
BENCHMARK(train_step)->ArgsProduct({{8, 64}, {0, 1}})->ArgNames({"width", "record"});

BENCHMARK_MAIN();
