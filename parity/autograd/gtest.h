// GoogleTest helpers for gradient checks. Include from test code only (this
// header includes <gtest/gtest.h>; parity/parity.h does not include it).
//
//   EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); },
//                    {randn({3}, {.dtype = kFloat64}).requires_grad_(),
//                     randn({3}, {.dtype = kFloat64}).requires_grad_()});
//   EXPECT_GRADCHECK(fn, inputs, {.fast_mode = true});
//   EXPECT_FLOAT32_GRADIENT(fn, inputs);
//
// On failure the test prints the gradcheck report: the worst entry, its
// output and input indices, analytical and numerical values and errors.
#pragma once

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "parity/autograd/gradcheck.h"

namespace parity::autograd::testing {

inline ::testing::AssertionResult report_passed(const GradcheckReport& report) {
  if (report.ok) return ::testing::AssertionSuccess() << report;
  return ::testing::AssertionFailure() << report;
}

template <typename Fn>
::testing::AssertionResult gradcheck_passes(Fn&& fn, const std::vector<Tensor>& inputs,
                                            const GradcheckOptions& options = {}) {
  return report_passed(gradcheck(std::forward<Fn>(fn), inputs, options));
}

template <typename Fn>
::testing::AssertionResult float32_gradient_agrees(Fn&& fn, const std::vector<Tensor>& inputs,
                                                   const Float32CheckOptions& options = {}) {
  return report_passed(check_float32_gradient(std::forward<Fn>(fn), inputs, options));
}

}  // namespace parity::autograd::testing

#define EXPECT_GRADCHECK(...) EXPECT_TRUE(::parity::autograd::testing::gradcheck_passes(__VA_ARGS__))
#define ASSERT_GRADCHECK(...) ASSERT_TRUE(::parity::autograd::testing::gradcheck_passes(__VA_ARGS__))
#define EXPECT_FLOAT32_GRADIENT(...) \
  EXPECT_TRUE(::parity::autograd::testing::float32_gradient_agrees(__VA_ARGS__))
#define ASSERT_FLOAT32_GRADIENT(...) \
  ASSERT_TRUE(::parity::autograd::testing::float32_gradient_agrees(__VA_ARGS__))
