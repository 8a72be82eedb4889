// The text of Keras' model.summary(): the table of layers and the parameter
// totals. Modules supply the rows (Module::summarize) and the counts; this is
// only how Keras 2 lays them out, so the two can change apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parity::nn {

// One row per layer: {"conv2d_1 (Conv2D)", "(None, 218, 218, 64)", "9472"}.
using SummaryRows = std::vector<std::vector<std::string>>;

// The table as Keras 2 prints it: columns at least 29 and 26 wide (wider for
// longer cells), '=' rules around the body, '_' between rows, then the total,
// trainable and non-trainable parameter counts with thousands separators.
std::string format_summary(const SummaryRows& rows, std::int64_t total_params, std::int64_t trainable_params);

}  // namespace parity::nn
