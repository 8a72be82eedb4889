// Storage: a ref-counted buffer on one device. Views of a tensor share one
// Storage and differ by offset, shape and strides.
//
// The storage carries the version counter that in-place ops bump and autograd
// checks when it unpacks a tensor it saved (the "modified by an in-place
// operation" error), shared by every view of the buffer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "parity/tensor/allocator.h"
#include "parity/tensor/device.h"

namespace parity {

class StorageImpl {
 public:
  StorageImpl(std::size_t nbytes, Allocator& allocator)
      : data_(allocator.allocate(nbytes)), nbytes_(nbytes), allocator_(&allocator) {}
  ~StorageImpl() { allocator_->deallocate(data_, nbytes_); }
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return allocator_->device(); }

  std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  // `op` names the in-place op without its trailing underscore ("add" for add_);
  // it must be a string with static lifetime. Autograd names it in the error
  // about a saved tensor modified in place.
  void bump_version(const char* op = nullptr) {
    if (op != nullptr) last_writer_.store(op, std::memory_order_relaxed);
    version_.fetch_add(1, std::memory_order_relaxed);
  }
  // The op of the latest bump that named one (nullptr when none did).
  const char* last_writer() const { return last_writer_.load(std::memory_order_relaxed); }

 private:
  void* data_;
  std::size_t nbytes_;
  Allocator* allocator_;
  std::atomic<std::uint64_t> version_{0};
  std::atomic<const char*> last_writer_{nullptr};
};

using Storage = std::shared_ptr<StorageImpl>;

}  // namespace parity
