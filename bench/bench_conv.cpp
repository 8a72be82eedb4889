// The CPU convolution and pooling benchmarks, at the seed model's layers
// (seed/keras-issue.txt: Conv2D(64, 7x7, valid) on 3 channels, Conv2D(64, 7x7)
// on 64, MaxPool2D(4x4); Keras' NHWC images and HWIO kernels) scaled down for
// a CPU: batch kBatch, the model's input size as the benchmark's argument
// (the seed uses 224; layer 2 then sees size - 6, the pool size - 12).
//
//   conv2d_{fwd,bwd_input,bwd_weight}_seed{1,2}_{nhwc,nchw}/<dtype>/cpu/<input size>
//   max_pool2d_{fwd,bwd}_4x4_nhwc/<dtype>/cpu/<input size>
//   openblas_gemm_seed{1,2}/f32/cpu/<input size>: the forward's GEMM alone
//     (cblas_sgemm of the same [N*OH*OW, KH*KW*Cin] x [KH*KW*Cin, 64] shape on
//     preallocated buffers): what conv2d would reach if im2col were free.
//
// Counters: FLOP/s = 2*N*OH*OW*Cout*Cin*KH*KW per pass (each of the three
// passes does that many multiply-adds); items = images; bytes = each operand
// read once and the result written once. NCHW runs use OIHW kernels (PyTorch's
// pairing), so neither layout pays for a kernel permutation. Wall time
// (UseRealTime): the kernels run on several threads.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <string>

#include "bench/bench_common.h"
#include "parity/tensor/conv.h"
#include "parity/tensor/pool.h"

