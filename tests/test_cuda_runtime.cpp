// The CUDA runtime around the ops (docs/GPU.md): devices and their errors, the
// memory pool (statistics, empty_cache, out-of-memory recovery), streams and
// events, MathMode on matmul, and the numerics context (which needs no GPU).
// Tests that need a GPU skip without one, saying so.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <string>
#include <vector>

#include "parity/cuda/api.h"
#include "reference.h"
#include "parity/tensor/context.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

const Device kCuda = Device::cuda(0);
const Device kCpu = Device::cpu();

// ---- the context (every build, every machine) ----

TEST(Context, DefaultsAndGuards) {
  EXPECT_EQ(math_mode(), MathMode::StrictFP32);
  EXPECT_TRUE(deterministic());
  {
    MathModeGuard tf32(MathMode::TF32);
    EXPECT_EQ(math_mode(), MathMode::TF32);
    {
      MathModeGuard strict(MathMode::StrictFP32);
      EXPECT_EQ(math_mode(), MathMode::StrictFP32);
    }
    EXPECT_EQ(math_mode(), MathMode::TF32);
    DeterministicGuard off(false);
    EXPECT_FALSE(deterministic());
  }
  EXPECT_EQ(math_mode(), MathMode::StrictFP32);
  EXPECT_TRUE(deterministic());
  std::ostringstream out;
  out << MathMode::TF32 << " " << MathMode::StrictFP32;
  EXPECT_EQ(out.str(), "tf32 strict_fp32");
}

// The math mode means the same on every backend: the CPU emulates TF32 (Note
// [TF32 on the CPU]; tests/test_tf32.cpp checks it bit for bit).
TEST(Context, Tf32ActsOnTheCpuToo) {
  const Tensor a = rand({64, 256}, {}, -1, 1), b = rand({256, 32}, {}, -1, 1);
  const Tensor strict = matmul(a, b);
  MathModeGuard tf32(MathMode::TF32);
  EXPECT_FALSE(same_bits(matmul(a, b), strict));
}

// ---- devices ----

TEST(CudaDevices, CountAndInfo) {
  PARITY_REQUIRE_CUDA();
  const int count = cuda::device_count();
  ASSERT_GT(count, 0);
  EXPECT_EQ(cuda::device_count(), count) << "the count is stable";
  for (int d = 0; d < count; ++d) {
    const cuda::DeviceInfo info = cuda::device_info(d);
    EXPECT_EQ(info.index, d);
    EXPECT_FALSE(info.name.empty());
    EXPECT_GT(info.multiprocessors, 0);
    EXPECT_GT(info.total_memory_bytes, 0);
    std::cout << "[  parity  ] cuda:" << d << " " << info.name << ", compute capability " << info.major << "."
              << info.minor << ", " << info.multiprocessors << " SMs, " << info.total_memory_bytes / (1 << 20)
              << " MiB, L2 " << info.l2_cache_bytes / 1024 << " KiB\n";
  }
  EXPECT_GE(cuda::current_device(), 0);
  EXPECT_EQ(test_devices().size(), static_cast<std::size_t>(count) + 1);
}

TEST(CudaDevices, BadIndexIsAClearError) {
  PARITY_REQUIRE_CUDA();
  const int count = cuda::device_count();
  const std::string bad = "cuda:" + std::to_string(count);
  EXPECT_PARITY_ERROR(empty({2}, {.device = Device::cuda(count)}), {"empty", bad, "does not exist"});
  EXPECT_PARITY_ERROR(ones({2}).to(Device::cuda(count)), {bad, "does not exist"});
  EXPECT_PARITY_ERROR(empty({2}, {.device = Device::cuda(-1)}), {"cuda:-1", "does not exist"});
  EXPECT_PARITY_ERROR(cuda::set_device(count), {"set_device", "does not exist"});
  EXPECT_PARITY_ERROR(cuda::memory_stats(count + 3), {"memory_stats", "does not exist"});
  EXPECT_PARITY_ERROR(cuda::DeviceGuard guard(count), {"DeviceGuard", "does not exist"});
}

