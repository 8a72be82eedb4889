// What the CUDA benchmark suites share (bench_cuda.cpp, bench_conv_cuda.cpp,
// bench_optim_cuda.cpp): their main() (run_cuda_suite, in every build) and, in
// CUDA builds, the timing helpers.
//
// Timing (llm.c dev/cuda/common.h): CUDA events around each call on the
// current stream, after an L2 flush, reported as manual time. Bandwidth
// fractions are against a device-to-device cudaMemcpy measured once.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "parity/cuda/api.h"

namespace parity::bench {

// A CUDA suite's main(): runs the benchmarks register_suite() registers when
// the build has CUDA and the machine a GPU (the device named in the output's
// context), and says why nothing ran otherwise. register_suite is null in
// builds without CUDA.
inline int run_cuda_suite(int argc, char** argv, const char* suite, void (*register_suite)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (register_suite == nullptr) {
    std::printf("%s: this build has no CUDA backend: nothing to run\n", suite);
  } else if (!cuda::is_available()) {
    std::printf("%s: no CUDA device on this machine: nothing to run\n", suite);
  } else {
    const cuda::DeviceInfo info = cuda::device_info(0);
    benchmark::AddCustomContext("cuda_device", info.name);
    benchmark::AddCustomContext("cuda_multiprocessors", std::to_string(info.multiprocessors));
    register_suite();
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}

}  // namespace parity::bench

#if PARITY_WITH_CUDA

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "parity/cuda/api.h"

namespace parity::bench {

#define BENCH_CUDA_CHECK(call)                                                       \
  do {                                                                               \
    const cudaError_t e_ = (call);                                                   \
    if (e_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "bench: %s failed: %s\n", #call, cudaGetErrorString(e_)); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

inline cudaStream_t stream() { return static_cast<cudaStream_t>(cuda::current_stream(0).handle()); }

// Evicts everything from L2 by writing a buffer twice its size.
class L2Flush {
 public:
  L2Flush() : bytes_(std::max<std::int64_t>(2 * cuda::device_info(0).l2_cache_bytes, 8 << 20)) {
    BENCH_CUDA_CHECK(cudaMalloc(&buffer_, bytes_));
  }
  ~L2Flush() { cudaFree(buffer_); }
  L2Flush(const L2Flush&) = delete;
  L2Flush& operator=(const L2Flush&) = delete;
  void operator()() { BENCH_CUDA_CHECK(cudaMemsetAsync(buffer_, ++value_ & 0xff, bytes_, stream())); }

 private:
  std::int64_t bytes_;
  void* buffer_ = nullptr;
  int value_ = 0;
};

inline L2Flush& flush() {
  static L2Flush* f = new L2Flush;  // never destroyed: outlives the benchmarks and the CUDA context users
  return *f;
}

// Times fn() on the device with events, after an L2 flush, and reports it.
template <typename Fn>
void timed(benchmark::State& state, Fn&& fn) {
  cuda::Event start, stop;
  for (auto _ : state) {
    flush()();
    start.record();
    fn();
    stop.record();
    stop.synchronize();
    state.SetIterationTime(static_cast<double>(stop.elapsed_ms(start)) * 1e-3);
  }
}

// bytes/s of a device-to-device cudaMemcpy over 256 MiB (bytes read + written), measured once.
inline double copy_bandwidth() {
  static const double bw = [] {
    const std::size_t bytes = std::size_t{256} << 20;
    void *a = nullptr, *b = nullptr;
    BENCH_CUDA_CHECK(cudaMalloc(&a, bytes));
    BENCH_CUDA_CHECK(cudaMalloc(&b, bytes));
    BENCH_CUDA_CHECK(cudaMemset(b, 1, bytes));
    cuda::Event start, stop;
    float best = 1e30f;
    for (int i = 0; i < 10; ++i) {
      start.record();
      BENCH_CUDA_CHECK(cudaMemcpyAsync(a, b, bytes, cudaMemcpyDeviceToDevice, stream()));
      stop.record();
      stop.synchronize();
      best = std::min(best, stop.elapsed_ms(start));
    }
    cudaFree(a);
    cudaFree(b);
    return 2.0 * static_cast<double>(bytes) / (static_cast<double>(best) * 1e-3);
  }();
  return bw;
}

}  // namespace parity::bench

#endif  // PARITY_WITH_CUDA
