// cat, stack, split, split_with_sizes and chunk (parity/autograd/join.h) on
// every device: values against an independent row-major reference (index
// arithmetic on the host, no Parity op), non-contiguous inputs, empty pieces,
// integer dtypes, gradients by finite differences and by their exact values,
// and the errors for every input they refuse.
#include <numeric>
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;

// The row-major concatenation of the refs along dim: for each index before
// dim, each input's block of sizes[i] * (product after dim) values in turn.
Ref ref_cat(const std::vector<Ref>& refs, int dim) {
  Shape shape = refs[0].shape;
  i64 outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= shape[static_cast<std::size_t>(d)];
  for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  shape[static_cast<std::size_t>(dim)] = 0;
  for (const Ref& r : refs) shape[static_cast<std::size_t>(dim)] += r.shape[static_cast<std::size_t>(dim)];
  Ref out{shape, refs[0].dtype, {}};
  for (i64 o = 0; o < outer; ++o) {
    for (const Ref& r : refs) {
      const i64 block = r.shape[static_cast<std::size_t>(dim)] * inner;
      for (i64 j = 0; j < block; ++j) out.v.push_back(r.v[static_cast<std::size_t>(o * block + j)]);
    }
  }
  return out;
}

class Join : public AutogradTest {};

TEST_P(Join, CatMatchesTheReferenceAlongEveryDim) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (int dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(name(dtype)) + ", dim " + std::to_string(dim));
      std::vector<Ref> refs;
      std::vector<Tensor> tensors;
      for (const i64 size : {3, 1, 4}) {
        Shape shape{2, 5, 6};
        shape[static_cast<std::size_t>(dim)] = size;
        refs.push_back(random_ref(rng, shape, dtype, -100, 100));
        tensors.push_back(to_tensor(refs.back(), device()));
      }
      EXPECT_TRUE(matches(cat(tensors, dim), ref_cat(refs, dim), exact()));
      EXPECT_TRUE(matches(cat(tensors, dim - 3), ref_cat(refs, dim), exact())) << "negative dim";
    }
  }
}

TEST_P(Join, CatReadsNonContiguousAndEmptyInputs) {
  TestRng rng;
  const Ref a = random_ref(rng, {4, 3}, kFloat32, -1, 1), b = random_ref(rng, {4, 2}, kFloat32, -1, 1);
  // a transposed view ([3, 4], strides [1, 3]) joined with a contiguous [2, 4].
  const Tensor at = to_tensor(a, device()).t();
  const Tensor bt = to_tensor(ref_permute(b, {1, 0}), device());
  const Tensor empty_piece = zeros({0, 4}, {.dtype = kFloat32, .device = device()});
  EXPECT_TRUE(matches(cat({at, empty_piece, bt}, 0), ref_cat({ref_permute(a, {1, 0}), ref_permute(b, {1, 0})}, 0),
                      exact()));
  // One tensor: a copy, not the input itself.
  const Tensor single = to_tensor(a, device());
  const Tensor copy = cat({single}, 1);
  EXPECT_FALSE(copy.is_same(single));
  EXPECT_TRUE(matches(copy, a, exact()));
}

