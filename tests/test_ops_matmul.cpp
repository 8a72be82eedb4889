// matmul against the reference of tests/reference.h: 2-D, batched, broadcast
// batch dims, 1-D operands, transposed operands (a.t(), permuted batched views)
// and other non-contiguous ones, zero-size dims, float32 and float64.
//
// Tolerance: any order of the k products and sums (a BLAS's blocking, FMA,
// a GPU's split-k) errs by at most about k eps (|A| |B|)_ij, first order (the
// classic gamma_k bound, gamma_k = k u / (1 - k u) with u = eps / 2, doubled
// for room). That bound is what each element gets; it is far below the error
// of any wrong index, transposition or stride (order |A| |B| itself).
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "blas_kernel.h"
#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class Matmul : public ::testing::TestWithParam<Device> {};
INSTANTIATE_TEST_SUITE_P(Devices, Matmul, ::testing::ValuesIn(test_devices()), device_name);

// Checks matmul(ta, tb) against the reference product of (a, b), the host
// values of ta and tb in their logical (row-major) order.
::testing::AssertionResult matmul_matches(const Tensor& ta, const Tensor& tb, const Ref& a, const Ref& b) {
  std::vector<double> abs_product;
  const Ref want = ref_matmul(a, b, &abs_product);
  const std::int64_t k = a.shape.back();
  const double eps = a.dtype == kFloat32 ? 0x1p-23 : 0x1p-52;
  Tolerance tol;
  for (double p : abs_product) tol.abs.push_back(static_cast<double>(k) * eps * p + 1e-300);
  const Tensor out = matmul(ta, tb);
  if (!out.is_contiguous()) return ::testing::AssertionFailure() << "the result is not contiguous";
  return matches(out, want, tol) << " (" << to_string(ta.shape()) << " @ " << to_string(tb.shape()) << ")";
}

TEST_P(Matmul, ShapesAndBroadcasting) {
  TestRng rng;
  const Device device = GetParam();
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {{1, 1}, {1, 1}},          {{3, 4}, {4, 5}},          {{17, 33}, {33, 9}},
      {{64, 70}, {70, 65}},      {{1, 8}, {8, 1}},          {{8, 1}, {1, 8}},
      {{5}, {5}},                {{5}, {5, 3}},             {{4, 5}, {5}},
      {{2, 4, 5}, {5}},          {{5}, {3, 5, 2}},          {{2, 3, 4}, {2, 4, 5}},
      {{2, 1, 3, 4}, {5, 4, 6}}, {{3, 4}, {2, 4, 5}},       {{2, 3, 4}, {4, 5}},
      {{1, 3, 4}, {6, 4, 2}},    {{2, 1, 2, 3, 4}, {1, 3, 1, 4, 2}},
  };
  for (DType dtype : float_dtypes()) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(name(dtype)) + " " + to_string(c.a) + " @ " + to_string(c.b));
      const Ref a = random_ref(rng, c.a, dtype, -2, 2), b = random_ref(rng, c.b, dtype, -2, 2);
      EXPECT_TRUE(matmul_matches(to_tensor(a, device), to_tensor(b, device), a, b));
    }
    const Ref v = random_ref(rng, {6}, dtype, -2, 2);
    EXPECT_EQ(matmul(to_tensor(v, device), to_tensor(v, device)).shape(), Shape{});  // dot product: 0-d
  }
}

