// The devices a test suite runs over: the CPU always, and every CUDA device
// when the build has the CUDA backend and the machine a GPU. Suites are
// parametrized over these, so the same assertions run on each backend.
#pragma once

#include <gtest/gtest.h>
#include <parity/parity.h>

#include <string>
#include <vector>

namespace parity::testing {

inline std::vector<Device> test_devices() {
  std::vector<Device> devices{Device::cpu()};
  for (int i = 0; i < cuda::device_count(); ++i) devices.push_back(Device::cuda(i));
  return devices;
}

inline std::string device_name(const ::testing::TestParamInfo<Device>& info) {
  return info.param.is_cpu() ? "cpu" : "cuda" + std::to_string(info.param.index);
}

// For tests that need a GPU: skips with a reason when there is none.
#define PARITY_REQUIRE_CUDA()                                                                 \
  do {                                                                                        \
    if (!::parity::cuda::is_available()) {                                                    \
      GTEST_SKIP() << "no CUDA device: this build or machine has no GPU (CUDA tests skipped)"; \
    }                                                                                         \
  } while (0)

}  // namespace parity::testing
