// Test helpers: the run's random seed, host-side float64 reference values with
// NumPy broadcasting, comparisons with stated tolerances, and the
// EXPECT_PARITY_ERROR check.
//
// Note [Test seeds]: every run draws a fresh seed (std::random_device) so the
// suite keeps exploring new inputs; a failure prints it (SCOPED_TRACE) and the
// XML report records it (RecordProperty "parity_test_seed"). Set
// PARITY_TEST_SEED=<seed> to replay a run. Each test mixes the seed with its own
// name, so one test's inputs do not depend on which other tests ran before it.
// Inputs come from std::mt19937_64, independent of the library's RNG, and go in
// through from_vector.
//
// The reference is deliberately naive: a Ref holds a shape and its row-major
// values as double; every reference op loops over output multi-indices and maps
// them back to its inputs with broadcasting. It is computed on the host from the
// host copy of the inputs, whatever device the tensors under test live on.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>
#include <parity/parity.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace parity::testing {

// ---- seeds (Note [Test seeds]) ----

inline std::uint64_t base_seed() {
  static const std::uint64_t seed = [] {
    std::uint64_t s;
    if (const char* env = std::getenv("PARITY_TEST_SEED"); env != nullptr && *env != '\0') {
      s = std::strtoull(env, nullptr, 0);
    } else {
      std::random_device device;
      s = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }
    std::cout << "[  parity  ] PARITY_TEST_SEED=" << s << " (set it to replay these inputs)\n";
    return s;
  }();
  return seed;
}

inline std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

inline std::string current_test_name() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr ? std::string("?") : std::string(info->test_suite_name()) + "." + info->name();
}

// The random source of one test. Construct it first thing in a test body:
// failures below it print the seed.
class TestRng {
 public:
  TestRng()
      : seed_(base_seed()),
        trace_(__FILE__, __LINE__,
               "random inputs from PARITY_TEST_SEED=" + std::to_string(seed_) + " (" + current_test_name() + ")"),
        engine_(seed_ ^ fnv1a(current_test_name())) {
    ::testing::Test::RecordProperty("parity_test_seed", std::to_string(seed_));
  }
  TestRng(const TestRng&) = delete;
  TestRng& operator=(const TestRng&) = delete;

  std::mt19937_64& engine() { return engine_; }
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(engine_); }
  // Inclusive bounds.
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(engine_);
  }
  bool coin() { return integer(0, 1) == 1; }

  // n values representable in `dtype`: floats uniform in [lo, hi) rounded to the
  // dtype, integers uniform in [ceil(lo), floor(hi)], bools a fair coin.
  std::vector<double> values(std::int64_t n, DType dtype, double lo, double hi) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& x : v) {
      switch (dtype) {
        case kFloat32: x = static_cast<float>(uniform(lo, hi)); break;
        case kFloat64: x = uniform(lo, hi); break;
        case kBool: x = coin() ? 1.0 : 0.0; break;
        default:
          x = static_cast<double>(integer(static_cast<std::int64_t>(std::ceil(lo)),
                                          static_cast<std::int64_t>(std::floor(hi))));
      }
    }
    return v;
  }
  // Log-uniform magnitudes in [lo, hi) (lo > 0), for log/sqrt/reciprocal inputs.
  std::vector<double> log_uniform(std::int64_t n, DType dtype, double lo, double hi) {
    std::vector<double> v = values(n, kFloat64, std::log(lo), std::log(hi));
    for (double& x : v) x = dtype == kFloat32 ? static_cast<float>(std::exp(x)) : std::exp(x);
    return v;
  }

 private:
  std::uint64_t seed_;
  ::testing::ScopedTrace trace_;
  std::mt19937_64 engine_;
};

// ---- dtypes ----

inline const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> d{kFloat32, kFloat64, kInt32, kInt64, kUInt8, kBool};
  return d;
}
inline const std::vector<DType>& float_dtypes() {
  static const std::vector<DType> d{kFloat32, kFloat64};
  return d;
}
inline const std::vector<DType>& numeric_dtypes() {
  static const std::vector<DType> d{kFloat32, kFloat64, kInt32, kInt64, kUInt8};
  return d;
}