TEST_P(Matmul, TransposedAndNonContiguousOperands) {
  TestRng rng;
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Ref a_base = random_ref(rng, {7, 5}, dtype, -2, 2), b_base = random_ref(rng, {6, 7}, dtype, -2, 2);
    const Tensor ta = to_tensor(a_base, device), tb = to_tensor(b_base, device);
    const Ref at = ref_permute(a_base, {1, 0}), bt = ref_permute(b_base, {1, 0});
    // A^T B^T: both passed to the BLAS as transposed.
    EXPECT_TRUE(matmul_matches(ta.t(), tb.t(), at, bt));
    // A^T with a contiguous B, and a contiguous A with B^T.
    const Ref c = random_ref(rng, {7, 3}, dtype, -2, 2);
    EXPECT_TRUE(matmul_matches(ta.t(), to_tensor(c, device), at, c));
    const Ref d = random_ref(rng, {4, 7}, dtype, -2, 2);
    EXPECT_TRUE(matmul_matches(to_tensor(d, device), tb.t(), d, bt));
    // Stepped slices: a column stride of 2 (no BLAS layout: copied first), a
    // row stride larger than the row, a sub-block with its parent's leading dim.
    const Ref wide = random_ref(rng, {4, 12}, dtype, -2, 2);
    const Tensor tw = to_tensor(wide, device);
    const Ref every_other = ref_strided(wide, {4, 6}, {12, 2}, 1);
    EXPECT_TRUE(matmul_matches(tw.slice(1, 1, 12, 2), tb, every_other, b_base));
    const Ref block = ref_strided(wide, {3, 7}, {12, 1}, 13);
    EXPECT_TRUE(matmul_matches(tw.narrow(0, 1, 3).narrow(1, 1, 7), ta, block, a_base));
    const Ref rows = ref_strided(wide, {2, 12}, {24, 1}, 0);
    const Ref tall = random_ref(rng, {12, 3}, dtype, -2, 2);
    EXPECT_TRUE(matmul_matches(tw.slice(0, 0, 4, 2), to_tensor(tall, device).t().t(), rows, tall));
    // An expanded (stride-0) operand and a broadcast row vector.
    const Ref row = random_ref(rng, {5}, dtype, -2, 2);
    const Ref repeated = ref_strided(row, {3, 5}, {0, 1}, 0);
    const Ref e = random_ref(rng, {5, 4}, dtype, -2, 2);
    EXPECT_TRUE(matmul_matches(to_tensor(row, device).expand({3, 5}), to_tensor(e, device), repeated, e));
    // 1-D operands that are strided views.
    EXPECT_TRUE(matmul_matches(tw.select(1, 3), tw.select(1, 0), ref_strided(wide, {4}, {12}, 3),
                               ref_strided(wide, {4}, {12}, 0)));
    EXPECT_TRUE(matmul_matches(tw.select(1, 3), to_tensor(tall, device).narrow(0, 0, 4), ref_strided(wide, {4}, {12}, 3),
                               ref_strided(tall, {4, 3}, {3, 1}, 0)));
    // Permuted batched views: [b, m, k] stored as [m, b, k] and as [k, b, m].
    const Ref p = random_ref(rng, {3, 2, 4}, dtype, -2, 2);  // [m, b, k]
    const Ref q = random_ref(rng, {5, 2, 4}, dtype, -2, 2);  // [n, b, k]
    const Tensor tp = to_tensor(p, device).permute({1, 0, 2});  // [b, m, k], row stride b*k
    const Tensor tq = to_tensor(q, device).permute({1, 2, 0});  // [b, k, n], transposed layout
    EXPECT_TRUE(matmul_matches(tp, tq, ref_permute(p, {1, 0, 2}), ref_permute(q, {1, 2, 0})));
    const Ref r = random_ref(rng, {4, 2, 3}, dtype, -2, 2);  // [k, b, m]
    EXPECT_TRUE(matmul_matches(to_tensor(r, device).permute({1, 2, 0}), tq, ref_permute(r, {1, 2, 0}),
                               ref_permute(q, {1, 2, 0})));
    // A batch of transposes: batch stride not the largest.
    const Ref s = random_ref(rng, {4, 3, 2}, dtype, -2, 2);  // [k, m, b]
    EXPECT_TRUE(matmul_matches(to_tensor(s, device).permute({2, 1, 0}), tq, ref_permute(s, {2, 1, 0}),
                               ref_permute(q, {1, 2, 0})));
    // A broadcast batch operand given as an expanded view.
    const Ref m = random_ref(rng, {3, 4}, dtype, -2, 2);
    EXPECT_TRUE(matmul_matches(to_tensor(m, device).expand({2, 3, 4}), tq, ref_strided(m, {2, 3, 4}, {0, 4, 1}, 0),
                               ref_permute(q, {1, 2, 0})));
  }
}

TEST_P(Matmul, ZeroSizeDims) {
  const Device device = GetParam();
  for (DType dtype : float_dtypes()) {
    SCOPED_TRACE(std::string(name(dtype)));
    const TensorOptions o{.dtype = dtype, .device = device};
    EXPECT_EQ(matmul(empty({0, 3}, o), ones({3, 4}, o)).shape(), (Shape{0, 4}));
    EXPECT_EQ(matmul(ones({2, 3}, o), empty({3, 0}, o)).shape(), (Shape{2, 0}));
    EXPECT_EQ(matmul(empty({0, 2, 3}, o), ones({3, 4}, o)).shape(), (Shape{0, 2, 4}));
    // An empty inner dim: the sum of nothing, zeros (even over garbage memory).
    const Tensor z = matmul(empty({2, 0}, o), empty({0, 4}, o));
    EXPECT_TRUE(matches(z, make_ref({2, 4}, dtype, std::vector<double>(8, 0))));
    EXPECT_TRUE(matches(matmul(empty({0}, o), empty({0}, o)), make_ref({}, dtype, {0})));
    EXPECT_TRUE(matches(matmul(empty({3, 2, 0}, o), empty({0}, o)), make_ref({3, 2}, dtype, std::vector<double>(6, 0))));
  }
}

// The result is a new tensor: writing to it leaves the operands alone.
TEST_P(Matmul, ResultIsFresh) {
  TestRng rng;
  const Device device = GetParam();
  const Ref a = random_ref(rng, {3, 3}, kFloat32, -1, 1);
  const Tensor ta = to_tensor(a, device);
  Tensor out = matmul(ta, ta);
  EXPECT_FALSE(out.storage() == ta.storage());
  out.fill_(7);
  EXPECT_TRUE(matches(ta, a));
}

// Which OpenBLAS kernels run is visible (parity/cpu/blas.h), and a pin by
// OPENBLAS_CORETYPE (scripts/openblas-env) takes effect: else the bit-for-bit
// replays would skip, or fail, without saying why.
TEST(CpuBlas, NamesItsKernelsAndHonoursAPinnedKernelFamily) {
  const std::string core = cpu::blas_core();
  EXPECT_FALSE(core.empty());
  std::cout << "[ measured ] OpenBLAS kernels: " << core << "\n";
  const char* pinned = std::getenv("OPENBLAS_CORETYPE");
  if (pinned == nullptr) GTEST_SKIP() << "OPENBLAS_CORETYPE is not set: OpenBLAS chose " << core << " itself";
  std::string wanted = pinned, got = core;
  for (std::string* s : {&wanted, &got}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (wanted == "haswell" || wanted == "skylakex") {
    EXPECT_EQ(got, wanted) << "OPENBLAS_CORETYPE=" << pinned << " but OpenBLAS runs " << core;
    EXPECT_TRUE(blas_kernel_verified());
  }
}

}  // namespace
}  // namespace parity::testing
