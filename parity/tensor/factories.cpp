#include "parity/tensor/factories.h"

#include <cmath>
#include <cstring>

#include "parity/tensor/backend.h"
#include "parity/tensor/error.h"
#include "parity/tensor/generator.h"
#include "parity/tensor/ops.h"

namespace parity {

Generator& default_generator() {
  static Generator generator;
  return generator;
}

Tensor empty(const Shape& shape, TensorOptions options) {
  PARITY_CHECK(shape.size() <= static_cast<std::size_t>(kMaxDims), "empty: a tensor has at most ",
               kMaxDims, " dimensions, got shape ", to_string(shape));
  for (std::int64_t size : shape) {
    PARITY_CHECK(size >= 0, "empty: negative size in shape ", to_string(shape));
  }
  Allocator& allocator = backend_for(options.device, "empty").allocator(options.device.index);
  // The element count and the byte size must fit in int64 (numel's rule: the
  // non-zero sizes count even when another size is 0, as the strides do).
  const auto item = static_cast<std::int64_t>(element_size(options.dtype));
  std::int64_t bytes = item;
  for (std::int64_t size : shape) {
    PARITY_CHECK(size == 0 || !__builtin_mul_overflow(bytes, size, &bytes), "empty: shape ", to_string(shape),
                 " of ", options.dtype, " is too large: its size in bytes (", item,
                 " per element) overflows int64");
  }
  const std::size_t nbytes = static_cast<std::size_t>(numel(shape)) * element_size(options.dtype);
  auto storage = std::make_shared<StorageImpl>(nbytes, allocator);
  return make_tensor(std::move(storage), 0, shape, contiguous_strides(shape), options.dtype);
}

Tensor zeros(const Shape& shape, TensorOptions options) { return empty(shape, options).fill_(0); }
Tensor ones(const Shape& shape, TensorOptions options) { return empty(shape, options).fill_(1); }
Tensor full(const Shape& shape, Scalar value, TensorOptions options) {
  return empty(shape, options).fill_(value);
}
Tensor empty_like(const Tensor& x) { return empty(x.shape(), {.dtype = x.dtype(), .device = x.device()}); }
Tensor zeros_like(const Tensor& x) { return empty_like(x).fill_(0); }
Tensor ones_like(const Tensor& x) { return empty_like(x).fill_(1); }

Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions options) {
  const double s = start.to_double(), e = end.to_double(), d = step.to_double();
  PARITY_CHECK(d != 0 && std::isfinite(s) && std::isfinite(e) && std::isfinite(d),
               "arange: expected finite bounds and a non-zero step, got start = ", start, ", end = ", end,
               ", step = ", step);
  const auto count = static_cast<std::int64_t>(std::max(0.0, std::ceil((e - s) / d)));
  // Values are computed on the host in float64 (or exactly, for integer dtypes)
  // and copied: arange is a setup op, not a hot one.
  Tensor host = empty({count}, {.dtype = options.dtype});
  dispatch_dtype(options.dtype, [&]<typename T>() {
    T* out = host.data<T>();
    for (std::int64_t i = 0; i < count; ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        out[i] = static_cast<T>(s + static_cast<double>(i) * d);
      } else if constexpr (std::is_same_v<T, bool>) {
        PARITY_FAIL("arange: dtype bool is not supported");
      } else {
        out[i] = static_cast<T>(start.to_int64() + i * step.to_int64());
      }
    }
  });
  return host.to(options.device);
}

Tensor arange(Scalar end, TensorOptions options) { return arange(0, end, 1, options); }

Tensor eye(std::int64_t n, TensorOptions options) { return eye(n, n, options); }

Tensor eye(std::int64_t n, std::int64_t m, TensorOptions options) {
  PARITY_CHECK(n >= 0 && m >= 0, "eye: expected non-negative sizes, got ", n, " x ", m);
  Tensor out = zeros({n, m}, options);
  const std::int64_t diag = std::min(n, m);
  if (diag > 0) make_tensor(out.storage(), 0, {diag}, {m + 1}, options.dtype).fill_(1);
  return out;
}