// The value a kernel of `dtype` stores for the exact result v: floats round to
// nearest, integers wrap modulo 2^bits (C++ conversion of the int64 value), bool
// is v != 0.
inline double round_to(double v, DType dtype) {
  if (std::isnan(v) && dtype != kFloat32 && dtype != kFloat64) return v;
  switch (dtype) {
    case kFloat32: return static_cast<float>(v);
    case kFloat64: return v;
    case kInt32: return static_cast<std::int32_t>(static_cast<std::int64_t>(v));
    case kInt64: return static_cast<double>(static_cast<std::int64_t>(v));
    case kUInt8: return static_cast<std::uint8_t>(static_cast<std::int64_t>(v));
    case kBool: return v != 0 ? 1.0 : 0.0;
  }
  return v;
}

// ---- the reference ----

struct Ref {
  Shape shape;
  DType dtype = kFloat64;
  std::vector<double> v;  // row-major

  std::int64_t numel() const { return static_cast<std::int64_t>(v.size()); }
};

inline std::int64_t ref_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t s : shape) n *= s;
  return n;
}

inline Ref make_ref(Shape shape, DType dtype, std::vector<double> values) {
  EXPECT_EQ(ref_numel(shape), static_cast<std::int64_t>(values.size()));
  for (double& x : values) x = round_to(x, dtype);
  return Ref{std::move(shape), dtype, std::move(values)};
}

inline Ref random_ref(TestRng& rng, const Shape& shape, DType dtype, double lo, double hi) {
  return make_ref(shape, dtype, rng.values(ref_numel(shape), dtype, lo, hi));
}

// The tensor holding r's values, on `device`.
inline Tensor to_tensor(const Ref& r, Device device) {
  return dispatch_dtype(r.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<bool> b(r.v.size());
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = r.v[i] != 0;
      return from_vector(b, r.shape, device);
    } else {
      std::vector<T> t(r.v.size());
      for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(r.v[i]);
      return from_vector(t, r.shape, device);
    }
  });
}

// A tensor's values read back in its own dtype, as a Ref.
inline Ref to_ref(const Tensor& t) {
  Ref r{t.shape(), t.dtype(), {}};
  dispatch_dtype(t.dtype(), [&]<typename T>() {
    const std::vector<T> host = t.to_vector<T>();
    r.v.assign(host.begin(), host.end());
  });
  return r;
}

inline std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return idx;
}

inline std::string index_string(const std::vector<std::int64_t>& idx) {
  std::string s = "(";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + ")";
}

// Flat index into `in` of the output multi-index `idx` (NumPy broadcasting:
// trailing dims align, size-1 dims of `in` repeat).
inline std::int64_t broadcast_flat(const std::vector<std::int64_t>& idx, const Shape& in) {
  const std::size_t lead = idx.size() - in.size();
  std::int64_t flat = 0;
  for (std::size_t d = 0; d < in.size(); ++d) flat = flat * in[d] + (in[d] == 1 ? 0 : idx[lead + d]);
  return flat;
}

// NumPy's broadcast of shapes, written independently of the library's.
inline Shape ref_broadcast(const std::vector<Shape>& shapes) {
  std::size_t ndim = 0;
  for (const Shape& s : shapes) ndim = std::max(ndim, s.size());
  Shape out(ndim, 1);
  for (const Shape& s : shapes) {
    for (std::size_t d = 0; d < s.size(); ++d) {
      std::int64_t& o = out[ndim - s.size() + d];
      if (o == 1) o = s[d];
      else EXPECT_TRUE(s[d] == 1 || s[d] == o) << "reference: shapes do not broadcast";
    }
  }
  return out;
}

// out[i] = f(x[i]), computed in double then stored as `out_dtype` stores it.
template <typename F>
Ref ref_map(const Ref& x, DType out_dtype, F f) {
  Ref out{x.shape, out_dtype, std::vector<double>(x.v.size())};
  for (std::size_t i = 0; i < x.v.size(); ++i) out.v[i] = round_to(f(x.v[i]), out_dtype);
  return out;
}

// out = f(inputs...) with the inputs broadcast together.
template <typename F>
Ref ref_zip(const std::vector<const Ref*>& inputs, DType out_dtype, F f) {
  std::vector<Shape> shapes;
  for (const Ref* r : inputs) shapes.push_back(r->shape);
  Ref out{ref_broadcast(shapes), out_dtype, {}};
  const std::int64_t n = ref_numel(out.shape);
  out.v.resize(static_cast<std::size_t>(n));
  std::vector<double> args(inputs.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const auto idx = unravel(i, out.shape);
    for (std::size_t k = 0; k < inputs.size(); ++k) args[k] = inputs[k]->v[broadcast_flat(idx, inputs[k]->shape)];
    out.v[i] = round_to(f(args), out_dtype);
  }
  return out;
}

