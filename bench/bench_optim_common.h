// The optimizer benchmarks' shared table (bench_optim.cpp on the CPU,
// bench_optim_cuda.cpp on a GPU): which optimizers, with which options, and
// the minimum traffic of one step.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "parity/optim/optim.h"

namespace parity::bench {

enum class OptimizerKind { Adam, Adadelta, SgdMomentum };

inline const char* name(OptimizerKind k) {
  return k == OptimizerKind::Adam ? "adam" : k == OptimizerKind::Adadelta ? "adadelta" : "sgd_momentum";
}

// Bytes one step moves per float32 parameter: read p, g and the state, write
// p and the state (Adam: m, v; Adadelta: two accumulators; SGD: the momentum).
inline std::int64_t bytes_per_element(OptimizerKind k) { return k == OptimizerKind::SgdMomentum ? 20 : 28; }

inline std::unique_ptr<optim::Optimizer> make_optimizer(OptimizerKind k, const Tensor& p,
                                                        const optim::Preset& preset) {
  switch (k) {
    case OptimizerKind::Adam:
      return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{}, preset);
    case OptimizerKind::Adadelta:
      return std::make_unique<optim::Adadelta>(std::vector<Tensor>{p}, optim::AdadeltaOptions{.lr = 1.0},
                                               preset);
    case OptimizerKind::SgdMomentum:
      return std::make_unique<optim::SGD>(std::vector<Tensor>{p},
                                          optim::SgdOptions{.lr = 0.01, .momentum = 0.9}, preset);
  }
  return nullptr;
}

}  // namespace parity::bench
