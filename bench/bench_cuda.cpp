// The CUDA benchmark suite (targets: docs/GPU.md): the foundation benchmarks of
// bench_ops.cpp on a GPU, named <op>/<dtype>/cuda/<size> so scripts/bench and
// bench_table.py read them like the CPU ones, and the references they are
// judged against, measured in the same run:
//
// - stream_copy/f32/cuda: cudaMemcpyAsync device to device over 256 MiB arrays
//   (bytes read plus bytes written): the card's usable bandwidth. Elementwise
//   ops and sum report bytes/s (each input read once, the output written once)
//   and "copy_frac", their share of it. Target on an H100: >= 0.9 for large sizes.
// - cublas_gemm / cublas_gemm_tf32: cublasGemmEx called directly on
//   preallocated buffers: the rate matmul should reach (FLOP/s counters).
// - small_*: the host cost of one eager op (allocation, layout, launch, free),
//   timed on the host per op; the device is synchronized every 64 ops outside
//   the timed region so the launch queue never fills. Target: < 5 us.
//
// Timing (llm.c dev/cuda/common.h): CUDA events around each call, manual time,
// and an L2 flush (a memset of twice the L2 size) before each timed call, so
// every size is measured from device memory. Each benchmark first checks its
// result against the CPU backend and fails (SkipWithError) on a mismatch.
// Without a GPU (or without the CUDA backend) it registers nothing and says so.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/bench_cuda_common.h"
#include "parity/cuda/api.h"
#include "parity/tensor/context.h"

#if PARITY_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

namespace parity::bench {
namespace {

#if PARITY_WITH_CUDA

constexpr Device kCuda = Device::cuda(0);

void set_bandwidth(benchmark::State& state, std::int64_t bytes_per_iteration) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iteration);
  state.counters["copy_frac"] =
      benchmark::Counter(static_cast<double>(bytes_per_iteration) / copy_bandwidth(),
                         benchmark::Counter::kIsIterationInvariantRate);
}

// Iterations for a call moving `bytes`: enough for a stable median, few enough
// that the whole suite stays within a minute or two.
benchmark::IterationCount iterations_for(std::int64_t bytes) {
  const std::int64_t it = (std::int64_t{4} << 30) / std::max<std::int64_t>(bytes, 1);
  return std::clamp<std::int64_t>(it, 20, 400);
}

// ---- correctness against the CPU ----

// max |gpu - cpu| <= abs_tol (0: the same values exactly).
bool same_values(const Tensor& gpu, const Tensor& cpu, double abs_tol) {
  const Tensor g = gpu.to(Device::cpu()).to(kFloat64), c = cpu.to(kFloat64);
  const double err = max(abs(sub(g, c))).item<double>();
  if (!(err <= abs_tol)) std::fprintf(stderr, "bench_cuda: max |cuda - cpu| = %g > %g\n", err, abs_tol);
  return err <= abs_tol;
}

// ---- the benchmarks ----

void BM_StreamCopy(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const std::size_t bytes = static_cast<std::size_t>(n) * 4;
  const Tensor a = empty({n}, {.device = kCuda}), b = rand({n}, {.device = kCuda});
  timed(state, [&] {
    BENCH_CUDA_CHECK(cudaMemcpyAsync(a.data_ptr(), b.data_ptr(), bytes, cudaMemcpyDeviceToDevice, stream()));
  });
  set_bandwidth(state, 2 * static_cast<std::int64_t>(bytes));
}

