// Bad input throws parity::Error whose message names the op and the offending
// shapes, dtypes, dims or values (docs/ARCHITECTURE.md, principle 5): shape, dtype and
// device mismatches, bad dims, impossible views, too many dims, wrong dtypes
// for an op, bad arguments, undefined tensors, and asking for a CUDA device
// where there is none.
#include <string>
#include <vector>

#include "reference.h"
#include "test_devices.h"

namespace parity::testing {
namespace {

class Errors : public ::testing::TestWithParam<Device> {
 protected:
  TensorOptions f32() const { return {.dtype = kFloat32, .device = GetParam()}; }
  TensorOptions f64() const { return {.dtype = kFloat64, .device = GetParam()}; }
  TensorOptions i32() const { return {.dtype = kInt32, .device = GetParam()}; }
  TensorOptions i64() const { return {.dtype = kInt64, .device = GetParam()}; }
  TensorOptions u8() const { return {.dtype = kUInt8, .device = GetParam()}; }
  TensorOptions b8() const { return {.dtype = kBool, .device = GetParam()}; }
};
INSTANTIATE_TEST_SUITE_P(Devices, Errors, ::testing::ValuesIn(test_devices()), device_name);

TEST_P(Errors, ShapeMismatch) {
  const Tensor a = ones({2, 3}, f32()), b = ones({4}, f32());
  EXPECT_PARITY_ERROR(add(a, b), {"add:", "[2, 3]", "[4]", "broadcast"});
  EXPECT_PARITY_ERROR(a * ones({3, 2}, f32()), {"mul:", "[2, 3]", "[3, 2]"});
  EXPECT_PARITY_ERROR(lt(a, b), {"lt:", "[2, 3]", "[4]"});
  EXPECT_PARITY_ERROR(add(ones({3}, f32()), ones({0}, f32())), {"add:", "[3]", "[0]"});
  EXPECT_PARITY_ERROR(where(ones({2, 3}, b8()), a, b), {"where:", "[4]"});
  EXPECT_PARITY_ERROR(where(ones({5}, b8()), a, a), {"where:", "[5]", "[2, 3]"});
  // In place, the result must keep the destination's shape.
  Tensor row = ones({3}, f32());
  EXPECT_PARITY_ERROR(row.add_(a), {"add_:", "[2, 3]", "[3]"});
  EXPECT_PARITY_ERROR(row.mul_(b), {"mul_:", "[3]", "[4]"});
  EXPECT_PARITY_ERROR(row.copy_(a), {"copy_:", "[2, 3]", "[3]"});
  EXPECT_PARITY_ERROR(row.copy_(b), {"copy_:", "[4]", "[3]"});
  EXPECT_PARITY_ERROR(matmul(a, ones({2, 3}, f32())), {"matmul:", "[2, 3]", "3 columns", "2 rows"});
  EXPECT_PARITY_ERROR(matmul(ones({4}, f32()), ones({3}, f32())), {"matmul:", "[4]", "[3]"});
  EXPECT_PARITY_ERROR(matmul(ones({2, 2, 3}, f32()), ones({3, 3, 4}, f32())), {"matmul:", "[2]", "[3]"});
  EXPECT_PARITY_ERROR(matmul(ones({}, f32()), a), {"matmul:", "at least 1 dim", "[]"});
  EXPECT_PARITY_ERROR(from_vector(std::vector<float>{1, 2, 3}, {2, 2}, GetParam()), {"from_vector:", "3", "[2, 2]"});
  EXPECT_PARITY_ERROR(a.expand({2, 4}), {"expand:", "[2, 3]", "[2, 4]"});
  EXPECT_PARITY_ERROR(a.expand({3}), {"expand:", "[2, 3]", "[3]", "fewer dims"});
  EXPECT_PARITY_ERROR(a.expand({-1, 2, 3}), {"expand:", "-1"});
}

TEST_P(Errors, DtypeMismatch) {
  const Tensor a = ones({2, 3}, f32()), d = ones({3}, f64());
  EXPECT_PARITY_ERROR(add(a, d), {"add:", "float32", "float64", "[2, 3]", "[3]"});
  EXPECT_PARITY_ERROR(eq(ones({2}, i32()), ones({2}, i64())), {"eq:", "int32", "int64"});
  EXPECT_PARITY_ERROR(where(ones({3}, b8()), a, d), {"where:", "float32", "float64"});
  EXPECT_PARITY_ERROR(where(ones({3}, i32()), d, d), {"where:", "bool", "int32"});
  EXPECT_PARITY_ERROR(matmul(a.t(), ones({2, 2}, f64())), {"matmul:", "float32", "float64"});
  Tensor x = ones({3}, f32());
  EXPECT_PARITY_ERROR(x.add_(d), {"add_:", "float32", "float64"});
  EXPECT_PARITY_ERROR(x.div_(ones({3}, i32())), {"div_:", "float32", "int32"});
}

TEST_P(Errors, OpRejectsDtype) {
  const Tensor i = ones({2}, i32()), b = ones({2}, b8()), u = ones({2}, u8());
  for (const auto& [what, fn] : std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>>{
           {"exp", [](const Tensor& t) { return exp(t); }},     {"log", [](const Tensor& t) { return log(t); }},
           {"sqrt", [](const Tensor& t) { return sqrt(t); }},   {"rsqrt", [](const Tensor& t) { return rsqrt(t); }},
           {"sigmoid", [](const Tensor& t) { return sigmoid(t); }}, {"tanh", [](const Tensor& t) { return tanh(t); }},
           {"reciprocal", [](const Tensor& t) { return reciprocal(t); }},
           {"softplus", [](const Tensor& t) { return softplus(t); }},
           {"log1p", [](const Tensor& t) { return log1p(t); }}, {"expm1", [](const Tensor& t) { return expm1(t); }}}) {
    EXPECT_PARITY_ERROR(fn(i), {what + ":", "float32 or float64", "int32"});
  }
  EXPECT_PARITY_ERROR(neg(b), {"neg:", "bool"});
  EXPECT_PARITY_ERROR(abs(b), {"abs:", "bool"});
  EXPECT_PARITY_ERROR(add(b, b), {"add:", "bool"});
  EXPECT_PARITY_ERROR(maximum(b, b), {"maximum:", "bool"});
  EXPECT_PARITY_ERROR(div(i, i), {"div:", "int32"});
  EXPECT_PARITY_ERROR(pow(u, 2), {"pow:", "uint8"});
  EXPECT_PARITY_ERROR(clamp(b, 0, 1), {"clamp:", "bool"});
  EXPECT_PARITY_ERROR(mean(i), {"mean:", "int32"});
  EXPECT_PARITY_ERROR(max(b), {"max:", "bool"});
  EXPECT_PARITY_ERROR(argmin(b), {"argmin:", "bool"});
  EXPECT_PARITY_ERROR(matmul(ones({2, 2}, i32()), ones({2, 2}, i32())), {"matmul:", "float32 or float64", "int32"});
  EXPECT_PARITY_ERROR(matmul(ones({2, 2}, i64()), ones({2, 2}, i64())), {"matmul:", "int64"});
  Tensor x = ones({2}, i64());
  EXPECT_PARITY_ERROR(x.exp_(), {"exp_:", "int64"});
  EXPECT_PARITY_ERROR(x.div_(2), {"div_:", "int64"});
  Tensor y = ones({2}, b8());
  EXPECT_PARITY_ERROR(y.relu_(), {"relu_:", "bool"});
  EXPECT_PARITY_ERROR(y.clamp_(0, 1), {"clamp_:", "bool"});
  EXPECT_PARITY_ERROR(arange(3, {.dtype = kBool}), {"arange:", "bool"});
  EXPECT_PARITY_ERROR(y.data<float>(), {"data<float32>:", "bool"});
}

TEST_P(Errors, BadDims) {
  const Tensor a = ones({2, 3}, f32());
  EXPECT_PARITY_ERROR(sum(a, {2}), {"sum:", "dim 2", "2 dimension", "[-2, 1]"});
  EXPECT_PARITY_ERROR(mean(a, {-3}), {"mean:", "dim -3"});
  EXPECT_PARITY_ERROR(max(a, {0, 5}), {"max:", "dim 5"});
  EXPECT_PARITY_ERROR(argmax(a, 2), {"argmax:", "dim 2"});
  EXPECT_PARITY_ERROR(argmin(a, -3, true), {"argmin:", "dim -3"});
  EXPECT_PARITY_ERROR(sum(a, {1, -1}), {"sum:", "twice", "[1, -1]"});
  EXPECT_PARITY_ERROR(min(a, {0, 0}), {"min:", "twice", "[0, 0]"});
  EXPECT_PARITY_ERROR(sum(ones({}, f32()), {1}), {"sum:", "dim 1", "0 dimension"});
  EXPECT_PARITY_ERROR(a.permute({0}), {"permute:", "2 dims", "[2, 3]", "[0]"});
  EXPECT_PARITY_ERROR(a.permute({1, 1}), {"permute:", "repeat", "[1, 1]"});
  EXPECT_PARITY_ERROR(a.permute({0, 2}), {"permute:", "dim 2"});
  EXPECT_PARITY_ERROR(a.transpose(0, 2), {"transpose:", "dim 2"});
  EXPECT_PARITY_ERROR(ones({2, 2, 2}, f32()).t(), {"t: ", "at most 2 dims", "[2, 2, 2]"});
  EXPECT_PARITY_ERROR(a.select(2, 0), {"select:", "dim 2"});
  EXPECT_PARITY_ERROR(a.select(1, 3), {"select:", "index 3", "size 3", "[2, 3]"});
  EXPECT_PARITY_ERROR(a.select(0, -3), {"select:", "index -3"});
  EXPECT_PARITY_ERROR(ones({}, f32()).select(0, 0), {"select:", "0-d"});
  EXPECT_PARITY_ERROR(a.narrow(1, 2, 2), {"narrow:", "start 2", "length 2", "size 3"});
  EXPECT_PARITY_ERROR(a.narrow(0, 0, -1), {"narrow:", "length -1"});
  EXPECT_PARITY_ERROR(a.narrow(3, 0, 1), {"narrow:", "dim 3"});
  EXPECT_PARITY_ERROR(a.slice(0, 0, 2, 0), {"slice:", "step", "0"});
  EXPECT_PARITY_ERROR(a.slice(0, 2, 0, -1), {"slice:", "step", "-1"});
  EXPECT_PARITY_ERROR(a.slice(-3, 0, 1), {"slice:", "dim -3"});
  EXPECT_PARITY_ERROR(a.squeeze(2), {"squeeze:", "dim 2"});
  EXPECT_PARITY_ERROR(a.unsqueeze(3), {"unsqueeze:", "dim 3"});
  EXPECT_PARITY_ERROR(a.unsqueeze(-4), {"unsqueeze:", "dim -4"});
  EXPECT_PARITY_ERROR(a.flatten(1, 0), {"flatten:", "start_dim 1", "end_dim 0"});
  EXPECT_PARITY_ERROR(a.flatten(0, 2), {"flatten:", "dim 2"});
  EXPECT_PARITY_ERROR(a.size(2), {"size:", "dim 2"});
  EXPECT_PARITY_ERROR(a.stride(-3), {"stride:", "dim -3"});
}

TEST_P(Errors, InvalidViewAndReshapeSizes) {
  const Tensor a = ones({2, 3}, f32());
  EXPECT_PARITY_ERROR(a.view({5}), {"view:", "[5]", "[2, 3]", "6 elements"});
  EXPECT_PARITY_ERROR(a.reshape({4, -1}), {"reshape:", "[4, -1]", "[2, 3]"});
  EXPECT_PARITY_ERROR(a.reshape({-1, -1}), {"reshape:", "only one", "-1"});
  EXPECT_PARITY_ERROR(a.view({-2, -3}), {"view:", "-2"});
  EXPECT_PARITY_ERROR(a.view({7, 0, -1}), {"view:", "[7, 0, -1]"});
  EXPECT_PARITY_ERROR(a.t().view({6}), {"view:", "[3, 2]", "without a copy", "reshape"});
  EXPECT_PARITY_ERROR(a.flatten().view({2, 2}), {"view:", "[2, 2]", "[6]"});
  EXPECT_PARITY_ERROR(empty({2, -1}, f32()), {"empty:", "negative", "[2, -1]"});
  EXPECT_PARITY_ERROR(zeros({-3}, f32()), {"negative", "[-3]"});
}

// A shape whose element count or byte size overflows int64 is refused, not
// wrapped around: {2^32, 2^32} used to give numel 0 and an empty allocation.
TEST_P(Errors, SizesThatOverflowInt64) {
  constexpr std::int64_t k32 = std::int64_t{1} << 32;
  EXPECT_PARITY_ERROR(empty({k32, k32}, u8()),
                      {"empty:", "[4294967296, 4294967296]", "uint8", "too large", "overflows int64"});
  EXPECT_PARITY_ERROR(zeros({k32, k32, 2}, f32()),
                      {"empty:", "[4294967296, 4294967296, 2]", "overflows int64"});
  // Fits as a count (2^61), not as bytes (2^64 for float64): still refused, before allocating.
  EXPECT_PARITY_ERROR(empty({std::int64_t{1} << 61}, f64()), {"empty:", "[2305843009213693952]", "float64"});
  // As NumPy: the non-zero sizes must fit even when another size is 0 (the strides would overflow).
  EXPECT_PARITY_ERROR(empty({0, k32, k32}, u8()), {"empty:", "[0, 4294967296, 4294967296]"});
  EXPECT_PARITY_ERROR(numel({k32, k32}), {"numel:", "[4294967296, 4294967296]", "overflows int64"});
  EXPECT_PARITY_ERROR(numel({3, k32 / 2, k32}), {"numel:", "overflows int64"});
  // The largest counts that fit are counted exactly.
  EXPECT_EQ(numel({k32 - 1, k32 / 2}), (k32 - 1) * (k32 / 2));
  EXPECT_EQ(numel({0, k32, k32 / 2 - 1}), 0);
  EXPECT_EQ(empty({0, k32}, u8()).numel(), 0);
  // A view cannot claim such a shape either.
  EXPECT_PARITY_ERROR(ones({2}, f32()).view({k32, k32, 0, -1}),
                      {"view:", "[4294967296, 4294967296, 0, -1]", "more elements than int64 can count"});
  EXPECT_PARITY_ERROR(ones({2}, f32()).reshape({k32, k32}), {"reshape:", "[4294967296, 4294967296]"});
}

TEST_P(Errors, MoreThanEightDims) {
  const Shape nine(9, 1);
  EXPECT_PARITY_ERROR(empty(nine, f32()), {"empty:", "at most 8", "[1, 1, 1, 1, 1, 1, 1, 1, 1]"});
  EXPECT_PARITY_ERROR(ones(nine, f32()), {"at most 8"});
  const Tensor eight = ones(Shape(8, 1), f32());
  EXPECT_PARITY_ERROR(eight.unsqueeze(0), {"unsqueeze:", "at most 8", "9"});
  EXPECT_PARITY_ERROR(eight.view(nine), {"view:", "at most 8", "9"});
  EXPECT_PARITY_ERROR(eight.reshape(nine), {"reshape:", "at most 8"});
  EXPECT_PARITY_ERROR(eight.expand(nine), {"expand:", "at most 8"});
  EXPECT_PARITY_ERROR(from_vector(std::vector<float>{1}, nine, GetParam()), {"at most 8"});
  // Eight dims are fine, through every op family.
  EXPECT_EQ(sum(eight + eight, {0, 7}).dim(), 6);
  EXPECT_EQ(matmul(eight, eight).dim(), 8);
}

TEST_P(Errors, BadArguments) {
  const Tensor x = ones({2, 3}, f32());
  EXPECT_PARITY_ERROR(clamp(x, 2, 1), {"clamp:", "lo <= hi", "lo = 2", "hi = 1"});
  EXPECT_PARITY_ERROR(clamp(x, 0.5, -0.5), {"clamp:", "lo = 0.5", "hi = -0.5"});
  Tensor y = x.clone();
  EXPECT_PARITY_ERROR(y.clamp_(3, -3), {"clamp_:", "lo = 3", "hi = -3"});
  // A non-integral scalar with an integer tensor would be truncated silently.
  Tensor i = ones({2}, i32());
  EXPECT_PARITY_ERROR(add(i, 0.5), {"add:", "0.5", "int32"});
  EXPECT_PARITY_ERROR(mul(2.5, i), {"mul:", "2.5", "int32"});
  EXPECT_PARITY_ERROR(lt(ones({2}, u8()), 1.5), {"lt:", "1.5", "uint8"});
  EXPECT_PARITY_ERROR(i.mul_(2.5), {"mul_:", "2.5", "int32"});
  EXPECT_PARITY_ERROR(i.fill_(1.25), {"fill_:", "1.25", "int32"});
  EXPECT_PARITY_ERROR(full({2}, 0.5, i64()), {"0.5", "int64"});
  EXPECT_PARITY_ERROR(clamp(i, 0.5, 3), {"clamp:", "0.5", "int32"});
  EXPECT_PARITY_ERROR(i.clamp_(0, 2.5), {"clamp_:", "2.5", "int32"});
  EXPECT_PARITY_ERROR(ones({2}, b8()).fill_(0.5), {"fill_:", "0.5", "bool"});
  EXPECT_PARITY_ERROR(add(i, NAN), {"add:", "nan", "int32"});
  EXPECT_EQ(add(i, 2.0).to_vector<std::int32_t>(), (std::vector<std::int32_t>{3, 3}));  // integral doubles are fine
  // item needs exactly one element.
  EXPECT_PARITY_ERROR(x.item<float>(), {"item:", "one element", "[2, 3]"});
  EXPECT_PARITY_ERROR(empty({0}, f32()).item<float>(), {"item:", "[0]"});
  // Random factories: dtype and range.
  EXPECT_PARITY_ERROR(rand({2}, i32()), {"rand:", "floating", "int32"});
  EXPECT_PARITY_ERROR(randn({2}, b8()), {"randn:", "floating", "bool"});
  EXPECT_PARITY_ERROR(randint(0, 5, {2}, f32()), {"randint:", "integer dtype", "float32"});
  EXPECT_PARITY_ERROR(randint(0, 5, {2}, b8()), {"randint:", "bool"});
  EXPECT_PARITY_ERROR(randint(5, 5, {2}, i64()), {"randint:", "low < high", "[5, 5)"});
  EXPECT_PARITY_ERROR(randint(0, 300, {2}, u8()), {"randint:", "[0, 300)", "uint8"});
  EXPECT_PARITY_ERROR(randint(-1, 3, {2}, u8()), {"randint:", "[-1, 3)", "uint8"});
  EXPECT_PARITY_ERROR(randint(0, std::int64_t{1} << 32, {2}, i32()), {"randint:", "int32"});
  EXPECT_PARITY_ERROR(rand({2}, f32(), 1.0, 0.0), {"rand:", "low <= high", "[1, 0)"});
  EXPECT_PARITY_ERROR(rand({2}, f32(), 0.0, INFINITY), {"rand:", "finite"});
  EXPECT_PARITY_ERROR(randn({2}, f32(), 0.0, -1.0), {"randn:", "stddev", "-1"});
  // Other factories.
  EXPECT_PARITY_ERROR(arange(0, 5, 0, f32()), {"arange:", "step", "0"});
  EXPECT_PARITY_ERROR(arange(0, INFINITY, 1, f32()), {"arange:", "finite"});
  EXPECT_PARITY_ERROR(eye(-1, f32()), {"eye:", "-1"});
}

// An expanded view names one element several times: writing into it in place
// would apply the op to that element once per name.
TEST_P(Errors, InPlaceIntoAnExpandedView) {
  Tensor base = zeros({3}, f32());
  Tensor e = base.expand({4, 3});
  EXPECT_PARITY_ERROR(e.add_(1), {"add_:", "share memory", "[4, 3]", "[0, 1]"});
  EXPECT_PARITY_ERROR(e.mul_(ones({3}, f32())), {"mul_:", "share memory", "[4, 3]"});
  EXPECT_PARITY_ERROR(e.neg_(), {"neg_:", "share memory"});
  EXPECT_PARITY_ERROR(e.clamp_(0, 1), {"clamp_:", "share memory"});
  EXPECT_PARITY_ERROR(e.copy_(ones({4, 3}, f32())), {"copy_:", "share memory"});
  EXPECT_PARITY_ERROR(base.unsqueeze(1).expand({3, 2}).exp_(), {"exp_:", "[3, 2]", "[1, 0]"});
  EXPECT_EQ(base.to_vector<float>(), std::vector<float>(3, 0.0f)) << "nothing was written";
  // Size-1 expanded dims and fill_ (one value for every name) stay allowed.
  Tensor one = base.expand({1, 3});
  one.add_(2);
  e.fill_(5);
  EXPECT_EQ(base.to_vector<float>(), std::vector<float>(3, 5.0f));
}

TEST_P(Errors, UndefinedTensors) {
  const Tensor u;
  const Tensor x = ones({2}, f32());
  EXPECT_PARITY_ERROR(add(u, x), {"add:", "undefined"});
  EXPECT_PARITY_ERROR(mul(x, u), {"mul:", "undefined"});
  EXPECT_PARITY_ERROR(add(u, 1), {"add:", "undefined"});
  EXPECT_PARITY_ERROR(exp(u), {"exp:", "undefined"});
  EXPECT_PARITY_ERROR(where(u, x, x), {"where:", "undefined"});
  EXPECT_PARITY_ERROR(clamp(u, 0, 1), {"clamp:", "undefined"});
  EXPECT_PARITY_ERROR(cast(u, kInt32), {"cast:", "undefined"});
  EXPECT_PARITY_ERROR(sum(u), {"sum:", "undefined"});
  EXPECT_PARITY_ERROR(argmax(u), {"argmax:", "undefined"});
  EXPECT_PARITY_ERROR(matmul(x, u), {"matmul:", "undefined"});
  Tensor y = x.clone();
  EXPECT_PARITY_ERROR(y.copy_(u), {"copy_:", "undefined"});
  EXPECT_PARITY_ERROR(y.add_(u), {"add_:", "undefined"});
  Tensor v;
  EXPECT_PARITY_ERROR(v.fill_(1), {"fill_:", "undefined"});
  EXPECT_PARITY_ERROR(v.neg_(), {"neg_:", "undefined"});
  EXPECT_PARITY_ERROR((void)u.shape(), {"undefined"});
  EXPECT_PARITY_ERROR((void)u.numel(), {"undefined"});
  EXPECT_PARITY_ERROR(u.view({1}), {"undefined"});
  EXPECT_PARITY_ERROR(u.to_vector<float>(), {"undefined"});
  EXPECT_PARITY_ERROR(u.item<float>(), {"undefined"});
  EXPECT_PARITY_ERROR(u.clone(), {"undefined"});
  EXPECT_PARITY_ERROR(u.to(kFloat64), {"undefined"});
}

// Without a CUDA device, asking for one says so (whatever the op).
TEST(DeviceErrors, CudaUnavailable) {
  if (cuda::is_available()) GTEST_SKIP() << "a CUDA device is present: nothing to refuse";
  EXPECT_EQ(cuda::device_count(), 0);
  const Device gpu = Device::cuda(0);
  const std::vector<std::string> says = {"cuda:0", "not available", "CUDA"};
  EXPECT_PARITY_ERROR(zeros({2}, {.device = gpu}), says);
  EXPECT_PARITY_ERROR(empty({2, 3}, {.dtype = kInt64, .device = gpu}), says);
  EXPECT_PARITY_ERROR(rand({2}, {.device = gpu}), says);
  EXPECT_PARITY_ERROR(randint(0, 2, {2}, {.dtype = kInt64, .device = gpu}), says);
  EXPECT_PARITY_ERROR(from_vector(std::vector<float>{1, 2}, {2}, gpu), says);
  EXPECT_PARITY_ERROR(arange(4, {.device = gpu}), says);
  const Tensor x = ones({2});
  EXPECT_PARITY_ERROR(x.to(gpu), {"to: ", "cuda:0", "not available", "CUDA"});
  EXPECT_PARITY_ERROR(x.to(Device::cuda(1)), {"to: ", "cuda:1", "not available"});
  EXPECT_PARITY_ERROR(memory_stats(gpu), {"memory_stats:", "cuda:0", "not available"});
  // The CPU device has exactly one index.
  EXPECT_PARITY_ERROR(zeros({2}, {.device = Device{DeviceType::CPU, 1}}), {"cpu", "does not exist"});
}

// With a CUDA device: mixing devices is refused; out-of-range indices too.
TEST(DeviceErrors, DeviceMismatch) {
  PARITY_REQUIRE_CUDA();
  const Tensor c = ones({2, 3});
  const Tensor g = ones({2, 3}, {.device = Device::cuda(0)});
  EXPECT_PARITY_ERROR(add(c, g), {"add:", "same device", "cpu", "cuda:0", "[2, 3]"});
  EXPECT_PARITY_ERROR(lt(g, c), {"lt:", "same device", "cuda:0", "cpu"});
  EXPECT_PARITY_ERROR(where(ones({2, 3}, {.dtype = kBool}), g, g), {"where:", "same device"});
  EXPECT_PARITY_ERROR(matmul(c, g.t()), {"matmul:", "same device"});
  Tensor h = c.clone();
  EXPECT_PARITY_ERROR(h.add_(g), {"add_:", "same device"});
  const int n = cuda::device_count();
  EXPECT_PARITY_ERROR(zeros({2}, {.device = Device::cuda(n)}), {"cuda:" + std::to_string(n), "does not exist"});
  // copy_ crosses devices on purpose: not an error.
  h.copy_(mul(g, 2.0));
  EXPECT_EQ(h.to_vector<float>(), std::vector<float>(6, 2.0f));
}

// A broken invariant of Parity's own says so, apart from the caller's
// mistakes: InternalError (still a parity::Error), the fixed prefix, the
// streamed message and the file:line of the assertion.
TEST(CheckMacros, InternalAssertThrowsInternalErrorWithPrefixAndLocation) {
  const std::string prefix = "parity internal error (a bug in Parity, not in the caller's input; please report it): ";
  int line = 0;
  try {
    line = __LINE__ + 1;
    PARITY_INTERNAL_ASSERT(1 + 1 == 3, "two is ", 2);
    ADD_FAILURE() << "PARITY_INTERNAL_ASSERT(false, ...) did not throw";
  } catch (const InternalError& e) {
    const std::string location = std::string(" (") + __FILE__ + ":" + std::to_string(line) + ")";
    EXPECT_EQ(std::string(e.what()), prefix + "two is 2" + location);
  }
  EXPECT_THROW(PARITY_INTERNAL_FAIL("unreachable"), InternalError);
  EXPECT_THROW(PARITY_INTERNAL_FAIL("unreachable"), Error);  // existing catch sites still catch it
  EXPECT_NO_THROW(PARITY_INTERNAL_ASSERT(true, "never built"));
  // A real one: a dtype outside the enumeration reaches dispatch's default.
  try {
    dispatch_dtype(static_cast<DType>(200), []<typename T>() {});
    ADD_FAILURE() << "dispatch_dtype accepted dtype 200";
  } catch (const InternalError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(prefix + "dispatch_dtype: unknown dtype 200 (", 0), 0u) << e.what();
  }
}

// The caller's mistakes stay plain parity::Error, without the prefix.
TEST(CheckMacros, CheckThrowsPlainError) {
  try {
    PARITY_CHECK(1 + 1 == 3, "two is ", 2);
    ADD_FAILURE() << "PARITY_CHECK(false, ...) did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(dynamic_cast<const InternalError*>(&e), nullptr) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("two is 2 (", 0), 0u) << e.what();
  }
  try {
    (void)add(ones({2}), ones({3}));
    ADD_FAILURE() << "add of [2] and [3] did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(dynamic_cast<const InternalError*>(&e), nullptr) << e.what();
  }
}

}  // namespace
}  // namespace parity::testing