template <typename F>
Ref ref_binary(const Ref& a, const Ref& b, DType out_dtype, F f) {
  return ref_zip({&a, &b}, out_dtype, [&](const std::vector<double>& x) { return f(x[0], x[1]); });
}

// The reference of a view: out[idx] = base[offset + sum idx_d * strides_d].
inline Ref ref_strided(const Ref& base, const Shape& shape, const std::vector<std::int64_t>& strides,
                       std::int64_t offset) {
  Ref out{shape, base.dtype, std::vector<double>(static_cast<std::size_t>(ref_numel(shape)))};
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    const auto idx = unravel(i, shape);
    std::int64_t flat = offset;
    for (std::size_t d = 0; d < shape.size(); ++d) flat += idx[d] * strides[d];
    out.v[i] = base.v[flat];
  }
  return out;
}

inline std::vector<std::int64_t> ref_contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size());
  std::int64_t st = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    s[d] = st;
    st *= std::max<std::int64_t>(shape[d], 1);
  }
  return s;
}

inline Ref ref_permute(const Ref& x, const std::vector<int>& dims) {
  const auto st = ref_contiguous_strides(x.shape);
  Shape shape;
  std::vector<std::int64_t> strides;
  for (int d : dims) {
    shape.push_back(x.shape[d]);
    strides.push_back(st[d]);
  }
  return ref_strided(x, shape, strides, 0);
}

// ---- reductions ----

enum class RefReduce { Sum, Mean, Max, Min, ArgMax, ArgMin };

// Reduces x over `dims` (all when empty), NumPy semantics. Sums accumulate in
// long double so the reference is more accurate than what it checks. Max/min
// propagate NaN; arg* give the first extreme (a NaN counts as one), as an
// index within the reduced dims (flattened, for several).
inline Ref ref_reduce(const Ref& x, RefReduce op, std::vector<std::int64_t> dims, bool keepdim,
                      DType out_dtype) {
  const int nd = static_cast<int>(x.shape.size());
  if (nd == 0) dims.clear();  // dim 0 (or -1) of a 0-d tensor: its one element
  std::vector<bool> reduced(nd, dims.empty());
  for (std::int64_t d : dims) reduced[d < 0 ? d + nd : d] = true;
  Shape kept_shape, keep_shape;
  for (int d = 0; d < nd; ++d) {
    keep_shape.push_back(reduced[d] ? 1 : x.shape[d]);
    if (!reduced[d]) kept_shape.push_back(x.shape[d]);
  }
  const std::int64_t n_out = ref_numel(keep_shape);
  std::vector<long double> acc(n_out, 0.0L);
  std::vector<double> best(n_out, 0.0);
  std::vector<std::int64_t> best_index(n_out, -1), count(n_out, 0);
  const bool is_max = op == RefReduce::Max || op == RefReduce::ArgMax;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const auto idx = unravel(i, x.shape);
    std::int64_t o = 0, r = 0;  // the output's flat index; the index within the reduced dims
    for (int d = 0; d < nd; ++d) {
      o = o * keep_shape[d] + (reduced[d] ? 0 : idx[d]);
      if (reduced[d]) r = r * x.shape[d] + idx[d];
    }
    const double v = x.v[i];
    acc[o] += v;
    if (count[o] == 0 || (!std::isnan(best[o]) && (std::isnan(v) || (is_max ? v > best[o] : v < best[o])))) {
      best[o] = v;
      best_index[o] = r;
    }
    ++count[o];
  }
  Ref out{keepdim ? keep_shape : kept_shape, out_dtype, std::vector<double>(n_out)};
  for (std::int64_t o = 0; o < n_out; ++o) {
    double v = 0;
    switch (op) {
      case RefReduce::Sum: v = static_cast<double>(acc[o]); break;
      case RefReduce::Mean: v = static_cast<double>(acc[o] / static_cast<long double>(count[o])); break;
      case RefReduce::Max:
      case RefReduce::Min: v = best[o]; break;
      case RefReduce::ArgMax:
      case RefReduce::ArgMin: v = static_cast<double>(best_index[o]); break;
    }
    out.v[o] = round_to(v, out_dtype);
  }
  return out;
}

// Per-element bound on the error of a float sum of `n` terms whose magnitudes
// add up to `abs_sum`: see the comment where it is used.
inline double sum_tolerance(std::int64_t n, double abs_sum, DType dtype) {
  const double eps = dtype == kFloat32 ? 0x1p-23 : 0x1p-52;
  return 2.0 * std::sqrt(static_cast<double>(std::max<std::int64_t>(n, 1))) * eps * abs_sum + 1e-300;
}

