// Mini-batches over the first dim of a dataset, in order or shuffled.
//
//   for (auto& [xb, yb] : train::batches(x, y, 64)) { ... }          // rows 0..63, 64..127, ...
//   auto order = train::permutation(x.size(0), seed, epoch);         // the same order on every machine
//   for (auto& [xb, yb] : train::batches(x, y, 64, order)) { ... }   // the rows order[0..63], ...
//
// In order, a batch is a view (slice) of x and y: nothing is copied. Shuffled,
// a batch is a new tensor gathered from the rows the permutation names
// (gather_rows), on the dataset's device. The last batch holds what is left
// (n mod batch_size rows) when batch_size does not divide n. Batches are made
// when the iterator is dereferenced, so iterating costs one batch at a time.
//
// Note [Shuffling from a seed]: permutation(n, seed, stream) is Fisher-Yates
// driven by Philox4x32-10 (parity/tensor/philox.h) keyed by the seed, with the stream
// as the counter's offset words: integer arithmetic only, so a seed gives the
// same order on every machine and compiler. fit() shuffles epoch e with stream e.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <span>
#include <vector>

#include "parity/tensor/tensor.h"

namespace parity::train {

// One mini-batch: inputs and targets (y undefined when the range has no targets).
struct Batch {
  Tensor x, y;
  std::int64_t size() const { return x.size(0); }
};

// A range of batches; cheap to copy (it holds tensor handles and a shared order).
class Batches {
 public:
  // Use batches(...) below; this constructor checks nothing.
  Batches(Tensor x, Tensor y, std::int64_t batch_size,
          std::shared_ptr<const std::vector<std::int64_t>> order);

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    iterator() = default;
    iterator(const Batches* range, std::int64_t index) : range_(range), index_(index) {}

    const Batch& operator*() const;
    const Batch* operator->() const { return &**this; }
    iterator& operator++() {
      ++index_;
      loaded_ = false;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.index_ == b.index_; }
    std::int64_t index() const { return index_; }

   private:
    const Batches* range_ = nullptr;
    std::int64_t index_ = 0;
    mutable Batch batch_;
    mutable bool loaded_ = false;
  };

  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size()}; }

  // The number of batches: ceil(samples / batch_size).
  std::int64_t size() const { return (samples() + batch_size_ - 1) / batch_size_; }
  // The number of rows the range walks: x's first dim, or the order's length.
  std::int64_t samples() const;
  std::int64_t batch_size() const { return batch_size_; }
  bool shuffled() const { return order_ != nullptr; }
  // Batch i (0 <= i < size()), made on each call.
  Batch operator[](std::int64_t i) const;
  // The rows of x that batch i holds, as [start, end) into the order (or into x).
  std::int64_t batch_start(std::int64_t i) const { return i * batch_size_; }
  std::int64_t batch_end(std::int64_t i) const;

 private:
  Tensor x_, y_;
  std::int64_t batch_size_;
  std::shared_ptr<const std::vector<std::int64_t>> order_;  // null: rows in order
};

// Batches of rows of x and y, in order. x and y need at least one dim and the
// same first dim; batch_size >= 1. Throws parity::Error naming "batches" and the
// shapes otherwise.
Batches batches(const Tensor& x, const Tensor& y, std::int64_t batch_size);
// Batches of rows of x alone (Batch::y undefined).
Batches batches(const Tensor& x, std::int64_t batch_size);
// Batches of the rows `order` names, in that order: a permutation of [0, n) to
// shuffle, or any list of row indices (each in [0, n)).
Batches batches(const Tensor& x, const Tensor& y, std::int64_t batch_size, std::vector<std::int64_t> order);
Batches batches(const Tensor& x, std::int64_t batch_size, std::vector<std::int64_t> order);

// A permutation of [0, n) from a seed and a stream (Note [Shuffling from a seed]).
std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream = 0);

// A new tensor whose row i is row indices[i] of x (rows along dim 0), on x's
// device, with x's dtype. Each row is written with copy_ of a slice, runs of
// consecutive indices as one copy: correct on any device and fast enough for
// batches of tens to hundreds of rows, not for large gathers. A real
// index_select op would replace it. The result is data: it does not record on
// the tape (rows are read from x.detach()). Throws parity::Error naming
// gather_rows for a 0-d x or an index out of [0, x.size(0)).
Tensor gather_rows(const Tensor& x, std::span<const std::int64_t> indices);
inline Tensor gather_rows(const Tensor& x, std::initializer_list<std::int64_t> indices) {
  return gather_rows(x, std::span<const std::int64_t>(indices.begin(), indices.size()));
}

}  // namespace parity::train
