// The CPU benchmark suite: elementwise ops and sum (bytes/s), matmul (FLOP/s),
// the host cost of one small eager op (µs), and the references they are judged
// against, measured in the same run:
//
// - stream_copy / stream_triad / stream_read: STREAM-like kernels (McCalpin's
//   copy a = b and triad a = b + s*c, plus a read-only sum) over arrays far
//   larger than the caches, plain OpenMP loops with the same thread count as
//   Parity's, on arrays from Parity's allocator. Their bytes/s is the machine's
//   usable memory bandwidth (counted as STREAM counts it: bytes read plus bytes
//   written, not the extra read a cache does before writing a line).
// - openblas_gemm: cblas_sgemm/dgemm called directly on preallocated buffers of
//   the matmul benchmark's sizes: the rate Parity's matmul should reach.
//
// Wall-clock time throughout (UseRealTime): the ops run on several threads.
// Every op benchmark allocates its output each iteration, as eager code does;
// the "alloc_hit" counter shows the caching allocator serving those outputs.
// Repetitions report min and max besides the median (with_best).
// scripts/bench runs this and prints the table.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <fstream>
#include <string>

#include "bench/bench_common.h"

namespace parity::bench {
namespace {

constexpr Device kCpu = Device::cpu();

// Declared first in a benchmark, so it runs after the benchmark's tensors are
// gone: hands the allocator's cached blocks back, so the suite's memory stays
// that of one benchmark instead of growing to the cache's cap.
struct ReleaseCacheAtExit {
  ~ReleaseCacheAtExit() { empty_cache(kCpu); }
};

// ---- Parity ops ----

void BM_Op(benchmark::State& state, const OpSpec& spec, DType dtype) {
  const ReleaseCacheAtExit release;
  const std::int64_t n = state.range(0);
  const std::vector<Tensor> in = make_inputs(spec, n, dtype, kCpu);
  { Tensor warm = spec.run(in); }  // the first output's block enters the allocator's cache
  const AllocatorProbe probe(kCpu);
  for (auto _ : state) {
    Tensor out = spec.run(in);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  probe.report(state);
  state.SetBytesProcessed(state.iterations() * min_bytes(spec, n, dtype));
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["threads"] = omp_get_max_threads();
}

// ---- small ops: the host cost of one eager op, allocation included ----

void BM_SmallOp(benchmark::State& state, const OpSpec& spec) {
  const std::int64_t n = state.range(0);
  const std::vector<Tensor> in = make_inputs(spec, n, kFloat32, kCpu);
  for (auto _ : state) {
    Tensor out = spec.run(in);
    benchmark::DoNotOptimize(out.data_ptr());
  }
}

void BM_SmallAddScalar(benchmark::State& state) {
  const Tensor x = rand({state.range(0)});
  for (auto _ : state) {
    Tensor out = add(x, 1.0);
    benchmark::DoNotOptimize(out.data_ptr());
  }
}

void BM_SmallEmpty(benchmark::State& state) {
  const Shape shape = {state.range(0)};
  for (auto _ : state) {
    Tensor out = empty(shape);
    benchmark::DoNotOptimize(out.data_ptr());
  }
}

// ---- indexing: an embedding's lookup and its gradient ----
// A [50000, 128] float32 table and `rows` random indices: index_select reads
// rows x 128 values and writes as many; index_add (the table's gradient) reads
// them and accumulates into the rows named, in a fixed order. Bytes: the
// values moved once each way (the index's 8 bytes a row besides).
void BM_IndexSelect(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  const Tensor table = rand({50000, 128});
  const Tensor index = randint(0, 50000, {rows});
  for (auto _ : state) {
    Tensor out = index_select(table, 0, index);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * rows * (2 * 128 * std::int64_t{sizeof(float)} + 8));
}

void BM_IndexAdd(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  const Tensor table = zeros({50000, 128});
  const Tensor index = randint(0, 50000, {rows});
  const Tensor src = rand({rows, 128});
  for (auto _ : state) {
    Tensor out = index_add(table, 0, index, src);  // a copy of the table, then the sums
    benchmark::DoNotOptimize(out.data_ptr());
  }
  // The copy of the table counts too: index_add is out of place.
  state.SetBytesProcessed(state.iterations() *
                          (rows * (2 * 128 * std::int64_t{sizeof(float)} + 8) + 2 * 50000 * 128 * std::int64_t{sizeof(float)}));
}

// ---- matmul and the direct OpenBLAS call ----

double gemm_flops(std::int64_t n) { return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n); }

void set_flops(benchmark::State& state, std::int64_t n) {
  state.counters["FLOP/s"] =
      benchmark::Counter(gemm_flops(n), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_Matmul(benchmark::State& state, DType dtype) {
  const std::int64_t n = state.range(0);
  const Tensor a = rand({n, n}, {.dtype = dtype}, -1.0, 1.0);
  const Tensor b = rand({n, n}, {.dtype = dtype}, -1.0, 1.0);
  { Tensor warm = matmul(a, b); }
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_flops(state, n);
}

void BM_OpenBlasGemm(benchmark::State& state, DType dtype) {
  const int n = static_cast<int>(state.range(0));
  const Tensor a = rand({n, n}, {.dtype = dtype}, -1.0, 1.0);
  const Tensor b = rand({n, n}, {.dtype = dtype}, -1.0, 1.0);
  const Tensor c = empty({n, n}, {.dtype = dtype});
  for (auto _ : state) {
    if (dtype == kFloat32) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                  0.0f, c.data<float>(), n);
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a.data<double>(), n, b.data<double>(), n,
                  0.0, c.data<double>(), n);
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, n);
}

// ---- STREAM-like memory bandwidth ----

// The arrays come from Parity's allocator, so the references and the ops run
// on the same kind of memory (huge pages for large blocks, parity/cpu/host_allocator.cpp);
// first touch by the same static schedule the kernels use.
float* stream_buffer(Tensor& holder, std::int64_t n, float value) {
  holder = empty({n});
  float* p = holder.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = value;
  return p;
}

// GCC would turn the copy loop into memcpy, whose non-temporal stores for large
// sizes measure something Parity's loops (plain stores) cannot reach.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
void stream_copy(float* __restrict a, const float* __restrict b, std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i];
}

void stream_triad(float* __restrict a, const float* __restrict b, const float* __restrict c, float s,
                  std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// 32 independent partial sums per thread, so the loop is bound by memory, not
// by the latency of one chain of additions.
float stream_read(const float* __restrict a, std::int64_t n) {
  float total = 0;
#pragma omp parallel reduction(+ : total)
  {
    const std::int64_t t = omp_get_thread_num(), threads = omp_get_num_threads();
    const std::int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    float lane[32] = {};
    std::int64_t i = begin;
    for (; i + 32 <= end; i += 32) {
      for (int j = 0; j < 32; ++j) lane[j] += a[i + j];
    }
    for (; i < end; ++i) lane[0] += a[i];
    for (int j = 0; j < 32; ++j) total += lane[j];
  }
  return total;
}

void BM_StreamCopy(benchmark::State& state) {
  const ReleaseCacheAtExit release;
  const std::int64_t n = state.range(0);
  Tensor ta, tb;
  float* a = stream_buffer(ta, n, 0.0f);
  const float* b = stream_buffer(tb, n, 1.0f);
  for (auto _ : state) {
    stream_copy(a, b, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * std::int64_t{sizeof(float)});
  state.counters["threads"] = omp_get_max_threads();
}

void BM_StreamTriad(benchmark::State& state) {
  const ReleaseCacheAtExit release;
  const std::int64_t n = state.range(0);
  Tensor ta, tb, tc;
  float* a = stream_buffer(ta, n, 0.0f);
  const float* b = stream_buffer(tb, n, 1.0f);
  const float* c = stream_buffer(tc, n, 2.0f);
  for (auto _ : state) {
    stream_triad(a, b, c, 3.0f, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * std::int64_t{sizeof(float)});
  state.counters["threads"] = omp_get_max_threads();
}

void BM_StreamRead(benchmark::State& state) {
  const ReleaseCacheAtExit release;
  const std::int64_t n = state.range(0);
  Tensor ta;
  const float* a = stream_buffer(ta, n, 1.0f);
  for (auto _ : state) benchmark::DoNotOptimize(stream_read(a, n));
  state.SetBytesProcessed(state.iterations() * n * std::int64_t{sizeof(float)});
  state.counters["threads"] = omp_get_max_threads();
}

// "model name" of /proc/cpuinfo, for the table's header.
std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      return line.substr(line.find(':') + 2);
    }
  }
  return "unknown";
}

void register_all() {
  // The bandwidth references first, so a reader of the raw output sees them first.
  const std::string cpu_f32 = "/f32/cpu";
  with_best(benchmark::RegisterBenchmark(("stream_copy" + cpu_f32).c_str(), BM_StreamCopy))->Arg(kStreamSize)->UseRealTime();
  with_best(benchmark::RegisterBenchmark(("stream_triad" + cpu_f32).c_str(), BM_StreamTriad))->Arg(kStreamSize)->UseRealTime();
  with_best(benchmark::RegisterBenchmark(("stream_read" + cpu_f32).c_str(), BM_StreamRead))->Arg(kStreamSize)->UseRealTime();

  for (const OpSpec& spec : ops()) {
    const std::string name = spec.name;
    for (DType dtype : {kFloat32, kFloat64}) {
      if (dtype == kFloat64 && name != "add" && name != "sum") continue;  // float64 for a few
      auto* b = with_best(benchmark::RegisterBenchmark(bench_name(name, dtype, kCpu).c_str(),
                                             [&spec, dtype](benchmark::State& s) { BM_Op(s, spec, dtype); }));
      for (std::int64_t n : op_sizes()) b->Arg(n);
      b->UseRealTime();
    }
  }

  for (DType dtype : {kFloat32, kFloat64}) {
    auto* parity = with_best(benchmark::RegisterBenchmark(bench_name("matmul", dtype, kCpu).c_str(),
                                                [dtype](benchmark::State& s) { BM_Matmul(s, dtype); }));
    auto* blas = with_best(benchmark::RegisterBenchmark(bench_name("openblas_gemm", dtype, kCpu).c_str(),
                                              [dtype](benchmark::State& s) { BM_OpenBlasGemm(s, dtype); }));
    for (std::int64_t n : matmul_sizes()) {
      if (dtype == kFloat64 && n != 256 && n != 1024) continue;
      parity->Arg(n);
      blas->Arg(n);
    }
    parity->UseRealTime()->Unit(benchmark::kMillisecond);
    blas->UseRealTime()->Unit(benchmark::kMillisecond);
  }

  with_best(benchmark::RegisterBenchmark(bench_name("index_select", kFloat32, kCpu).c_str(), BM_IndexSelect))
      ->Arg(4096)->Arg(65536)->UseRealTime();
  with_best(benchmark::RegisterBenchmark(bench_name("index_add", kFloat32, kCpu).c_str(), BM_IndexAdd))
      ->Arg(4096)->Arg(65536)->UseRealTime();

  // Small ops: microseconds per call, allocation of the output included.
  for (const char* name : {"add", "relu", "sum"}) {
    const OpSpec& spec = op(name);
    auto* b = with_best(benchmark::RegisterBenchmark(bench_name(std::string("small_") + name, kFloat32, kCpu).c_str(),
                                           [&spec](benchmark::State& s) { BM_SmallOp(s, spec); }));
    if (std::string(name) == "add") b->Arg(1);
    b->Arg(16)->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
  with_best(benchmark::RegisterBenchmark(bench_name("small_add_scalar", kFloat32, kCpu).c_str(), BM_SmallAddScalar))
      ->Arg(16)->UseRealTime()->Unit(benchmark::kMicrosecond);
  with_best(benchmark::RegisterBenchmark(bench_name("small_empty", kFloat32, kCpu).c_str(), BM_SmallEmpty))
      ->Arg(16)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace parity::bench

int main(int argc, char** argv) {
  parity::bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("parity_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("cpu_model", parity::bench::cpu_model());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