TEST_P(Join, StackIsCatOfUnsqueezedInputs) {
  TestRng rng;
  for (const i64 dim : {0, 1, 2, -1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    const Ref a = random_ref(rng, {3, 4}, kFloat64, -1, 1), b = random_ref(rng, {3, 4}, kFloat64, -1, 1);
    const Tensor s = stack({to_tensor(a, device()), to_tensor(b, device())}, dim);
    const int d = dim < 0 ? 2 : static_cast<int>(dim);
    Shape unsqueezed{3, 4};
    unsqueezed.insert(unsqueezed.begin() + d, 1);
    const Ref want = ref_cat({Ref{unsqueezed, kFloat64, a.v}, Ref{unsqueezed, kFloat64, b.v}}, d);
    EXPECT_TRUE(matches(s, want, exact()));
  }
}

TEST_P(Join, SplitAndChunkGiveViewsThatCatBack) {
  TestRng rng;
  const Ref r = random_ref(rng, {7, 5}, kFloat32, -1, 1);
  const Tensor x = to_tensor(r, device());
  const std::vector<Tensor> by3 = split(x, 3, 0);
  ASSERT_EQ(by3.size(), 3u);
  EXPECT_EQ(by3[0].shape(), (Shape{3, 5}));
  EXPECT_EQ(by3[2].shape(), (Shape{1, 5}));
  EXPECT_EQ(by3[1].storage(), x.storage()) << "split returns views";
  EXPECT_TRUE(matches(cat(by3, 0), r, exact()));
  const std::vector<Tensor> sized = split_with_sizes(x, {2, 0, 3}, -1);
  ASSERT_EQ(sized.size(), 3u);
  EXPECT_EQ(sized[1].shape(), (Shape{7, 0}));
  EXPECT_TRUE(matches(cat(sized, 1), r, exact()));
  // chunk: ceil(7 / 3) = 3 rows each; 7 rows in 4 chunks of 2 (the last one 1).
  EXPECT_EQ(chunk(x, 3, 0).size(), 3u);
  const std::vector<Tensor> four = chunk(x, 4, 0);
  ASSERT_EQ(four.size(), 4u);
  EXPECT_EQ(four[3].shape(), (Shape{1, 5}));
  // More chunks than rows: one row each, fewer chunks than asked (as torch.chunk).
  EXPECT_EQ(chunk(x, 10, 0).size(), 7u);
  EXPECT_TRUE(matches(cat(chunk(x, 2, 1), 1), r, exact()));
}

TEST_P(Join, GradientsByFiniteDifferences) {
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); },
                   {normal({2, 3}).requires_grad_(), normal({2, 1}, false).requires_grad_(),
                    normal({2, 4}).requires_grad_()});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); },
                   {normal({3, 2}).requires_grad_(), normal({3, 2}, false).requires_grad_()});
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        const std::vector<Tensor> parts = split(in[0], 2, 0);
        return add(mul(parts[0], parts[1]), sum(parts[2]));  // pieces used unequally
      },
      {normal({5, 3}).requires_grad_()});
  EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return mul(chunk(in[0], 2, 1)[1], 3.0); },
                   {normal({2, 4}).requires_grad_()});
}

TEST_P(Join, CatGradientIsEachInputsSliceOfTheOutputsGradient) {
  const Tensor a = normal({2, 3}).requires_grad_(), b = normal({2, 2}).requires_grad_();
  const Tensor frozen = normal({2, 1});  // needs no gradient: gets none
  const Tensor w = normal({2, 6});
  sum(mul(cat({a, frozen, b}, 1), w)).backward();
  const std::vector<double> ws = w.to_vector<double>(), ga = a.grad().to_vector<double>(),
                            gb = b.grad().to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(ga[i * 3 + j], ws[i * 6 + j]);
    for (int j = 0; j < 2; ++j) EXPECT_EQ(gb[i * 2 + j], ws[i * 6 + 4 + j]);
  }
  EXPECT_FALSE(frozen.grad().defined());
}

TEST_P(Join, RefusesWhatDoesNotJoinNamingTheOpAndTheShapes) {
  const TensorOptions f32{.dtype = kFloat32, .device = device()};
  const Tensor a = zeros({2, 3}, f32), b = zeros({2, 4}, f32);
  EXPECT_PARITY_ERROR(cat({}, 0), {"cat:", "at least one tensor"});
  EXPECT_PARITY_ERROR(cat({a, b}, 0), {"cat:", "tensor 1 has shape [2, 4]", "tensor 0 has [2, 3]", "but dim 0"});
  EXPECT_PARITY_ERROR(cat({a, zeros({2, 3, 1}, f32)}, 0), {"cat:", "one rank"});
  EXPECT_PARITY_ERROR(cat({a, zeros({2, 3}, {.dtype = kFloat64, .device = device()})}, 0),
                      {"cat:", "tensor 1 is float64", "tensor 0 is float32", ".to(dtype)"});
  EXPECT_PARITY_ERROR(cat({a, Tensor()}, 0), {"cat:", "tensor 1 of 2 is an undefined tensor"});
  EXPECT_PARITY_ERROR(cat({a, b}, 2), {"cat"});
  EXPECT_PARITY_ERROR(cat({scalar_tensor(1.0, f32)}, 0), {"cat:", "rank 1 or more"});
  EXPECT_PARITY_ERROR(stack({a, b}, 0), {"stack:", "one shape", "[2, 4]"});
  EXPECT_PARITY_ERROR(stack({a}, 3), {"stack"});
  EXPECT_PARITY_ERROR(split(a, 0, 0), {"split:", "split_size is 0"});
  EXPECT_PARITY_ERROR(split_with_sizes(a, {1, 1}, 1), {"split_with_sizes:", "add up to 2", "has 3 along dim 1"});
  EXPECT_PARITY_ERROR(split_with_sizes(a, {4, -1}, 1), {"split_with_sizes:", "size 1 is -1"});
  EXPECT_PARITY_ERROR(chunk(a, 0, 0), {"chunk:", "chunks is 0"});
  if (cuda::is_available() && device().is_cpu()) {
    EXPECT_PARITY_ERROR(cat({a, zeros({2, 3}, {.device = Device::cuda(0)})}, 0),
                        {"cat:", "tensor 1 is on cuda:0", "tensor 0 is on cpu", ".to(device)"});
  }
}

