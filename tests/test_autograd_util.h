// Shared by the autograd suites: the per-run seed, device parametrization and
// input makers (values kept away from kinks and ties, contiguous or not).
#pragma once

#include <parity/autograd/gtest.h>
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <string>

#include "test_devices.h"

namespace parity::testing {

// Fresh random inputs each run: the seed is drawn from the system unless
// PARITY_TEST_SEED sets it, and printed so a failure can be replayed.
inline std::uint64_t autograd_test_seed() {
  static const std::uint64_t seed = [] {
    std::uint64_t s;
    if (const char* env = std::getenv("PARITY_TEST_SEED"); env != nullptr && *env != '\0') {
      s = std::strtoull(env, nullptr, 0);
    } else {
      std::random_device rd;
      s = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }
    std::cout << "[parity autograd tests] seed " << s << " (replay with PARITY_TEST_SEED=" << s << ")\n";
    return s;
  }();
  return seed;
}

class AutogradTest : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    // Each test draws from its own stream, so a test's inputs don't depend on
    // which tests ran before it.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::uint64_t seed =
        autograd_test_seed() ^
        std::hash<std::string>{}(std::string(info->test_suite_name()) + "." + info->name());
    manual_seed(seed);
    RecordProperty("parity_seed", std::to_string(autograd_test_seed()));
  }

  Device device() const { return GetParam(); }
  TensorOptions f64() const { return {.dtype = kFloat64, .device = device()}; }

  // Layout: the tensor itself, or a non-contiguous view of the same shape (every
  // other element of a buffer twice as wide in the last dim).
  Tensor layout(const Shape& shape, bool contiguous, const std::function<Tensor(const Shape&)>& make) const {
    if (contiguous || shape.empty()) return make(shape);
    Shape wide = shape;
    wide.back() *= 2;
    return make(wide).slice(-1, 0, wide.back(), 2);
  }
  Tensor normal(const Shape& shape, bool contiguous = true) const {
    return layout(shape, contiguous, [&](const Shape& s) { return randn(s, f64()); });
  }
  // Uniform in [0.5, 2): for log, sqrt, pow bases.
  Tensor positive(const Shape& shape, bool contiguous = true) const {
    return layout(shape, contiguous, [&](const Shape& s) { return rand(s, f64(), 0.5, 2.0); });
  }
  // |x| in [0.3, 1.5), random sign: for abs, relu, sign, reciprocal, division.
  Tensor away_from_zero(const Shape& shape, bool contiguous = true) const {
    return layout(shape, contiguous, [&](const Shape& s) {
      return mul(rand(s, f64(), 0.3, 1.5), sign(sub(rand(s, f64()), 0.5)));
    });
  }
};

}  // namespace parity::testing