TEST(CudaDevices, MixingACudaAndACpuTensorIsAClearError) {
  PARITY_REQUIRE_CUDA();
  const Tensor c = ones({2, 3}), g = ones({2, 3}, {.device = kCuda});
  EXPECT_PARITY_ERROR(add(c, g), {"add", "same device", "cpu", "cuda:0"});
  EXPECT_PARITY_ERROR(mul(g, c), {"mul", "same device", "cpu", "cuda:0"});
  EXPECT_PARITY_ERROR(matmul(g, c.t()), {"matmul", "same device"});
  EXPECT_PARITY_ERROR(where(gt(g, 0), g, c), {"where", "same device"});
  Tensor gg = g.clone();
  EXPECT_PARITY_ERROR(gg.add_(c), {"add_", "same device"});
  // copy_ is the one op that crosses devices.
  gg.copy_(full({2, 3}, 4.0));
  EXPECT_EQ(gg.to_vector<float>(), std::vector<float>(6, 4.0f));
}

TEST(CudaDevices, GuardsRestoreTheDeviceAndStream) {
  PARITY_REQUIRE_CUDA();
  const int before = cuda::current_device();
  {
    cuda::DeviceGuard guard(cuda::device_count() - 1);
    EXPECT_EQ(cuda::current_device(), cuda::device_count() - 1);
  }
  EXPECT_EQ(cuda::current_device(), before);
  const cuda::Stream s = cuda::Stream::create(0);
  EXPECT_FALSE(s.is_default());
  EXPECT_TRUE(cuda::current_stream(0).is_default());
  {
    cuda::StreamGuard guard(s);
    EXPECT_EQ(cuda::current_stream(0), s);
  }
  EXPECT_TRUE(cuda::current_stream(0).is_default());
}

// ---- memory ----

TEST(CudaMemory, StatisticsFollowAllocations) {
  PARITY_REQUIRE_CUDA();
  cuda::synchronize();
  const MemoryStats before = cuda::memory_stats(0);
  cuda::reset_peak_memory_stats(0);
  {
    const Tensor a = empty({1 << 20}, {.device = kCuda});                     // 4 MiB
    const Tensor b = empty({1 << 18}, {.dtype = kFloat64, .device = kCuda});  // 2 MiB
    const MemoryStats during = cuda::memory_stats(0);
    EXPECT_EQ(during.allocated_bytes - before.allocated_bytes, (4 << 20) + (2 << 20));
    EXPECT_GE(during.reserved_bytes, during.allocated_bytes);
    EXPECT_GE(during.peak_allocated_bytes, during.allocated_bytes);
    EXPECT_EQ(during.num_allocations - before.num_allocations, 2);
    // The generic entry point reads the same pool.
    EXPECT_EQ(memory_stats(kCuda).allocated_bytes, during.allocated_bytes);
  }
  const MemoryStats after = cuda::memory_stats(0);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_GE(after.peak_allocated_bytes, before.allocated_bytes + (6 << 20));
  EXPECT_GE(after.reserved_bytes, 6 << 20) << "freed memory stays in the pool";
  cuda::empty_cache(0);
  EXPECT_LT(cuda::memory_stats(0).reserved_bytes, after.reserved_bytes)
      << "empty_cache returns it to the driver";
}

TEST(CudaMemory, OutOfMemoryIsCatchableAndRecoverable) {
  PARITY_REQUIRE_CUDA();
  const Tensor keep = arange(1000, {.device = kCuda});
  const double keep_sum = sum(keep).item<double>();
  std::vector<Tensor> hog;
  const std::int64_t chunk = std::int64_t{1} << 31;  // 2 GiB of uint8 at a time
  bool thrown = false;
  std::string message;
  for (int i = 0; i < 4096 && !thrown; ++i) {
    try {
      hog.push_back(empty({chunk}, {.dtype = kUInt8, .device = kCuda}));
    } catch (const OutOfMemoryError& e) {
      thrown = true;
      message = e.what();
    }
  }
  ASSERT_TRUE(thrown) << "allocated " << hog.size() << " x 2 GiB without running out";
  for (const char* needle : {"out of memory", "cuda:0", "tried to allocate 2.00 GiB", "free"}) {
    EXPECT_NE(message.find(needle), std::string::npos) << "missing \"" << needle << "\" in: " << message;
  }
  // The process and the other tensors are fine; freeing makes room again.
  EXPECT_EQ(sum(keep).item<double>(), keep_sum);
  ASSERT_GE(hog.size(), 2u);
  hog.pop_back();
  hog.pop_back();
  Tensor again = ones({chunk}, {.dtype = kUInt8, .device = kCuda});
  EXPECT_EQ(sum(again).item<std::int64_t>(), chunk);
  // OutOfMemoryError is a parity::Error.
  try {
    hog.push_back(empty({chunk * 64}, {.dtype = kUInt8, .device = kCuda}));
    ADD_FAILURE() << "128 GiB more fitted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos);
  }
  hog.clear();
  again = Tensor();
  cuda::empty_cache(0);
  EXPECT_EQ(sum(keep).item<double>(), keep_sum);
}

