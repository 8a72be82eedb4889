// Grad mode: whether ops record on the tape, per thread.
//
// On by default. NoGradGuard turns it off for a scope (an optimizer step, an
// evaluation loop, backward itself); EnableGradGuard turns it back on inside
// such a scope. Each thread has its own mode, as each records its own tape.
#pragma once

namespace parity::autograd {

class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

inline bool is_grad_enabled() { return GradMode::is_enabled(); }

// Ops in its scope record nothing: their outputs do not require grad.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Ops in its scope record again, even inside a NoGradGuard.
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace parity::autograd
