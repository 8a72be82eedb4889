// Batching, shuffling and the row gather (parity/train/batches.h).
#include "parity/train/batches.h"

#include <algorithm>
#include <utility>

#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/philox.h"
#include "parity/tensor/shape.h"

namespace parity::train {

namespace {

void check_data(const Tensor& x, const Tensor* y, std::int64_t batch_size) {
  PARITY_CHECK(x.defined(), "batches: x is an undefined tensor");
  PARITY_CHECK(x.dim() >= 1, "batches: x must have at least one dim (the samples), got a 0-d tensor");
  if (y != nullptr) {
    PARITY_CHECK(y->defined(), "batches: y is an undefined tensor");
    PARITY_CHECK(y->dim() >= 1, "batches: y must have at least one dim (the samples), got a 0-d tensor");
    PARITY_CHECK(x.size(0) == y->size(0), "batches: x and y must have the same first dim (samples), got x ",
                 to_string(x.shape()), " and y ", to_string(y->shape()));
  }
  PARITY_CHECK(batch_size >= 1, "batches: batch_size must be >= 1, got ", batch_size);
}

std::shared_ptr<const std::vector<std::int64_t>> checked_order(const Tensor& x,
                                                               std::vector<std::int64_t> order) {
  const std::int64_t n = x.size(0);
  for (std::size_t i = 0; i < order.size(); ++i) {
    PARITY_CHECK(order[i] >= 0 && order[i] < n, "batches: order[", i, "] = ", order[i],
                 " is not a row of x (shape ", to_string(x.shape()), "); expected an index in [0, ", n, ")");
  }
  return std::make_shared<const std::vector<std::int64_t>>(std::move(order));
}

// The stream of 64-bit words of (seed, stream): word k is lanes (2j, 2j+1) of
// Philox block k / 2, j = k % 2.
class WordStream {
 public:
  WordStream(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}
  std::uint64_t next() {
    if (lane_ == 2) {
      block_ = philox::generate(seed_, stream_, group_++);
      lane_ = 0;
    }
    const std::uint64_t lo = block_.w[2 * lane_], hi = block_.w[2 * lane_ + 1];
    ++lane_;
    return (hi << 32) | lo;
  }

 private:
  std::uint64_t seed_, stream_;
  std::uint64_t group_ = 0;
  philox::Block block_{};
  std::size_t lane_ = 2;
};

// Uniform in [0, range) without bias: Lemire's multiply-and-reject
// ("Fast Random Integer Generation in an Interval", 2019).
std::uint64_t below(WordStream& words, std::uint64_t range) {
  unsigned __int128 m = static_cast<unsigned __int128>(words.next()) * range;
  auto low = static_cast<std::uint64_t>(m);
  if (low < range) {
    const std::uint64_t threshold = (0 - range) % range;  // 2^64 mod range
    while (low < threshold) {
      m = static_cast<unsigned __int128>(words.next()) * range;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

}  // namespace

Batches::Batches(Tensor x, Tensor y, std::int64_t batch_size,
                 std::shared_ptr<const std::vector<std::int64_t>> order)
    : x_(std::move(x)), y_(std::move(y)), batch_size_(batch_size), order_(std::move(order)) {}

std::int64_t Batches::samples() const {
  return order_ != nullptr ? static_cast<std::int64_t>(order_->size()) : x_.size(0);
}

std::int64_t Batches::batch_end(std::int64_t i) const { return std::min(samples(), (i + 1) * batch_size_); }

Batch Batches::operator[](std::int64_t i) const {
  PARITY_CHECK(i >= 0 && i < size(), "batches: batch ", i, " is out of range (", size(), " batches)");
  const std::int64_t start = batch_start(i), end = batch_end(i);
  Batch b;
  if (order_ == nullptr) {
    b.x = x_.slice(0, start, end);
    if (y_.defined()) b.y = y_.slice(0, start, end);
  } else {
    const std::span<const std::int64_t> rows(order_->data() + start, static_cast<std::size_t>(end - start));
    b.x = gather_rows(x_, rows);
    if (y_.defined()) b.y = gather_rows(y_, rows);
  }
  return b;
}

const Batch& Batches::iterator::operator*() const {
  if (!loaded_) {
    batch_ = (*range_)[index_];
    loaded_ = true;
  }
  return batch_;
}

Batches batches(const Tensor& x, const Tensor& y, std::int64_t batch_size) {
  check_data(x, &y, batch_size);
  return Batches(x, y, batch_size, nullptr);
}

Batches batches(const Tensor& x, std::int64_t batch_size) {
  check_data(x, nullptr, batch_size);
  return Batches(x, Tensor(), batch_size, nullptr);
}

Batches batches(const Tensor& x, const Tensor& y, std::int64_t batch_size, std::vector<std::int64_t> order) {
  check_data(x, &y, batch_size);
  return Batches(x, y, batch_size, checked_order(x, std::move(order)));
}

Batches batches(const Tensor& x, std::int64_t batch_size, std::vector<std::int64_t> order) {
  check_data(x, nullptr, batch_size);
  return Batches(x, Tensor(), batch_size, checked_order(x, std::move(order)));
}

std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  PARITY_CHECK(n >= 0, "permutation: n must be >= 0, got ", n);
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  // Fisher-Yates (Durstenfeld): for i = n-1 down to 1, swap p[i] with p[j], j uniform in [0, i].
  WordStream words(seed, stream);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(below(words, static_cast<std::uint64_t>(i) + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

Tensor gather_rows(const Tensor& x, std::span<const std::int64_t> indices) {
  PARITY_CHECK(x.defined(), "gather_rows: x is an undefined tensor");
  PARITY_CHECK(x.dim() >= 1, "gather_rows: x must have at least one dim (the rows), got a 0-d tensor");
  const std::int64_t n = x.size(0);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    PARITY_CHECK(indices[i] >= 0 && indices[i] < n, "gather_rows: index ", indices[i], " (at position ", i,
                 ") is out of range for x of shape ", to_string(x.shape()), "; expected [0, ", n, ")");
  }
  Shape shape = x.shape();
  shape[0] = static_cast<std::int64_t>(indices.size());
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
  const Tensor source = x.detach();
  // One copy_ per run of consecutive indices (a whole in-order batch is one copy).
  std::size_t i = 0;
  while (i < indices.size()) {
    std::size_t run = 1;
    while (i + run < indices.size() && indices[i + run] == indices[i] + static_cast<std::int64_t>(run)) ++run;
    const auto len = static_cast<std::int64_t>(run);
    out.narrow(0, static_cast<std::int64_t>(i), len).copy_(source.narrow(0, indices[i], len));
    i += run;
  }
  return out;
}

}  // namespace parity::train
