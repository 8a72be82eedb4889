// What the op benchmarks measure, apart from how they are timed.
//
// The CPU suite (bench_ops.cpp) and the CUDA suite (bench_cuda_*.cpp)
// run the same table of ops at the same sizes, each with its own timing loop
// (plain wall time on the CPU; CUDA events and manual time on the GPU), so the
// two report comparable rows. A benchmark's name is
//
//   <op>/<dtype>/<device>/<size>
//
// which scripts/bench parses; keep that shape when adding a device or an op.
// Rates are Google Benchmark counters: bytes/s from SetBytesProcessed (the
// minimum traffic: every input read once, the output written once) and FLOP/s.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "parity/autograd/indexing.h"
#include "parity/autograd/join.h"
#include "parity/tensor/device.h"
#include "parity/tensor/dtype.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/memory.h"
#include "parity/tensor/ops.h"
#include "parity/tensor/tensor.h"

namespace parity::bench {

// Elementwise and reduction sizes: 1K to 64M elements, geometric steps of 8.
inline const std::vector<std::int64_t>& op_sizes() {
  static const std::vector<std::int64_t> sizes = {std::int64_t{1} << 10, std::int64_t{1} << 13,
                                                  std::int64_t{1} << 16, std::int64_t{1} << 19,
                                                  std::int64_t{1} << 22, std::int64_t{1} << 25,
                                                  std::int64_t{1} << 26};
  return sizes;
}

// Square matmul sizes n (m = n = k = n): 1K to 4M elements per matrix.
inline const std::vector<std::int64_t>& matmul_sizes() {
  static const std::vector<std::int64_t> sizes = {32, 64, 128, 256, 512, 1024, 2048};
  return sizes;
}

// The size of the STREAM-like arrays: 64M float32 (256 MiB each), far past any cache.
inline constexpr std::int64_t kStreamSize = std::int64_t{1} << 26;

// One benchmarked op: `inputs` dense operands of n elements, one output.
struct OpSpec {
  const char* name;
  int inputs;
  bool reduces;  // output of one element (sum) instead of n
  Tensor (*run)(const std::vector<Tensor>& in);
  int output_factor = 1;  // output elements per element of one input (cat of two: 2)
};

inline const std::vector<OpSpec>& ops() {
  static const std::vector<OpSpec> table = {
      {"add", 2, false, [](const std::vector<Tensor>& in) { return add(in[0], in[1]); }},
      {"mul", 2, false, [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }},
      {"relu", 1, false, [](const std::vector<Tensor>& in) { return relu(in[0]); }},
      {"exp", 1, false, [](const std::vector<Tensor>& in) { return exp(in[0]); }},
      {"tanh", 1, false, [](const std::vector<Tensor>& in) { return tanh(in[0]); }},
      {"softplus", 1, false, [](const std::vector<Tensor>& in) { return softplus(in[0]); }},
      {"sigmoid", 1, false, [](const std::vector<Tensor>& in) { return sigmoid(in[0]); }},
      {"log1p", 1, false, [](const std::vector<Tensor>& in) { return log1p(in[0]); }},
      {"sum", 1, true, [](const std::vector<Tensor>& in) { return sum(in[0]); }},
      {"cat", 2, false, [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0); }, 2},
  };
  return table;
}

inline const OpSpec& op(const std::string& name) {
  for (const OpSpec& spec : ops()) {
    if (name == spec.name) return spec;
  }
  throw std::invalid_argument("bench: no op named " + name);
}

// Minimum bytes one call moves: each input read once, the output written once.
inline std::int64_t min_bytes(const OpSpec& spec, std::int64_t n, DType dtype) {
  const auto esize = static_cast<std::int64_t>(element_size(dtype));
  return (spec.inputs * n + (spec.reduces ? 1 : spec.output_factor * n)) * esize;
}

// Inputs in [-1, 1) (relu then takes both branches), on `device`.
inline std::vector<Tensor> make_inputs(const OpSpec& spec, std::int64_t n, DType dtype, Device device) {
  std::vector<Tensor> in;
  for (int i = 0; i < spec.inputs; ++i) in.push_back(rand({n}, {.dtype = dtype, .device = device}, -1.0, 1.0));
  return in;
}

inline const char* short_name(DType dtype) {
  switch (dtype) {
    case kFloat32: return "f32";
    case kFloat64: return "f64";
    default: return "other";
  }
}

// "<op>/<dtype>/<device>" (Google Benchmark appends "/<size>").
inline std::string bench_name(const std::string& op, DType dtype, Device device) {
  return op + "/" + short_name(dtype) + "/" + (device.is_cpu() ? std::string("cpu") : "cuda");
}

// Adds "min" and "max" aggregates to a benchmark's repetitions, next to the
// default mean/median/stddev: on a shared, noisy machine the best repetition
// (max of a rate, min of a time) says what the code can do, the median what a
// user gets. scripts/bench prints medians; bench/bench_table.py --stat best the rest.
inline benchmark::internal::Benchmark* with_best(benchmark::internal::Benchmark* b) {
  return b
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

// Reports the share of allocations the device's caching allocator served from
// its cache during the timed loop ("alloc_hit" = 1 means no new allocation).
class AllocatorProbe {
 public:
  explicit AllocatorProbe(Device device) : device_(device), before_(memory_stats(device)) {}
  void report(benchmark::State& state) const {
    const MemoryStats after = memory_stats(device_);
    const auto allocs = after.num_allocations - before_.num_allocations;
    const auto hits = after.num_cache_hits - before_.num_cache_hits;
    if (allocs > 0) state.counters["alloc_hit"] = static_cast<double>(hits) / static_cast<double>(allocs);
  }

 private:
  Device device_;
  MemoryStats before_;
};

}  // namespace parity::bench
