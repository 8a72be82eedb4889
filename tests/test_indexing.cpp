// gather, scatter_add, index_select, index_add (parity/autograd/indexing.h)
// and nn::Embedding on every device: values against a reference written as
// plain loops over row-major data (no Parity op), along every dim, with repeated
// indices and non-contiguous operands; sums in the documented order (so the
// float32 bits are exactly the reference's, accumulated in float32 the same
// way); gradients by finite differences and exactly; the errors for every input
// refused; and, on a GPU, the same bits as the CPU.
#include <vector>

#include "reference.h"
#include "test_autograd_util.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

using i64 = std::int64_t;

struct Blocks {
  i64 outer = 1, size = 1, inner = 1;
};
Blocks blocks_of(const Shape& shape, int dim) {
  Blocks b;
  for (int d = 0; d < dim; ++d) b.outer *= shape[static_cast<std::size_t>(d)];
  b.size = shape[static_cast<std::size_t>(dim)];
  for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < shape.size(); ++d) b.inner *= shape[d];
  return b;
}

std::vector<i64> random_indices(TestRng& rng, i64 count, i64 size) {
  const std::vector<double> u = rng.values(count, kFloat64, 0, static_cast<double>(size));
  std::vector<i64> out;
  for (const double x : u) out.push_back(std::min<i64>(size - 1, static_cast<i64>(x)));
  return out;
}

// gather's reference: out[o, j, i] = x[o, index[o, j, i], i].
Ref ref_gather(const Ref& x, int dim, const Shape& index_shape, const std::vector<i64>& index) {
  const Blocks xb = blocks_of(x.shape, dim), ib = blocks_of(index_shape, dim);
  Ref out{index_shape, x.dtype, std::vector<double>(index.size())};
  for (i64 o = 0; o < ib.outer; ++o)
    for (i64 j = 0; j < ib.size; ++j)
      for (i64 i = 0; i < ib.inner; ++i) {
        const i64 at = (o * ib.size + j) * ib.inner + i;
        out.v[static_cast<std::size_t>(at)] =
            x.v[static_cast<std::size_t>((o * xb.size + index[static_cast<std::size_t>(at)]) * xb.inner + i)];
      }
  return out;
}

// scatter_add's reference, accumulating in T in increasing j: the documented order.
template <typename T>
Ref ref_scatter_add(const Ref& x, int dim, const Ref& src, const std::vector<i64>& index, bool per_slice) {
  const Blocks xb = blocks_of(x.shape, dim), sb = blocks_of(src.shape, dim);
  std::vector<T> acc(x.v.begin(), x.v.end());
  for (i64 o = 0; o < sb.outer; ++o)
    for (i64 j = 0; j < sb.size; ++j)
      for (i64 i = 0; i < sb.inner; ++i) {
        const i64 at = (o * sb.size + j) * sb.inner + i;
        const i64 k = index[static_cast<std::size_t>(per_slice ? j : at)];
        T& slot = acc[static_cast<std::size_t>((o * xb.size + k) * xb.inner + i)];
        slot = static_cast<T>(slot + static_cast<T>(src.v[static_cast<std::size_t>(at)]));
      }
  return Ref{x.shape, x.dtype, std::vector<double>(acc.begin(), acc.end())};
}

Tensor index_tensor(const std::vector<i64>& index, const Shape& shape, Device device) {
  return from_vector(index, shape, device);
}

class Indexing : public AutogradTest {};

