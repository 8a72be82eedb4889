// Anomaly mode, as torch.autograd.detect_anomaly: while a DetectAnomalyGuard
// is alive, every op recorded keeps the call stack it was recorded from, and
// every backward rule's gradients are checked for NaN and infinity. The first
// non-finite gradient throws a parity::Error naming the backward rule, the
// input it was computing the gradient of, the forward op, and the stack the op
// was recorded from. The check reads each gradient back (a device
// synchronization on a GPU) and the stacks cost a few microseconds per op:
// a debugging mode, off by default.
//
// The stack's frames are named from the dynamic symbol table: functions of
// libparity.so and of shared libraries by name, those of an executable only
// when it exports its symbols (CMake's ENABLE_EXPORTS, or -rdynamic); others
// show as module(+offset), which `addr2line -e module offset` resolves.
#pragma once

namespace parity::autograd {

bool anomaly_mode_enabled();

class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool enabled = true);
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace parity::autograd
