// Anomaly mode (parity/autograd/anomaly.h): the flag, and the call stacks kept
// with each node recorded while it is on.
#include "parity/autograd/anomaly.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "parity/autograd/node.h"

namespace parity::autograd {

namespace {

std::atomic<bool> g_anomaly{false};

std::string frame_text(void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0) {
    std::ostringstream out;
    out << address;
    return out.str();
  }
  if (info.dli_sname != nullptr) {
    int status = 0;
    char* readable = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    std::string name = status == 0 && readable != nullptr ? readable : info.dli_sname;
    std::free(readable);
    return name;
  }
  // No exported name: the module and the offset addr2line takes.
  const auto offset = reinterpret_cast<std::uintptr_t>(address) - reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  std::ostringstream out;
  out << (info.dli_fname != nullptr ? info.dli_fname : "?") << "(+0x" << std::hex << offset << ")";
  return out.str();
}

}  // namespace

bool anomaly_mode_enabled() { return g_anomaly.load(std::memory_order_relaxed); }

DetectAnomalyGuard::DetectAnomalyGuard(bool enabled) : previous_(g_anomaly.exchange(enabled)) {}
DetectAnomalyGuard::~DetectAnomalyGuard() { g_anomaly.store(previous_); }

namespace detail {

std::string recording_stack() {
  constexpr int kMaxFrames = 48;
  void* frames[kMaxFrames];
  const int n = backtrace(frames, kMaxFrames);
  std::ostringstream out;
  // Frame 0 is this function, 1 on_node_created.
  for (int i = 2; i < n; ++i) out << "  #" << (i - 2) << " " << frame_text(frames[i]) << "\n";
  return out.str();
}

}  // namespace detail
}  // namespace parity::autograd