void BM_Op(benchmark::State& state, const OpSpec& spec, DType dtype) {
  const std::int64_t n = state.range(0);
  const std::vector<Tensor> in = make_inputs(spec, n, dtype, kCuda);
  {
    std::vector<Tensor> host;
    for (const Tensor& t : in) host.push_back(t.to(Device::cpu()));
    // Every elementwise op gives the CPU's bits (exp, tanh, softplus included:
    // Note [Same bits on every device]); a sum is within a generous bound of any
    // summation order.
    const double tol = spec.reduces ? (dtype == kFloat32 ? 1e-6 : 1e-14) * sum(abs(host[0])).item<double>() : 0;
    if (!same_values(spec.run(in), spec.run(host), tol)) {
      state.SkipWithError("the CUDA result differs from the CPU's");
      return;
    }
  }
  timed(state, [&] {
    Tensor out = spec.run(in);
    benchmark::DoNotOptimize(out.data_ptr());
  });
  set_bandwidth(state, min_bytes(spec, n, dtype));
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Clone(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const Tensor x = rand({n}, {.device = kCuda});
  timed(state, [&] {
    Tensor out = x.clone();
    benchmark::DoNotOptimize(out.data_ptr());
  });
  set_bandwidth(state, 2 * n * 4);
}

double gemm_flops(std::int64_t n) {
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
}

void set_flops(benchmark::State& state, std::int64_t n) {
  state.counters["FLOP/s"] = benchmark::Counter(gemm_flops(n), benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void BM_Matmul(benchmark::State& state, DType dtype, MathMode mode) {
  const std::int64_t n = state.range(0);
  const Tensor a = rand({n, n}, {.dtype = dtype, .device = kCuda}, -1.0, 1.0);
  const Tensor b = rand({n, n}, {.dtype = dtype, .device = kCuda}, -1.0, 1.0);
  MathModeGuard guard(mode);
  {
    // The first rows against the CPU (all of them for small n).
    const std::int64_t rows = std::min<std::int64_t>(n, 64);
    const Tensor got = matmul(a, b).narrow(0, 0, rows);
    const Tensor want = matmul(a.narrow(0, 0, rows).to(Device::cpu()), b.to(Device::cpu()));
    // Entries are sums of n products of magnitude ~1/4 with random signs: a
    // rounding error far above 4 n eps means a wrong result (a wrong layout
    // gives errors of the size of the entries, ~sqrt(n)/3).
    const double eps = dtype == kFloat64 ? 0x1p-53 : (mode == MathMode::TF32 ? 0x1p-11 : 0x1p-24);
    if (!same_values(got, want, 4.0 * static_cast<double>(n) * eps)) {
      state.SkipWithError("the CUDA matmul differs from the CPU's");
      return;
    }
  }
  timed(state, [&] {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  });
  set_flops(state, n);
}

void BM_CublasGemm(benchmark::State& state, DType dtype, bool tf32) {
  const int n = static_cast<int>(state.range(0));
  const Tensor a = rand({n, n}, {.dtype = dtype, .device = kCuda}, -1.0, 1.0);
  const Tensor b = rand({n, n}, {.dtype = dtype, .device = kCuda}, -1.0, 1.0);
  const Tensor c = empty({n, n}, {.dtype = dtype, .device = kCuda});
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    cublasCreate(&h);
    return h;
  }();
  cublasSetStream(handle, stream());
  const bool f32 = dtype == kFloat32;
  const float af = 1, bf = 0;
  const double ad = 1, bd = 0;
  const cudaDataType_t type = f32 ? CUDA_R_32F : CUDA_R_64F;
  const cublasComputeType_t compute =
      f32 ? (tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F) : CUBLAS_COMPUTE_64F;
  const void* alpha = f32 ? static_cast<const void*>(&af) : static_cast<const void*>(&ad);
  const void* beta = f32 ? static_cast<const void*>(&bf) : static_cast<const void*>(&bd);
  timed(state, [&] {
    if (cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, alpha, b.data_ptr(), type, n, a.data_ptr(),
                     type, n, beta, c.data_ptr(), type, n, compute,
                     CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "bench_cuda: cublasGemmEx failed\n");
      std::abort();
    }
  });
  set_flops(state, n);
}

// Host microseconds per eager op; the device catches up outside the timed region.
template <typename Fn>
void host_timed(benchmark::State& state, Fn&& fn) {
  int since_sync = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    if (++since_sync == 64) {
      cuda::synchronize(0);
      since_sync = 0;
    }
  }
  cuda::synchronize(0);
}

void BM_SmallOp(benchmark::State& state, const OpSpec& spec) {
  const std::vector<Tensor> in = make_inputs(spec, state.range(0), kFloat32, kCuda);
  { Tensor warm = spec.run(in); }
  host_timed(state, [&] {
    Tensor out = spec.run(in);
    benchmark::DoNotOptimize(out.data_ptr());
  });
}

void BM_SmallAddScalar(benchmark::State& state) {
  const Tensor x = rand({state.range(0)}, {.device = kCuda});
  host_timed(state, [&] {
    Tensor out = add(x, 1.0);
    benchmark::DoNotOptimize(out.data_ptr());
  });
}

void BM_SmallEmpty(benchmark::State& state) {
  const Shape shape = {state.range(0)};
  host_timed(state, [&] {
    Tensor out = empty(shape, {.device = kCuda});
    benchmark::DoNotOptimize(out.data_ptr());
  });
}