TEST_P(Indexing, GatherAndIndexSelectMatchTheReferenceAlongEveryDim) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (int dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(name(dtype)) + ", dim " + std::to_string(dim));
      const Shape shape{4, 5, 6};
      const Ref x = random_ref(rng, shape, dtype, -100, 100);
      const Tensor xt = to_tensor(x, device());
      // gather: an index of x's rank, 7 entries along dim, repeats likely.
      Shape ishape = shape;
      ishape[static_cast<std::size_t>(dim)] = 7;
      const std::vector<i64> index = random_indices(rng, ref_numel(ishape), shape[static_cast<std::size_t>(dim)]);
      EXPECT_TRUE(matches(gather(xt, dim, index_tensor(index, ishape, device())), ref_gather(x, dim, ishape, index),
                          exact()));
      EXPECT_TRUE(matches(gather(xt, dim - 3, index_tensor(index, ishape, device())),
                          ref_gather(x, dim, ishape, index), exact()))
          << "negative dim";
      // index_select: one entry per slice, the same as gathering with it repeated.
      const std::vector<i64> slices = random_indices(rng, 7, shape[static_cast<std::size_t>(dim)]);
      std::vector<i64> spread(index.size());
      const Blocks b = blocks_of(ishape, dim);
      for (std::size_t at = 0; at < spread.size(); ++at) spread[at] = slices[(at / b.inner) % b.size];
      EXPECT_TRUE(matches(index_select(xt, dim, index_tensor(slices, {7}, device())),
                          ref_gather(x, dim, ishape, spread), exact()));
    }
  }
}

TEST_P(Indexing, ScatterAddAndIndexAddSumInTheDocumentedOrder) {
  TestRng rng;
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (int dim = 0; dim < 3; ++dim) {
      SCOPED_TRACE(std::string(name(dtype)) + ", dim " + std::to_string(dim));
      const Shape shape{3, 4, 5};
      const Ref x = random_ref(rng, shape, dtype, -100, 100);
      Shape sshape = shape;
      sshape[static_cast<std::size_t>(dim)] = 9;  // more sources than slots: collisions
      const Ref src = random_ref(rng, sshape, dtype, -100, 100);
      const std::vector<i64> index = random_indices(rng, ref_numel(sshape), shape[static_cast<std::size_t>(dim)]);
      const std::vector<i64> slices = random_indices(rng, 9, shape[static_cast<std::size_t>(dim)]);
      dispatch_dtype(dtype, [&]<typename T>() {
        if constexpr (!std::is_same_v<T, bool>) {
          EXPECT_TRUE(matches(scatter_add(to_tensor(x, device()), dim, index_tensor(index, sshape, device()),
                                          to_tensor(src, device())),
                              ref_scatter_add<T>(x, dim, src, index, false), exact()));
          EXPECT_TRUE(matches(index_add(to_tensor(x, device()), dim, index_tensor(slices, {9}, device()),
                                        to_tensor(src, device())),
                              ref_scatter_add<T>(x, dim, src, slices, true), exact()));
        }
      });
    }
  }
}

TEST_P(Indexing, ReadsNonContiguousOperandsAndLeavesXAlone) {
  TestRng rng;
  const Ref x = random_ref(rng, {6, 4}, kFloat32, -1, 1);
  const Tensor xt = to_tensor(x, device());
  const Tensor xt_t = xt.t();  // [4, 6], non-contiguous
  const std::vector<i64> slices = {5, 0, 5, 2};
  const Tensor picked = index_select(xt_t, 1, index_tensor(slices, {4}, device()));
  const std::vector<double> got = picked.to_vector<double>();
  for (i64 r = 0; r < 4; ++r)
    for (i64 c = 0; c < 4; ++c)
      EXPECT_EQ(got[static_cast<std::size_t>(r * 4 + c)], x.v[static_cast<std::size_t>(slices[c] * 4 + r)]);
  const std::vector<double> before = xt.to_vector<double>();
  const Tensor added = index_add(xt_t, 1, index_tensor(slices, {4}, device()), ones({4, 4}, {.device = device()}));
  EXPECT_EQ(xt.to_vector<double>(), before) << "index_add returns a copy";
  // Column 5 of x^T got two ones, column 0 one, column 2 one.
  const std::vector<double> a = added.to_vector<double>();
  for (i64 r = 0; r < 4; ++r) {
    EXPECT_FLOAT_EQ(a[static_cast<std::size_t>(r * 6 + 5)], static_cast<float>(x.v[static_cast<std::size_t>(5 * 4 + r)] + 2));
    EXPECT_FLOAT_EQ(a[static_cast<std::size_t>(r * 6 + 1)], static_cast<float>(x.v[static_cast<std::size_t>(1 * 4 + r)]));
  }
  // An empty index selects nothing and adds nothing.
  EXPECT_EQ(index_select(xt, 0, zeros({0}, {.dtype = kInt64, .device = device()})).shape(), (Shape{0, 4}));
}

