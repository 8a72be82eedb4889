#include "parity/nn/summary.h"

#include <algorithm>
#include <sstream>

namespace parity::nn {

namespace {

std::string thousands(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::string format_summary(const SummaryRows& rows, std::int64_t total_params, std::int64_t trainable_params) {
  std::size_t w0 = 29, w1 = 26;
  for (const auto& r : rows) {
    w0 = std::max(w0, r[0].size() + 1);
    w1 = std::max(w1, r[1].size() + 1);
  }
  const std::size_t width = w0 + w1 + 10;
  auto cell = [](const std::string& s, std::size_t w) { return s + std::string(w > s.size() ? w - s.size() : 1, ' '); };
  std::ostringstream out;
  out << std::string(width, '_') << "\n"
      << cell("Layer (type)", w0) << cell("Output Shape", w1) << "Param #\n"
      << std::string(width, '=') << "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out << cell(rows[i][0], w0) << cell(rows[i][1], w1) << rows[i][2] << "\n";
    out << std::string(width, i + 1 == rows.size() ? '=' : '_') << "\n";
  }
  out << "Total params: " << thousands(total_params) << "\n"
      << "Trainable params: " << thousands(trainable_params) << "\n"
      << "Non-trainable params: " << thousands(total_params - trainable_params) << "\n"
      << std::string(width, '_') << "\n";
  return out.str();
}

}  // namespace parity::nn