// ---- streams and events ----

TEST(CudaStreams, OpsRunOnTheCurrentStream) {
  PARITY_REQUIRE_CUDA();
  const Tensor x = rand({1 << 22}, {.device = kCuda}, -1, 1);
  const Tensor want = mul(add(x, 1.0), 2.0).to(kCpu);
  const cuda::Stream s = cuda::Stream::create(0);
  // The side stream must not read x before the default stream has written it.
  cuda::Event ready;
  ready.record();
  ready.block(s);
  Tensor got;
  {
    cuda::StreamGuard guard(s);
    cuda::Event start, stop;
    start.record();
    got = mul(add(x, 1.0), 2.0);
    stop.record();
    stop.synchronize();
    EXPECT_TRUE(stop.query());
    EXPECT_GE(stop.elapsed_ms(start), 0.0f);
    s.synchronize();
  }
  EXPECT_TRUE(same_bits(got, want));
}

TEST(CudaStreams, ItemSynchronizesWhatItReads) {
  PARITY_REQUIRE_CUDA();
  Tensor x = zeros({1 << 24}, {.device = kCuda});
  for (int i = 0; i < 20; ++i) x.add_(1.0);
  EXPECT_EQ(sum(x).item<double>(), 20.0 * (1 << 24));
  EXPECT_EQ(x.narrow(0, 12345, 1).item<float>(), 20.0f);
}

// ---- memory and streams (docs/GPU.md, "Memory and streams") ----

// A block is freed on the stream that allocated it: a tensor made under a
// StreamGuard and dropped after it must not be handed to the next allocation on
// the default stream while the side stream still reads it.
TEST(CudaStreams, ABlockIsFreedOnTheStreamThatAllocatedIt) {
  PARITY_REQUIRE_CUDA();
  const std::int64_t n = 1 << 24;
  const cuda::Stream s = cuda::Stream::create(0);
  Tensor copy;
  {
    cuda::StreamGuard guard(s);
    Tensor x = full({n}, 3.0f, {.device = kCuda});
    EXPECT_EQ(cuda::allocation_stream(x), s);
    for (int i = 0; i < 50; ++i) x.add_(1.0);  // long queued work on s
    copy = x.clone();                         // reads x on s
    // x is dropped here, inside the guard, and freed on s.
  }
  {
    cuda::StreamGuard guard(s);
    Tensor y = full({n}, 5.0f, {.device = kCuda});
    for (int i = 0; i < 50; ++i) y.add_(1.0);
    copy = add(copy, y);  // more work on s that reads y
    Tensor keep = y;      // y lives past the guard: freed on s, not on the default stream
    (void)keep;
  }
  // The default stream now allocates and writes the same size at once.
  Tensor z = full({n}, -1.0f, {.device = kCuda});
  s.synchronize();
  cuda::synchronize();
  EXPECT_EQ(min(copy).item<double>(), 53.0 + 55.0);
  EXPECT_EQ(max(copy).item<double>(), 53.0 + 55.0);
}

// A tensor used on a further stream waits for it when freed (record_stream).
TEST(CudaStreams, RecordStreamDelaysTheFreeUntilThatStreamIsDone) {
  PARITY_REQUIRE_CUDA();
  const std::int64_t n = 1 << 24;
  const cuda::Stream s = cuda::Stream::create(0);
  Tensor out = zeros({n}, {.device = kCuda});
  {
    Tensor x = full({n}, 2.0f, {.device = kCuda});  // allocated on the default stream
    cuda::Event ready;
    ready.record();
    ready.block(s);
    {
      cuda::StreamGuard guard(s);
      for (int i = 0; i < 50; ++i) out.add_(x);  // s reads x for a while
    }
    cuda::record_stream(x, s);
    EXPECT_EQ(cuda::allocation_stream(x), cuda::Stream::default_stream(0));
  }  // x freed: after s's reads
  Tensor z = full({n}, 1000.0f, {.device = kCuda});  // would take x's block at once
  s.synchronize();
  cuda::synchronize();
  EXPECT_EQ(min(out).item<double>(), 100.0);
  EXPECT_EQ(max(out).item<double>(), 100.0);
  EXPECT_THROW(cuda::record_stream(zeros({2}), s), Error);  // a CPU tensor
}