TEST_P(Indexing, GradientsByFiniteDifferences) {
  const Tensor idx = from_vector(std::vector<i64>{2, 0, 2, 1, 0, 0}, {2, 3}, device());
  const Tensor slices = from_vector(std::vector<i64>{3, 3, 0}, {3}, device());
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return gather(in[0], 0, idx); },
                   {normal({3, 3}).requires_grad_()});
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, idx, in[1]); },
                   {normal({3, 3}).requires_grad_(), normal({2, 3}, false).requires_grad_()});
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return index_select(in[0], 0, slices); },
                   {normal({4, 2}, false).requires_grad_()});
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return index_add(in[0], 1, slices, in[1]); },
                   {normal({2, 4}).requires_grad_(), normal({2, 3}).requires_grad_()});
}

TEST_P(Indexing, IndexSelectsGradientSumsTheRepeatedRows) {
  const Tensor table = normal({4, 3}).requires_grad_();
  const Tensor rows = from_vector(std::vector<i64>{1, 3, 1, 1}, {4}, device());
  const Tensor w = normal({4, 3});
  sum(mul(index_select(table, 0, rows), w)).backward();
  const std::vector<double> g = table.grad().to_vector<double>(), ws = w.to_vector<double>();
  for (i64 c = 0; c < 3; ++c) {
    EXPECT_EQ(g[static_cast<std::size_t>(0 * 3 + c)], 0.0);
    EXPECT_EQ(g[static_cast<std::size_t>(1 * 3 + c)], (ws[c] + ws[6 + c]) + ws[9 + c]);  // in order of position
    EXPECT_EQ(g[static_cast<std::size_t>(3 * 3 + c)], ws[3 + c]);
  }
}

TEST_P(Indexing, EmbeddingLooksUpRowsOfAnyIndexShapeAndTrains) {
  nn::Embedding embedding({.input_dim = 10, .output_dim = 4});
  embedding.build({3}, {.dtype = kFloat64, .device = device()});  // sequences of 3 indices
  ASSERT_EQ(embedding.named_parameters().size(), 1u);
  EXPECT_EQ(embedding.named_parameters()[0].first, "embeddings");
  const Tensor table = embedding.parameters()[0];
  EXPECT_EQ(table.shape(), (Shape{10, 4}));
  const std::vector<double> t = table.to_vector<double>();
  for (const double v : t) {
    EXPECT_GE(v, -0.05);
    EXPECT_LE(v, 0.05);
  }
  const Tensor ids = from_vector(std::vector<i64>{9, 0, 4, 4, 1, 9}, {2, 3}, device());
  const Tensor out = embedding.forward(ids);
  ASSERT_EQ(out.shape(), (Shape{2, 3, 4}));
  const std::vector<double> o = out.to_vector<double>();
  const std::vector<i64> id = {9, 0, 4, 4, 1, 9};
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t c = 0; c < 4; ++c) EXPECT_EQ(o[r * 4 + c], t[static_cast<std::size_t>(id[r]) * 4 + c]);
  sum(out).backward();
  const std::vector<double> g = table.grad().to_vector<double>();
  EXPECT_EQ(g[9 * 4], 2.0);
  EXPECT_EQ(g[4 * 4 + 1], 2.0);
  EXPECT_EQ(g[2 * 4], 0.0);
  EXPECT_PARITY_ERROR(embedding.forward(ids.to(kFloat32)), {"Embedding", "float32", "takes int64"});
  EXPECT_PARITY_ERROR(embedding.forward(from_vector(std::vector<i64>{1, 10, 2}, {1, 3}, device())),
                      {"index_select:", "10", "[0, 10)"});
}