// slice_scatter against a host reference: x's values, with every step-th
// row from start to end replaced by src's rows in order.
TEST_P(Join, SliceScatterReplacesTheSliceAndNothingElse) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(std::string(name(dtype)));
    const Ref x = random_ref(rng, {7, 3}, dtype, -1, 1), src = random_ref(rng, {3, 3}, dtype, 5, 6);
    Ref want = x;
    int row = 0;
    for (i64 r = 1; r < 6; r += 2, ++row) {
      for (i64 c = 0; c < 3; ++c) want.v[static_cast<std::size_t>(r * 3 + c)] = src.v[static_cast<std::size_t>(row * 3 + c)];
    }
    const Tensor xt = to_tensor(x, device());
    EXPECT_TRUE(matches(slice_scatter(xt, to_tensor(src, device()), 0, 1, 6, 2), want, exact()));
    EXPECT_TRUE(matches(xt, x, exact())) << "x itself is unchanged";
    // Along the last dim of a transposed view.
    const Tensor col = to_tensor(random_ref(rng, {3, 7}, dtype, 5, 6), device());
    const Ref want_t = to_ref(slice_scatter(xt, col.t().contiguous(), 0, 0, 7, 1));
    EXPECT_TRUE(matches(slice_scatter(xt.t(), col, 1, 0, 7, 1), ref_permute(want_t, {1, 0}), exact()));
  }
}

TEST_P(Join, SliceScatterGradients) {
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& in) { return mul(slice_scatter(in[0], in[1], 1, 0, 4, 2), in[0]); },
      {normal({3, 5}).requires_grad_(), normal({3, 2}).requires_grad_()});
  // Exact values: x's gradient is zero inside the slice, src's is the slice.
  const Tensor x = normal({4, 2}).requires_grad_(), src = normal({2, 2}).requires_grad_();
  const Tensor w = normal({4, 2});
  sum(mul(slice_scatter(x, src, 0, 2, 4), w)).backward();
  const std::vector<double> ws = w.to_vector<double>(), gx = x.grad().to_vector<double>(),
                            gs = src.grad().to_vector<double>();
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(gx[i], i < 4 ? ws[i] : 0.0) << i;
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(gs[i], ws[4 + i]) << i;
}

TEST_P(Join, SliceScatterRefusesAMismatchedSource) {
  const TensorOptions f32{.dtype = kFloat32, .device = device()};
  const Tensor x = zeros({4, 3}, f32);
  EXPECT_PARITY_ERROR(slice_scatter(x, zeros({2, 2}, f32), 0, 0, 2), {"slice_scatter:", "src has shape [2, 2]",
                                                                     "has [2, 3]", "no broadcasting"});
  EXPECT_PARITY_ERROR(slice_scatter(x, zeros({2, 3}, {.dtype = kFloat64, .device = device()}), 0, 0, 2),
                      {"slice_scatter:", "src is float64", "x is float32"});
  EXPECT_PARITY_ERROR(slice_scatter(x, Tensor(), 0, 0, 2), {"slice_scatter:", "src is an undefined tensor"});
  EXPECT_PARITY_ERROR(slice_scatter(x, zeros({2, 3}, f32), 5, 0, 2), {"slice_scatter"});
}

INSTANTIATE_TEST_SUITE_P(Devices, Join, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
