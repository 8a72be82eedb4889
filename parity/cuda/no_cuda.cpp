// Compiled instead of the CUDA backend when Parity is built without CUDA
// (PARITY_CUDA=OFF, or AUTO without nvcc): there is no CUDA column in the op x
// device table, and asking for a CUDA device says so (parity/tensor/backend.cpp).
// The public CUDA API (parity/cuda/api.h) exists all the same, so code written for
// both kinds of build compiles and links; its calls throw parity::Error.
#include "parity/cuda/api.h"
#include "parity/tensor/backend.h"
#include "parity/tensor/error.h"

namespace parity {
Backend* cuda_backend() { return nullptr; }
}  // namespace parity

namespace parity::cuda {

namespace {
[[noreturn]] void unavailable(const char* what) {
  PARITY_FAIL(what,
              ": this build of Parity has no CUDA backend (configure with -DPARITY_CUDA=ON on a "
              "machine with the CUDA toolkit); cuda::is_available() is false");
}
}  // namespace

int current_device() { unavailable("cuda::current_device"); }
void set_device(int) { unavailable("cuda::set_device"); }
DeviceGuard::DeviceGuard(int) { unavailable("cuda::DeviceGuard"); }
DeviceGuard::~DeviceGuard() = default;
DeviceInfo device_info(int) { unavailable("cuda::device_info"); }
void synchronize() { unavailable("cuda::synchronize"); }
void synchronize(int) { unavailable("cuda::synchronize"); }

Stream Stream::default_stream(int) { unavailable("cuda::Stream::default_stream"); }
Stream Stream::create(int) { unavailable("cuda::Stream::create"); }
void Stream::synchronize() const { unavailable("cuda::Stream::synchronize"); }
Stream current_stream(int) { unavailable("cuda::current_stream"); }
void set_current_stream(const Stream&) { unavailable("cuda::set_current_stream"); }
StreamGuard::StreamGuard(const Stream&) : device_guard_(0) { unavailable("cuda::StreamGuard"); }
StreamGuard::~StreamGuard() = default;

Event::Event(int) { unavailable("cuda::Event"); }
Event::~Event() = default;
void Event::record() { unavailable("cuda::Event::record"); }
void Event::record(const Stream&) { unavailable("cuda::Event::record"); }
void Event::synchronize() const { unavailable("cuda::Event::synchronize"); }
bool Event::query() const { unavailable("cuda::Event::query"); }
void Event::block(const Stream&) const { unavailable("cuda::Event::block"); }
float Event::elapsed_ms(const Event&) const { unavailable("cuda::Event::elapsed_ms"); }

MemoryStats memory_stats(int) { unavailable("cuda::memory_stats"); }
void reset_peak_memory_stats(int) { unavailable("cuda::reset_peak_memory_stats"); }
void empty_cache(int) { unavailable("cuda::empty_cache"); }
MemoryInfo memory_info(int) { unavailable("cuda::memory_info"); }
void record_stream(const Tensor&, const Stream&) { unavailable("cuda::record_stream"); }
Stream allocation_stream(const Tensor&) { unavailable("cuda::allocation_stream"); }

void set_guard_bytes(std::size_t) {}
std::size_t guard_bytes() { return 0; }
std::int64_t guard_violations() { return 0; }
std::string last_guard_violation() { return {}; }

}  // namespace parity::cuda