namespace parity::bench {
namespace {

constexpr Device kCpu = Device::cpu();
constexpr std::int64_t kBatch = 8;
constexpr std::int64_t kFilters = 64;
constexpr std::int64_t kKernel = 7;

struct ReleaseCacheAtExit {
  ~ReleaseCacheAtExit() { empty_cache(kCpu); }
};

// One of the seed's conv layers at model input size `size`.
struct Layer {
  std::int64_t in_channels, in_size;
  std::int64_t out_size() const { return in_size - kKernel + 1; }
  double flops() const {
    return 2.0 * kBatch * out_size() * out_size() * kFilters * in_channels * kKernel * kKernel;
  }
};
Layer seed_layer(int which, std::int64_t size) {
  return which == 1 ? Layer{3, size} : Layer{kFilters, size - 6};
}

Shape image(Layout l, std::int64_t c, std::int64_t s) {
  return l == Layout::NHWC ? Shape{kBatch, s, s, c} : Shape{kBatch, c, s, s};
}

enum class Pass { Forward, BackwardInput, BackwardWeight };

void BM_Conv(benchmark::State& state, int which, Pass pass, Layout layout, DType dtype) {
  const ReleaseCacheAtExit release;
  const Layer L = seed_layer(which, state.range(0));
  const Conv2dOptions o{.layout = layout,
                        .kernel_layout = layout == Layout::NHWC ? KernelLayout::HWIO : KernelLayout::OIHW};
  const Shape ws = layout == Layout::NHWC ? Shape{kKernel, kKernel, L.in_channels, kFilters}
                                          : Shape{kFilters, L.in_channels, kKernel, kKernel};
  const TensorOptions t{.dtype = dtype};
  const Tensor x = rand(image(layout, L.in_channels, L.in_size), t, -1.0, 1.0);
  const Tensor w = rand(ws, t, -0.1, 0.1);
  const Tensor b = rand({kFilters}, t, -0.1, 0.1);
  const Tensor dy = rand(image(layout, kFilters, L.out_size()), t, -1.0, 1.0);
  auto run = [&] {
    switch (pass) {
      case Pass::Forward:
        return conv2d(x, w, b, o);
      case Pass::BackwardInput:
        return conv2d_backward_input(dy, w, x.shape(), o);
      case Pass::BackwardWeight:
        return conv2d_backward_weight(x, dy, w.shape(), o);
    }
    return Tensor();
  };
  { Tensor warm = run(); }
  for (auto _ : state) {
    Tensor out = run();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  const std::int64_t esize = static_cast<std::int64_t>(element_size(dtype));
  const std::int64_t bytes = (x.numel() + w.numel() + dy.numel()) * esize;  // two read, one written
  state.counters["FLOP/s"] = benchmark::Counter(L.flops(), benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["threads"] = omp_get_max_threads();
}

// The forward's GEMM alone, float32, on preallocated buffers.
void BM_GemmOnly(benchmark::State& state, int which) {
  const ReleaseCacheAtExit release;
  const Layer L = seed_layer(which, state.range(0));
  const int m = static_cast<int>(kBatch * L.out_size() * L.out_size());
  const int k = static_cast<int>(kKernel * kKernel * L.in_channels), n = static_cast<int>(kFilters);
  const Tensor a = rand({m, k}, {}, -1.0, 1.0), b = rand({k, n}, {}, -0.1, 0.1), c = empty({m, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data<float>(), k, b.data<float>(),
                n, 0.0f, c.data<float>(), n);
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] = benchmark::Counter(L.flops(), benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// MaxPool2D(4x4) on layer 2's output.
void BM_MaxPool(benchmark::State& state, bool backward, DType dtype) {
  const ReleaseCacheAtExit release;
  const std::int64_t s = state.range(0) - 12;
  const Pool2dOptions o{.pool = {4, 4}};
  const Tensor x = rand(image(Layout::NHWC, kFilters, s), {.dtype = dtype}, -1.0, 1.0);
  const Tensor y = max_pool2d(x, o);
  const Tensor dy = rand(y.shape(), {.dtype = dtype}, -1.0, 1.0);
  auto run = [&] {
    return backward ? pool2d_backward(PoolKind::Max, x, y, dy, x.shape(), o) : max_pool2d(x, o);
  };
  { Tensor warm = run(); }
  for (auto _ : state) {
    Tensor out = run();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  const std::int64_t esize = static_cast<std::int64_t>(element_size(dtype));
  // forward: x read, y written; backward: x and dy read, dx written.
  const std::int64_t bytes =
      backward ? (2 * x.numel() + dy.numel()) * esize : (x.numel() + y.numel()) * esize;
  state.SetBytesProcessed(state.iterations() * bytes);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["threads"] = omp_get_max_threads();
}

const std::vector<std::int64_t>& sizes() {
  static const std::vector<std::int64_t> s = {32, 64};
  return s;
}

void register_all() {
  const char* pass_names[] = {"fwd", "bwd_input", "bwd_weight"};
  for (int which : {1, 2}) {
    for (Pass pass : {Pass::Forward, Pass::BackwardInput, Pass::BackwardWeight}) {
      for (Layout layout : {Layout::NHWC, Layout::NCHW}) {
        if (pass != Pass::Forward && layout == Layout::NCHW) continue;  // the seed's layout for the gradients
        for (DType dtype : {kFloat32, kFloat64}) {
          if (dtype == kFloat64 && (pass != Pass::Forward || layout != Layout::NHWC)) continue;
          const std::string op = std::string("conv2d_") + pass_names[static_cast<int>(pass)] + "_seed" +
                                 std::to_string(which) + (layout == Layout::NHWC ? "_nhwc" : "_nchw");
          auto* b = with_best(benchmark::RegisterBenchmark(
              bench_name(op, dtype, kCpu).c_str(),
              [which, pass, layout, dtype](benchmark::State& s) { BM_Conv(s, which, pass, layout, dtype); }));
          for (std::int64_t n : sizes()) b->Arg(n);
          b->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
    }
    auto* g = with_best(benchmark::RegisterBenchmark(
        bench_name("openblas_gemm_seed" + std::to_string(which), kFloat32, kCpu).c_str(),
        [which](benchmark::State& s) { BM_GemmOnly(s, which); }));
    for (std::int64_t n : sizes()) g->Arg(n);
    g->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  for (bool backward : {false, true}) {
    auto* b = with_best(benchmark::RegisterBenchmark(
        bench_name(backward ? "max_pool2d_bwd_4x4_nhwc" : "max_pool2d_fwd_4x4_nhwc", kFloat32, kCpu).c_str(),
        [backward](benchmark::State& s) { BM_MaxPool(s, backward, kFloat32); }));
    for (std::int64_t n : sizes()) b->Arg(n);
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace parity::bench

int main(int argc, char** argv) {
  parity::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("parity_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