TEST_P(Indexing, RefusesBadIndicesNamingTheOpAndTheShapes) {
  const TensorOptions f32{.dtype = kFloat32, .device = device()};
  const Tensor x = zeros({3, 4}, f32);
  const Tensor idx = from_vector(std::vector<i64>{0, 1, 2, 0}, {1, 4}, device());
  EXPECT_PARITY_ERROR(gather(x, 0, idx.to(kInt32)), {"gather:", "int64", "int32"});
  EXPECT_PARITY_ERROR(gather(x, 0, from_vector(std::vector<i64>{3, 0, 0, 0}, {1, 4}, device())),
                      {"gather:", "holds 3", "[0, 3)", "[3, 4]"});
  EXPECT_PARITY_ERROR(gather(x, 0, from_vector(std::vector<i64>{-1, 0, 0, 0}, {1, 4}, device())),
                      {"gather:", "holds -1"});
  EXPECT_PARITY_ERROR(gather(x, 0, zeros({1, 3}, {.dtype = kInt64, .device = device()})),
                      {"gather:", "[1, 3]", "[3, 4]", "but dim 0"});
  EXPECT_PARITY_ERROR(gather(x, 0, zeros({4}, {.dtype = kInt64, .device = device()})), {"gather:", "x's rank"});
  EXPECT_PARITY_ERROR(gather(x, 2, idx), {"gather"});
  EXPECT_PARITY_ERROR(gather(zeros({}, f32), 0, idx), {"gather:", "rank 1 or more"});
  EXPECT_PARITY_ERROR(index_select(x, 0, zeros({2, 2}, {.dtype = kInt64, .device = device()})),
                      {"index_select:", "1-D index", "[2, 2]"});
  EXPECT_PARITY_ERROR(scatter_add(x, 0, idx, zeros({1, 4}, {.dtype = kFloat64, .device = device()})),
                      {"scatter_add:", "float32", "float64"});
  EXPECT_PARITY_ERROR(scatter_add(x, 0, idx, zeros({2, 4}, f32)), {"scatter_add:", "[2, 4]", "no broadcasting"});
  EXPECT_PARITY_ERROR(index_add(zeros({3}, {.dtype = kBool, .device = device()}), 0,
                                from_vector(std::vector<i64>{0}, {1}, device()),
                                zeros({1}, {.dtype = kBool, .device = device()})),
                      {"index_add:", "numeric", "bool"});
  EXPECT_PARITY_ERROR(index_add(x, 1, from_vector(std::vector<i64>{4}, {1}, device()), zeros({3, 1}, f32)),
                      {"index_add:", "holds 4", "[0, 4)"});
}

// The same bits as the CPU, including scatter_add's and index_add's float32
// sums of many colliding contributions (the order is part of the contract).
TEST(IndexingCuda, SameBitsAsTheCpu) {
  PARITY_REQUIRE_CUDA();
  TestRng rng;
  const Tensor x = to_tensor(random_ref(rng, {64, 33}, kFloat32, -1, 1), Device::cpu());
  const Tensor src = to_tensor(random_ref(rng, {5000, 33}, kFloat32, -1, 1), Device::cpu());
  const Tensor slices = from_vector(random_indices(rng, 5000, 64), {5000});
  const Tensor idx = from_vector(random_indices(rng, 5000 * 33, 64), {5000, 33});
  const Device gpu = Device::cuda(0);
  auto same = [](const Tensor& a, const Tensor& b) {
    return a.to(Device::cpu()).to_vector<float>() == b.to_vector<float>();
  };
  EXPECT_TRUE(same(index_add(x.to(gpu), 0, slices.to(gpu), src.to(gpu)), index_add(x, 0, slices, src)));
  EXPECT_TRUE(same(scatter_add(x.to(gpu), 0, idx.to(gpu), src.to(gpu)), scatter_add(x, 0, idx, src)));
  EXPECT_TRUE(same(index_select(src.to(gpu), 0, slices.to(gpu)), index_select(src, 0, slices)));
  EXPECT_TRUE(same(gather(src.to(gpu), 0, idx.to(gpu)), gather(src, 0, idx)));
}

INSTANTIATE_TEST_SUITE_P(Devices, Indexing, ::testing::ValuesIn(test_devices()), device_name);

}  // namespace
}  // namespace parity::testing
