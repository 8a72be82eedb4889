// A tensor of more than 2^31 bytes: every index past 2^31 must be computed in
// 64 bits, in the elementwise loops (dense and strided), the reductions and
// the views. One uint8 tensor of 2^31 + 2^20 bytes (2 GiB + 1 MiB) is written
// and read at its far end; nothing else of that size is allocated, so the test
// stays within ~2.1 GiB (it also runs under AddressSanitizer).
#include <cstdint>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class LargeTensor : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, LargeTensor, ::testing::ValuesIn(test_devices()), device_name);

TEST_P(LargeTensor, IndexesPast2To31) {
  const Device device = GetParam();
  constexpr std::int64_t kCols = std::int64_t{1} << 20;
  constexpr std::int64_t kRows = 2049;  // kRows * kCols = 2^31 + 2^20
  constexpr std::int64_t n = kRows * kCols;
  static_assert(n > (std::int64_t{1} << 31));
  {
    Tensor x = empty({n}, {.dtype = kUInt8, .device = device});
    ASSERT_EQ(x.nbytes(), static_cast<std::size_t>(n));
    x.fill_(1);
    x.narrow(0, n - 5, 5).fill_(7);  // a view whose offset is past 2^31
    x.add_(2);                       // dense in-place loop over every element
    EXPECT_EQ(x.narrow(0, n - 8, 8).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{3, 3, 3, 9, 9, 9, 9, 9}));
    EXPECT_EQ(x.select(0, -1).item<int>(), 9);
    EXPECT_EQ(x.select(0, 0).item<int>(), 3);
    // The sum of every element: int64, exact.
    EXPECT_EQ(sum(x).item<std::int64_t>(), 3 * n + 5 * 6);

    const Tensor y = x.view({kRows, kCols});
    // Column reductions: row r of column c at offset r * 2^20 + c, up to 2^31 + 2^20 - 1.
    const Tensor col_sums = sum(y, {0});
    EXPECT_EQ(col_sums.narrow(0, kCols - 6, 6).to_vector<std::int64_t>(),
              (std::vector<std::int64_t>{3 * kRows, 3 * kRows + 6, 3 * kRows + 6, 3 * kRows + 6, 3 * kRows + 6,
                                         3 * kRows + 6}));
    // Row reductions: the last row starts at 2^31.
    const Tensor where_max = argmax(y, 1);
    EXPECT_EQ(where_max.narrow(0, kRows - 3, 3).to_vector<std::int64_t>(),
              (std::vector<std::int64_t>{0, 0, kCols - 5}));
    EXPECT_EQ(sum(where_max).item<std::int64_t>(), kCols - 5);
    // (A reduction over dim 0 of max/argmax reads each column 2^20 bytes apart:
    // correct but very slow on the CPU, so it is left to the small tests.)
    // A strided view spanning the whole buffer: 2049 elements 2^20 apart.
    const Tensor last_col = y.select(1, kCols - 1);
    EXPECT_EQ(last_col.stride(0), kCols);
    const std::vector<std::uint8_t> plus = add(last_col, 1).to_vector<std::uint8_t>();
    EXPECT_EQ(plus.front(), 4);
    EXPECT_EQ(plus.back(), 10);
    EXPECT_EQ(sum(last_col).item<std::int64_t>(), 3 * (kRows - 1) + 9);
    EXPECT_EQ(max(last_col).item<int>(), 9);
    EXPECT_EQ(argmax(last_col).item<std::int64_t>(), kRows - 1);
    // In place through that strided view, then read through the base.
    Tensor col = last_col;
    col.mul_(2);
    EXPECT_EQ(x.select(0, -1).item<int>(), 18);
    EXPECT_EQ(x.select(0, -2).item<int>(), 9);
    EXPECT_EQ(x.select(0, n - 1 - kCols).item<int>(), 6);
    // Rows near the end: a 2-D block at an offset past 2^31.
    const Tensor tail = y.narrow(0, kRows - 2, 2).narrow(1, kCols - 3, 3);
    EXPECT_EQ(tail.contiguous().to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{3, 3, 6, 9, 9, 18}));
  }
  empty_cache(device);
}

}  // namespace
}  // namespace parity::testing
