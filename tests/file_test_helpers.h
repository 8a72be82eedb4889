// What the file-format tests share: bitwise tensor equality and the check that
// a reader's error names the file and the problem.
#pragma once

#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cstring>
#include <string>

namespace parity::testing {

// The same dtype, shape and bytes (NaN payloads and signed zeros included).
inline void expect_same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  EXPECT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const Tensor g = got.contiguous(), w = want.contiguous();
  EXPECT_EQ(std::memcmp(g.data_ptr(), w.data_ptr(), g.nbytes()), 0) << what << ": the bits differ";
}

// fn() throws a parity::Error whose message names the file and the problem.
template <typename Fn>
void expect_error(const Fn& fn, const std::string& file, const std::string& problem) {
  try {
    fn();
    ADD_FAILURE() << file << ": accepted, expected a parity::Error saying '" << problem << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file), std::string::npos) << "the message does not name the file: " << what;
    EXPECT_NE(what.find(problem), std::string::npos) << "expected '" << problem << "' in: " << what;
  }
}

}  // namespace parity::testing
