// Checkpoints that resume exactly: one safetensors file (parity/io/safetensors.h)
// holding the model's state dict, the optimizer's state (its tensors and, as
// metadata, its step counts, hyper-parameters and scalars), the training step
// and the positions of the random generators the caller names (a Dropout
// layer's, a shuffle's). Training resumed from it computes the same bits as a
// run that never stopped (tests/test_checkpoint.cpp checks it).
//
// The file's layout: tensors "model/<name>" and
// "optimizer/<group>/<parameter>/<key>"; metadata "parity.checkpoint" (the
// format version), "parity.step", "parity.optimizer" and "parity.generators"
// (JSON). Doubles are written to round-trip exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parity/nn/module.h"
#include "parity/optim/optimizer.h"
#include "parity/tensor/generator.h"

namespace parity::train {

// Writes the checkpoint atomically (a crash leaves the previous file whole).
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     std::int64_t step, const std::vector<const Generator*>& generators = {});

// Restores model, optimizer and generators (as many, in the same order, as
// were saved) from `path` and returns the saved step. Throws parity::Error
// naming the file and what does not fit (another optimizer, a missing or
// misshapen tensor, a generator count that differs, not a checkpoint), and
// then changes nothing.
std::int64_t load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                             const std::vector<Generator*>& generators = {});

}  // namespace parity::train