void BM_ItemRoundTrip(benchmark::State& state) {
  const Tensor x = rand({state.range(0)}, {.device = kCuda});
  host_timed(state, [&] { benchmark::DoNotOptimize(sum(x).item<float>()); });
}

void register_all() {
  const std::string cuda_f32 = "/f32/cuda";
  benchmark::RegisterBenchmark(("stream_copy" + cuda_f32).c_str(), BM_StreamCopy)
      ->Arg(kStreamSize)
      ->UseManualTime()
      ->Iterations(100);

  for (const OpSpec& spec : ops()) {
    const std::string name = spec.name;
    for (DType dtype : {kFloat32, kFloat64}) {
      if (dtype == kFloat64 && name != "add" && name != "sum") continue;
      for (std::int64_t n : op_sizes()) {
        benchmark::RegisterBenchmark(bench_name(name, dtype, kCuda).c_str(),
                                     [&spec, dtype](benchmark::State& s) { BM_Op(s, spec, dtype); })
            ->Arg(n)
            ->UseManualTime()
            ->Iterations(iterations_for(min_bytes(spec, n, dtype)));
      }
    }
  }
  benchmark::RegisterBenchmark(("clone" + cuda_f32).c_str(), BM_Clone)
      ->Arg(kStreamSize)
      ->UseManualTime()
      ->Iterations(100);

  std::vector<std::int64_t> sizes = matmul_sizes();
  sizes.push_back(4096);
  sizes.push_back(8192);
  for (DType dtype : {kFloat32, kFloat64}) {
    for (std::int64_t n : sizes) {
      if (dtype == kFloat64 && n != 256 && n != 1024 && n != 4096) continue;
      const auto its = n >= 4096 ? 10 : (n >= 1024 ? 50 : 200);
      benchmark::RegisterBenchmark(
          bench_name("matmul", dtype, kCuda).c_str(),
          [dtype](benchmark::State& s) { BM_Matmul(s, dtype, MathMode::StrictFP32); })
          ->Arg(n)
          ->UseManualTime()
          ->Iterations(its)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(bench_name("cublas_gemm", dtype, kCuda).c_str(),
                                   [dtype](benchmark::State& s) { BM_CublasGemm(s, dtype, false); })
          ->Arg(n)
          ->UseManualTime()
          ->Iterations(its)
          ->Unit(benchmark::kMillisecond);
      if (dtype == kFloat32 && n >= 1024) {
        benchmark::RegisterBenchmark(bench_name("matmul_tf32", dtype, kCuda).c_str(),
                                     [dtype](benchmark::State& s) { BM_Matmul(s, dtype, MathMode::TF32); })
            ->Arg(n)
            ->UseManualTime()
            ->Iterations(its)
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(bench_name("cublas_tf32_gemm", dtype, kCuda).c_str(),
                                     [dtype](benchmark::State& s) { BM_CublasGemm(s, dtype, true); })
            ->Arg(n)
            ->UseManualTime()
            ->Iterations(its)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }

  for (const char* name : {"add", "relu", "sum"}) {
    const OpSpec& spec = op(name);
    auto* b = benchmark::RegisterBenchmark(bench_name(std::string("small_") + name, kFloat32, kCuda).c_str(),
                                           [&spec](benchmark::State& s) { BM_SmallOp(s, spec); });
    if (std::string(name) == "add") b->Arg(1);
    b->Arg(16)->UseManualTime()->Iterations(20000)->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark(bench_name("small_add_scalar", kFloat32, kCuda).c_str(), BM_SmallAddScalar)
      ->Arg(16)
      ->UseManualTime()
      ->Iterations(20000)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(bench_name("small_empty", kFloat32, kCuda).c_str(), BM_SmallEmpty)
      ->Arg(16)
      ->UseManualTime()
      ->Iterations(20000)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(bench_name("item_sum", kFloat32, kCuda).c_str(), BM_ItemRoundTrip)
      ->Arg(16)
      ->UseManualTime()
      ->Iterations(2000)
      ->Unit(benchmark::kMicrosecond);
}

#endif  // PARITY_WITH_CUDA

}  // namespace
}  // namespace parity::bench

int main(int argc, char** argv) {
#if PARITY_WITH_CUDA
  return parity::bench::run_cuda_suite(argc, argv, "bench_cuda", [] {
    benchmark::AddCustomContext("cuda_copy_GBps", std::to_string(parity::bench::copy_bandwidth() / 1e9));
    parity::bench::register_all();
  });
#else
  return parity::bench::run_cuda_suite(argc, argv, "bench_cuda", nullptr);
#endif
}