// Sum of |x| over the same groups as ref_reduce(x, Sum, dims, keepdim).
inline std::vector<double> ref_abs_sums(const Ref& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Ref a = ref_map(x, kFloat64, [](double v) { return std::abs(v); });
  return ref_reduce(a, RefReduce::Sum, dims, keepdim, kFloat64).v;
}

// ---- matmul ----

// NumPy matmul in long double; also returns (|A| |B|) per element, the scale of
// the rounding error of any summation order.
inline Ref ref_matmul(const Ref& a_in, const Ref& b_in, std::vector<double>* abs_product = nullptr) {
  Ref a = a_in, b = b_in;
  if (a.shape.size() == 1) a.shape.insert(a.shape.begin(), 1);
  if (b.shape.size() == 1) b.shape.push_back(1);
  const std::int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), n = b.shape.back();
  EXPECT_EQ(b.shape[b.shape.size() - 2], k);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  const Shape batch = ref_broadcast({a_batch, b_batch});
  Shape out_shape = batch;
  if (a_in.shape.size() > 1) out_shape.push_back(m);
  if (b_in.shape.size() > 1) out_shape.push_back(n);
  Ref out{out_shape, a.dtype, {}};
  const std::int64_t nb = ref_numel(batch);
  out.v.resize(static_cast<std::size_t>(nb * m * n));
  if (abs_product) abs_product->assign(out.v.size(), 0.0);
  for (std::int64_t bi = 0; bi < nb; ++bi) {
    const auto bidx = unravel(bi, batch);
    const std::int64_t oa = broadcast_flat(bidx, a_batch) * m * k;
    const std::int64_t ob = broadcast_flat(bidx, b_batch) * k * n;
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        long double s = 0, sa = 0;
        for (std::int64_t p = 0; p < k; ++p) {
          const long double x = a.v[oa + i * k + p], y = b.v[ob + p * n + j];
          s += x * y;
          sa += std::abs(x * y);
        }
        const std::size_t o = static_cast<std::size_t>((bi * m + i) * n + j);
        out.v[o] = round_to(static_cast<double>(s), a.dtype);
        if (abs_product) (*abs_product)[o] = static_cast<double>(sa);
      }
    }
  }
  return out;
}

// ---- comparison ----

// Distance in ulps between two finite values of T (0 when equal).
template <typename T>
double ulp_distance(T a, T b) {
  using U = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  auto ordered = [](T x) {
    const U u = std::bit_cast<U>(x);
    return u < 0 ? static_cast<long double>(std::numeric_limits<U>::min()) - u : static_cast<long double>(u);
  };
  return static_cast<double>(std::abs(ordered(a) - ordered(b)));
}

struct Tolerance {
  double ulps = 0;  // within this many ulps of the reference rounded to the dtype
  std::vector<double> abs;  // or within abs[i] (one value: for all) of the unrounded reference
};

inline Tolerance exact() { return {}; }
inline Tolerance ulps(double n) { return {n, {}}; }

// got == want element for element, up to `tol`, with shape and dtype checked.
// NaN matches NaN; infinities must match exactly.
inline ::testing::AssertionResult matches(const Tensor& got, const Ref& want, const Tolerance& tol = {}) {
  if (!got.defined()) return ::testing::AssertionFailure() << "the result is an undefined tensor";
  if (got.shape() != want.shape) {
    return ::testing::AssertionFailure() << "shape " << to_string(got.shape()) << ", expected "
                                         << to_string(want.shape);
  }
  if (got.dtype() != want.dtype) {
    return ::testing::AssertionFailure() << "dtype " << got.dtype() << ", expected " << want.dtype;
  }
  std::ostringstream failures;
  int bad = 0;
  dispatch_dtype(got.dtype(), [&]<typename T>() {
    std::vector<double> values;
    if constexpr (std::is_same_v<T, bool>) {
      const auto b = got.to_vector<std::uint8_t>();
      values.assign(b.begin(), b.end());
    } else {
      const auto t = got.to_vector<T>();
      values.assign(t.begin(), t.end());
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double g = values[i], w = want.v[i];
      bool ok;
      if constexpr (std::is_floating_point_v<T>) {
        const T wr = static_cast<T>(w);
        const double abs_tol = tol.abs.empty() ? 0.0 : tol.abs[tol.abs.size() == 1 ? 0 : i];
        ok = (std::isnan(g) && std::isnan(w)) || static_cast<T>(g) == wr ||
             (std::isfinite(g) && std::isfinite(wr) && ulp_distance<T>(static_cast<T>(g), wr) <= tol.ulps) ||
             (std::isfinite(g) && std::isfinite(w) && std::abs(g - w) <= abs_tol);
      } else {
        ok = g == round_to(w, got.dtype());
      }
      if (!ok && ++bad <= 8) {
        failures << "\n  at " << index_string(unravel(static_cast<std::int64_t>(i), want.shape)) << ": got "
                 << std::setprecision(17) << g << ", expected " << w;
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isfinite(g) && std::isfinite(w)) {
            failures << " (" << ulp_distance<T>(static_cast<T>(g), static_cast<T>(w)) << " ulp, |diff| "
                     << std::abs(g - w) << ")";
          }
        }
      }
    }
  });
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << want.numel() << " elements differ (shape "
                                       << to_string(want.shape) << ", " << want.dtype << ", tolerance "
                                       << tol.ulps << " ulp" << (tol.abs.empty() ? "" : " or an abs bound")
                                       << "):" << failures.str();
}

