// Generator: a seed and an offset for the counter-based Philox RNG.
//
// Each random op takes the generator's current offset and advances it by one,
// so successive calls draw disjoint streams: element i of a call depends only on
// (seed, offset, i) (Note [Random numbers keyed by element index]). The default
// generator starts from a fixed seed: runs are reproducible unless a user seeds
// from entropy on purpose.
#pragma once

#include <cstdint>
#include <mutex>

namespace parity {

class Generator {
 public:
  static constexpr std::uint64_t kDefaultSeed = 67280421310721ULL;

  explicit Generator(std::uint64_t seed = kDefaultSeed) : seed_(seed) {}

  void manual_seed(std::uint64_t seed) {
    std::lock_guard lock(mutex_);
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t offset) {
    std::lock_guard lock(mutex_);
    offset_ = offset;
  }
  // Returns the offset for one random op and advances past it.
  std::uint64_t next_offset() {
    std::lock_guard lock(mutex_);
    return offset_++;
  }

 private:
  std::mutex mutex_;
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The process-wide generator used when an op is given none.
Generator& default_generator();
// Seeds the default generator (and resets its offset).
inline void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace parity
