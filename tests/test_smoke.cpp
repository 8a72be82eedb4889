#include <gtest/gtest.h>
#include <parity/parity.h>

using namespace parity;

TEST(Smoke, AddAndSum) {
  Tensor a = arange(6, {.dtype = kFloat32}).view({2, 3});
  Tensor b = ones({3});
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(sum(c).item<float>(), 21.0f);
  std::cout << c << "\n" << matmul(a, a.t()) << "\n" << randn({2, 3}) << "\n";
}