// Bitwise equality of two tensors (same shape, dtype, and bytes).
inline ::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) {
    return ::testing::AssertionFailure() << "shapes/dtypes differ: " << to_string(a.shape()) << " " << a.dtype()
                                         << " vs " << to_string(b.shape()) << " " << b.dtype();
  }
  const Tensor ha = a.to(Device::cpu()).contiguous(), hb = b.to(Device::cpu()).contiguous();
  if (std::memcmp(ha.data_ptr(), hb.data_ptr(), ha.nbytes()) != 0) {
    return ::testing::AssertionFailure() << "the bytes differ";
  }
  return ::testing::AssertionSuccess();
}

// ---- errors ----

// Checks that `message` contains every string of `needles`.
inline void expect_message_contains(const std::string& message, const std::vector<std::string>& needles,
                                    const char* statement, const char* file, int line) {
  for (const std::string& needle : needles) {
    if (message.find(needle) == std::string::npos) {
      ADD_FAILURE_AT(file, line) << "the parity::Error thrown by `" << statement << "` does not mention \""
                                 << needle << "\"; its message is:\n  " << message;
    }
  }
}

// Per element, terms * eps * abs[i]: the rounding bound of a sum of `terms`
// products whose absolute values sum to abs[i] (Higham's gamma_n), as an
// absolute tolerance against the unrounded reference.
inline Tolerance sum_of_products_bound(const Ref& abs, std::int64_t terms, DType dtype) {
  const double eps = dtype == kFloat32 ? 0x1p-23 : 0x1p-52;
  Tolerance tol;
  for (double a : abs.v) tol.abs.push_back(static_cast<double>(terms) * eps * a + 1e-300);
  return tol;
}

// Whether a determinism check also changes the OpenMP thread count.
enum class Threads {
  Vary,   // Parity's own loops: results must not depend on the thread count
  Fixed,  // ops built on OpenBLAS GEMMs: its bits depend on its thread count
          // (docs/ARCHITECTURE.md, Matmul), which follows OpenMP's
};

// run() twice (and with Threads::Vary once more on one OpenMP thread): every
// output must have the same bits each time (Note [Summation order]).
inline void expect_deterministic(const std::function<std::vector<Tensor>()>& run, Threads threads) {
  const std::vector<Tensor> first = run(), second = run();
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(same_bits(first[i], second[i])) << "output " << i;
  if (threads == Threads::Fixed) return;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const std::vector<Tensor> single = run();
  omp_set_num_threads(saved);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(same_bits(first[i], single[i])) << "output " << i << " with one thread";
  }
}

}  // namespace parity::testing

// EXPECT_PARITY_ERROR(stmt, {"add", "[2, 3]", "[4]"}): stmt throws parity::Error
// whose message contains each listed string (the op name, the offending
// shapes, dtypes or values).
#define EXPECT_PARITY_ERROR(statement, ...)                                                               \
  do {                                                                                                    \
    try {                                                                                                 \
      statement;                                                                                          \
      ADD_FAILURE() << "expected parity::Error from `" #statement "`, nothing was thrown";               \
    } catch (const ::parity::Error& parity_error_) {                                                      \
      ::parity::testing::expect_message_contains(parity_error_.what(), std::vector<std::string>(__VA_ARGS__), \
                                                 #statement, __FILE__, __LINE__);                         \
    } catch (const std::exception& other_error_) {                                                        \
      ADD_FAILURE() << "expected parity::Error from `" #statement "`, got another exception: "           \
                    << other_error_.what();                                                               \
    }                                                                                                     \
  } while (0)
