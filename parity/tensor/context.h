// The process-wide numerics context: the few settings that change what a
// backend computes, in one place (docs/ARCHITECTURE.md; PyTorch's
// aten/src/ATen/Context.h).
//
// - MathMode: StrictFP32 (the default) computes float32 matrix products and
//   convolutions in float32 throughout; TF32 rounds their float32 operands to
//   TensorFloat-32 (10-bit significands, about 1e-3 relative error): on a GPU
//   cuBLAS and cuDNN run the tensor cores, several times the speed; the CPU
//   emulates it on rounded copies, slower than strict, so that a model's TF32
//   numerics can be studied without a GPU (Note [TF32 on the CPU], parity/cpu/tf32.h).
// - deterministic: true by default. Every kernel Parity runs under it is
//   deterministic (fixed-order reductions, no atomics in accumulations, cuBLAS
//   with a fixed workspace per stream, cuDNN algorithms its heuristics rank
//   and report deterministic: Note [cuDNN convolution]). Setting it false is
//   the opt-in for speed: cuDNN then times its algorithms and takes the
//   fastest, deterministic or not, and the choice may differ between runs.
//
// - CpuConvAlgorithm: how the CPU computes conv2d and its gradients. OneDnn
//   (the default where Parity is built with oneDNN: Note [oneDNN convolution]
//   in parity/cpu/conv_onednn.h) or Im2colGemm, im2col + OpenBLAS GEMM, the reference
//   path: the same sums as Theano's CorrMM, so the Keras-on-Theano replays
//   select it. float64, which oneDNN lacks, always runs on Im2colGemm;
//   cpu_conv_algorithm_used() (parity/tensor/conv.h) says which one a call takes.
//
// Nothing in the library changes these behind the user's back. The guards set a
// value for a scope and restore the previous one; the settings are process-wide
// (not per thread), so set them before starting threads that run ops.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

namespace parity {

enum class MathMode : std::uint8_t { StrictFP32, TF32 };

constexpr std::string_view name(MathMode mode) {
  return mode == MathMode::StrictFP32 ? "strict_fp32" : "tf32";
}
inline std::ostream& operator<<(std::ostream& out, MathMode mode) { return out << name(mode); }

enum class CpuConvAlgorithm : std::uint8_t { OneDnn, Im2colGemm };
constexpr std::string_view name(CpuConvAlgorithm a) { return a == CpuConvAlgorithm::OneDnn ? "onednn" : "im2col_gemm"; }
inline std::ostream& operator<<(std::ostream& out, CpuConvAlgorithm a) { return out << name(a); }

namespace detail {
struct Context {
  std::atomic<CpuConvAlgorithm> cpu_conv_algorithm{CpuConvAlgorithm::OneDnn};
  std::atomic<MathMode> math_mode{MathMode::StrictFP32};
  std::atomic<bool> deterministic{true};
};
inline Context& context() {
  static Context instance;
  return instance;
}
}  // namespace detail

inline MathMode math_mode() { return detail::context().math_mode.load(std::memory_order_relaxed); }
inline void set_math_mode(MathMode mode) {
  detail::context().math_mode.store(mode, std::memory_order_relaxed);
}

inline bool deterministic() { return detail::context().deterministic.load(std::memory_order_relaxed); }
inline void set_deterministic(bool enabled) {
  detail::context().deterministic.store(enabled, std::memory_order_relaxed);
}

// The requested algorithm; a build without oneDNN computes Im2colGemm for both.
inline CpuConvAlgorithm cpu_conv_algorithm() {
  return detail::context().cpu_conv_algorithm.load(std::memory_order_relaxed);
}
inline void set_cpu_conv_algorithm(CpuConvAlgorithm a) {
  detail::context().cpu_conv_algorithm.store(a, std::memory_order_relaxed);
}

// Sets the CPU convolution algorithm for a scope.
class CpuConvAlgorithmGuard {
 public:
  explicit CpuConvAlgorithmGuard(CpuConvAlgorithm a) : previous_(cpu_conv_algorithm()) { set_cpu_conv_algorithm(a); }
  ~CpuConvAlgorithmGuard() { set_cpu_conv_algorithm(previous_); }
  CpuConvAlgorithmGuard(const CpuConvAlgorithmGuard&) = delete;
  CpuConvAlgorithmGuard& operator=(const CpuConvAlgorithmGuard&) = delete;

 private:
  CpuConvAlgorithm previous_;
};

// Sets the math mode for a scope: { MathModeGuard tf32(MathMode::TF32); y = matmul(a, b); }
class MathModeGuard {
 public:
  explicit MathModeGuard(MathMode mode) : previous_(math_mode()) { set_math_mode(mode); }
  ~MathModeGuard() { set_math_mode(previous_); }
  MathModeGuard(const MathModeGuard&) = delete;
  MathModeGuard& operator=(const MathModeGuard&) = delete;

 private:
  MathMode previous_;
};

// Sets the deterministic flag for a scope.
class DeterministicGuard {
 public:
  explicit DeterministicGuard(bool enabled) : previous_(deterministic()) { set_deterministic(enabled); }
  ~DeterministicGuard() { set_deterministic(previous_); }
  DeterministicGuard(const DeterministicGuard&) = delete;
  DeterministicGuard& operator=(const DeterministicGuard&) = delete;

 private:
  bool previous_;
};

// The settings above as one value, each optional (unset: whatever is current),
// e.g. what one side of a lockstep comparison computes under (parity/train/lockstep.h).
struct NumericsSettings {
  std::optional<MathMode> math_mode;
  std::optional<bool> deterministic;
  std::optional<CpuConvAlgorithm> cpu_conv_algorithm;
};

// Applies the set fields of a NumericsSettings for a scope.
class NumericsGuard {
 public:
  explicit NumericsGuard(const NumericsSettings& s) {
    if (s.math_mode) math_.emplace(*s.math_mode);
    if (s.deterministic) deterministic_.emplace(*s.deterministic);
    if (s.cpu_conv_algorithm) cpu_conv_.emplace(*s.cpu_conv_algorithm);
  }

 private:
  std::optional<MathModeGuard> math_;
  std::optional<DeterministicGuard> deterministic_;
  std::optional<CpuConvAlgorithmGuard> cpu_conv_;
};

}  // namespace parity
