// Without a GPU (a build without the CUDA backend, or a machine without a
// driver or a device), CUDA is reported unavailable cleanly: a device count of
// 0, never a crash or an exception from merely asking, and a clear
// parity::Error when a CUDA tensor or a CUDA call is asked for. On a machine
// with a GPU these tests skip, saying so.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include "parity/cuda/api.h"
#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

#define PARITY_REQUIRE_NO_CUDA()                                                               \
  do {                                                                                         \
    if (::parity::cuda::is_available()) {                                                      \
      GTEST_SKIP() << "a CUDA device is present: these tests check the behaviour without one"; \
    }                                                                                          \
  } while (0)

TEST(CudaUnavailable, ReportedCleanly) {
  // Asking never throws, whatever the machine.
  EXPECT_NO_THROW(cuda::device_count());
  EXPECT_NO_THROW(cuda::is_available());
  EXPECT_EQ(cuda::is_available(), cuda::device_count() > 0);
  PARITY_REQUIRE_NO_CUDA();
  EXPECT_EQ(cuda::device_count(), 0);
  EXPECT_EQ(test_devices(), std::vector<Device>{Device::cpu()});
#if PARITY_WITH_CUDA
  std::cout << "[  parity  ] this build has the CUDA backend; this machine has no usable CUDA device\n";
#else
  std::cout << "[  parity  ] this build has no CUDA backend\n";
#endif
}

TEST(CudaUnavailable, CudaTensorsAreAClearError) {
  PARITY_REQUIRE_NO_CUDA();
  EXPECT_PARITY_ERROR(empty({2, 3}, {.device = Device::cuda()}), {"empty", "cuda:0", "not available"});
  EXPECT_PARITY_ERROR(ones({2}).to(Device::cuda()), {"cuda:0", "not available"});
  EXPECT_PARITY_ERROR(rand({4}, {.device = Device::cuda(1)}), {"cuda:1", "not available"});
  EXPECT_PARITY_ERROR(memory_stats(Device::cuda()), {"memory_stats", "not available"});
  // The CPU is unaffected.
  EXPECT_EQ(sum(ones({10})).item<float>(), 10.0f);
}

TEST(CudaUnavailable, CudaCallsAreAClearError) {
  PARITY_REQUIRE_NO_CUDA();
  EXPECT_PARITY_ERROR(cuda::memory_stats(0), {"memory_stats", "is_available() is false"});
  EXPECT_PARITY_ERROR(cuda::empty_cache(), {"empty_cache", "is_available() is false"});
  EXPECT_PARITY_ERROR(cuda::synchronize(), {"synchronize", "is_available() is false"});
  EXPECT_PARITY_ERROR(cuda::Stream::create(0), {"Stream", "is_available() is false"});
  EXPECT_PARITY_ERROR(cuda::Event event, {"Event", "is_available() is false"});
  EXPECT_PARITY_ERROR(cuda::set_device(0), {"set_device", "is_available() is false"});
  EXPECT_PARITY_ERROR(cuda::device_info(0), {"device_info", "is_available() is false"});
}

}  // namespace
}  // namespace parity::testing