namespace {

Tensor random_tensor(RandomKind kind, const Shape& shape, TensorOptions options, double a, double b,
                     Generator* generator) {
  Tensor out = empty(shape, options);
  if (out.numel() == 0) return out;
  Generator& gen = generator ? *generator : default_generator();
  RandomArgs args;
  args.kind = kind;
  args.out = out.data_ptr();
  args.dtype = options.dtype;
  args.numel = out.numel();
  args.seed = gen.seed();
  args.offset = gen.next_offset();
  args.a = a;
  args.b = b;
  backend_for(options.device, "random").random(args);
  return out;
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, double low, double high, Generator* generator) {
  PARITY_CHECK(is_floating(options.dtype), "rand: expected a floating dtype, got ", options.dtype);
  PARITY_CHECK(low <= high && std::isfinite(low) && std::isfinite(high),
               "rand: expected finite low <= high, got [", low, ", ", high, ")");
  return random_tensor(RandomKind::Uniform, shape, options, low, high, generator);
}

Tensor randn(const Shape& shape, TensorOptions options, double mean, double stddev, Generator* generator) {
  PARITY_CHECK(is_floating(options.dtype), "randn: expected a floating dtype, got ", options.dtype);
  PARITY_CHECK(stddev >= 0 && std::isfinite(mean) && std::isfinite(stddev),
               "randn: expected a finite mean and stddev >= 0, got mean ", mean, ", stddev ", stddev);
  return random_tensor(RandomKind::Normal, shape, options, mean, stddev, generator);
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options,
               Generator* generator) {
  PARITY_CHECK(is_integral(options.dtype), "randint: expected an integer dtype, got ", options.dtype);
  PARITY_CHECK(low < high, "randint: expected low < high, got [", low, ", ", high, ")");
  // The bounds reach the kernels as float64 (RandomArgs::a, b): beyond 2^53
  // they would round, and a range that rounds to 0 would divide by zero.
  constexpr std::int64_t kExact = std::int64_t{1} << 53;
  PARITY_CHECK(low >= -kExact && high <= kExact, "randint: bounds must lie within [-2^53, 2^53], got [", low,
               ", ", high, ")");
  if (options.dtype != kInt64) {
    const bool fits = options.dtype == kInt32 ? (low >= INT32_MIN && high - 1 <= INT32_MAX)
                                              : (low >= 0 && high - 1 <= 255);
    PARITY_CHECK(fits, "randint: [", low, ", ", high, ") does not fit dtype ", options.dtype);
  }
  return random_tensor(RandomKind::Integer, shape, options, static_cast<double>(low),
                       static_cast<double>(high), generator);
}

Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor out = empty(shape, {.dtype = dtype, .device = device});
  if (out.nbytes() == 0) return out;
  PARITY_CHECK(data != nullptr, "from_blob: null data for shape ", to_string(shape));
  if (device.is_cpu()) {
    std::memcpy(out.data_ptr(), data, out.nbytes());
  } else {
    backend_for(device, "from_blob").copy_from_host(out.data_ptr(), data, out.nbytes(), device.index);
  }
  return out;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  PARITY_CHECK(static_cast<std::int64_t>(values.size()) == numel(shape), "from_vector: ", values.size(),
               " values do not fill shape ", to_string(shape), " (", numel(shape), " elements)");
  if constexpr (std::is_same_v<T, bool>) {
    const std::vector<std::uint8_t> bytes(values.begin(), values.end());
    return from_blob(bytes.data(), shape, kBool, device);
  } else {
    return from_blob(values.data(), shape, dtype_v<T>, device);
  }
}

template Tensor from_vector(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector(const std::vector<std::int32_t>&, const Shape&, Device);
template Tensor from_vector(const std::vector<std::int64_t>&, const Shape&, Device);
template Tensor from_vector(const std::vector<std::uint8_t>&, const Shape&, Device);
template Tensor from_vector(const std::vector<bool>&, const Shape&, Device);

Tensor scalar_tensor(Scalar value, TensorOptions options) { return full({}, value, options); }

}  // namespace parity
