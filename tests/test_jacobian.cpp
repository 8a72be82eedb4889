// autograd::jacobian (parity/autograd/engine.h) against Jacobians written out
// by hand: an elementwise product (diagonal blocks), matmul (Kronecker
// structure), an unused input (zeros), and the undefined-output error.
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class Jacobian : public AutogradTest {};

TEST_P(Jacobian, MatchesTheJacobiansWrittenOutByHand) {
  const Tensor a = normal({2, 3}).requires_grad_(), b = normal({3, 2}).requires_grad_();
  const Tensor unused = normal({4}).requires_grad_();
  const std::vector<Tensor> j = autograd::jacobian(matmul(a, b), {a, b, unused});
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0].shape(), (Shape{2, 2, 2, 3}));
  EXPECT_EQ(j[1].shape(), (Shape{2, 2, 3, 2}));
  const std::vector<double> av = a.detach().to_vector<double>(), bv = b.detach().to_vector<double>(),
                            ja = j[0].to_vector<double>(), jb = j[1].to_vector<double>();
  // y[r][c] = sum_k a[r][k] b[k][c]: dy[r][c]/da[p][q] = (r == p) b[q][c]; dy[r][c]/db[p][q] = (c == q) a[r][p].
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 2; ++p)
        for (int q = 0; q < 3; ++q) {
          EXPECT_EQ(ja[((r * 2 + c) * 2 + p) * 3 + q], r == p ? bv[q * 2 + c] : 0.0);
          EXPECT_EQ(jb[((r * 2 + c) * 3 + q) * 2 + p], c == p ? av[r * 3 + q] : 0.0);
        }
  for (double v : j[2].to_vector<double>()) EXPECT_EQ(v, 0.0);
  // Elementwise: diagonal, 2x on it.
  const Tensor x = normal({3}).requires_grad_();
  const std::vector<double> d = autograd::jacobian(mul(x, x), {x})[0].to_vector<double>(),
                            xv = x.detach().to_vector<double>();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(d[r * 3 + c], r == c ? 2 * xv[r] : 0.0);
  EXPECT_PARITY_ERROR(autograd::jacobian(Tensor(), {x}), {"autograd::jacobian:", "undefined"});
}

INSTANTIATE_TEST_SUITE_P(Devices, Jacobian, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