// Per-stream cuBLAS workspaces and cuDNN handles go with their stream (defect 5).
TEST(CudaStreams, DestroyedStreamsGiveTheirWorkspacesBack) {
  PARITY_REQUIRE_CUDA();
  const Tensor a = rand({256, 256}, {.device = kCuda}), b = rand({256, 256}, {.device = kCuda});
  cuda::synchronize();
  cuda::empty_cache();
  const std::int64_t before = cuda::memory_info().free_bytes;
  for (int i = 0; i < 24; ++i) {  // 24 x 32 MiB if they stayed
    const cuda::Stream s = cuda::Stream::create(0);
    cuda::StreamGuard guard(s);
    Tensor c = matmul(a, b);
    s.synchronize();
  }
  cuda::synchronize();
  cuda::empty_cache();
  const std::int64_t after = cuda::memory_info().free_bytes;
  EXPECT_GT(after, before - (std::int64_t{64} << 20)) << "free bytes " << before << " -> " << after;
}

// ---- MathMode on matmul ----

double relative_error(const Tensor& got, const Tensor& want64) {
  const Tensor diff = sub(got.to(kFloat64), want64);
  return std::sqrt(sum(mul(diff, diff)).item<double>() / sum(mul(want64, want64)).item<double>());
}

// TF32 reaches batched matmul too (cuBLAS's strided-batched GEMM): strict is
// float32-accurate, TF32 is not, and float64 ignores the mode.
TEST(CudaMathMode, Tf32ReachesBatchedMatmul) {
  PARITY_REQUIRE_CUDA();
  Generator gen(4321);
  const Tensor a = rand({4, 64, 4096}, {.device = kCuda}, -1, 1, &gen);
  const Tensor b = rand({4, 4096, 64}, {.device = kCuda}, -1, 1, &gen);
  const Tensor want = matmul(a.to(kFloat64), b.to(kFloat64));
  const double strict_error = relative_error(matmul(a, b), want);
  double tf32_error = 0;
  {
    MathModeGuard guard(MathMode::TF32);
    tf32_error = relative_error(matmul(a, b), want);
    EXPECT_TRUE(same_bits(matmul(a.to(kFloat64), b.to(kFloat64)), want));
  }
  std::cout << "[  parity  ] batched matmul 4x64x4096x64 relative error: strict " << strict_error << ", tf32 "
            << tf32_error << "\n";
  EXPECT_LT(strict_error, 1e-5);
  EXPECT_GT(tf32_error, 5e-5);
  EXPECT_LT(tf32_error, 1e-2);
}

TEST(CudaMathMode, StrictIsFloat32AndTf32IsTf32) {
  PARITY_REQUIRE_CUDA();
  Generator gen(1234);
  const Tensor a = rand({256, 8192}, {.device = kCuda}, -1, 1, &gen);
  const Tensor b = rand({8192, 256}, {.device = kCuda}, -1, 1, &gen);
  const Tensor want = matmul(a.to(kFloat64), b.to(kFloat64));
  const Tensor strict = matmul(a, b);
  double tf32_error = 0;
  Tensor tf32;
  {
    MathModeGuard guard(MathMode::TF32);
    tf32 = matmul(a, b);
    tf32_error = relative_error(tf32, want);
  }
  const double strict_error = relative_error(strict, want);
  std::cout << "[  parity  ] matmul 256x8192x256 relative error: strict " << strict_error << ", tf32 "
            << tf32_error << "\n";
  EXPECT_LT(strict_error, 1e-5) << "strict float32 should be float32-accurate";
  EXPECT_GT(tf32_error, 5e-5) << "TF32 mode should round the operands to 10-bit mantissas";
  EXPECT_LT(tf32_error, 1e-2);
  EXPECT_TRUE(same_bits(matmul(a, b), strict)) << "back to strict after the guard, and deterministic";
  // float64 ignores the mode.
  MathModeGuard guard(MathMode::TF32);
  EXPECT_TRUE(same_bits(matmul(a.to(kFloat64), b.to(kFloat64)), want));
}

}  // namespace
}  // namespace parity::testing
