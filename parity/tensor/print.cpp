// NumPy-like printing: nested brackets, aligned columns, "..." past 1000
// elements (the first and last three of each dim), then dtype and device.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>

#include "parity/tensor/tensor.h"

namespace parity {

namespace {

constexpr std::int64_t kSummarizeAbove = 1000;
constexpr std::int64_t kEdgeItems = 3;

std::string format_value(double v, bool floating, bool boolean, bool integral_values) {
  if (boolean) return v != 0 ? "True" : "False";
  if (!floating) return std::to_string(static_cast<long long>(v));
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream out;
  if (integral_values && std::abs(v) < 1e16) {
    out << static_cast<long long>(v) << ".";
  } else {
    const double a = std::abs(v);
    if (a != 0 && (a >= 1e8 || a < 1e-4)) out << std::scientific << std::setprecision(4) << v;
    else out << std::fixed << std::setprecision(4) << v;
  }
  return out.str();
}

struct Printer {
  const std::vector<double>& values;
  const Shape& shape;
  bool summarize;
  bool floating, boolean, integral_values;
  std::size_t width = 0;
  std::ostream& out;

  std::string cell(std::int64_t flat) const {
    return format_value(values[flat], floating, boolean, integral_values);
  }

  // Flat indices in row-major order of the printed (possibly elided) elements.
  void print(int dim, std::int64_t base, std::int64_t block, int indent) const {
    if (dim == static_cast<int>(shape.size())) {
      const std::string s = cell(base);
      out << std::string(width - s.size(), ' ') << s;
      return;
    }
    const std::int64_t size = shape[dim];
    const std::int64_t inner = block / std::max<std::int64_t>(size, 1);
    out << "[";
    for (std::int64_t i = 0; i < size; ++i) {
      if (summarize && size > 2 * kEdgeItems && i == kEdgeItems) {
        out << (dim + 1 == static_cast<int>(shape.size()) ? "..., " : "...,\n" + std::string(indent + 1, ' '));
        i = size - kEdgeItems;
      }
      print(dim + 1, base + i * inner, inner, indent + 1);
      if (i + 1 < size) {
        if (dim + 1 == static_cast<int>(shape.size())) out << ", ";
        else out << "," << std::string(shape.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
      }
    }
    out << "]";
  }
};

}  // namespace

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) {
  if (!tensor.defined()) return out << "tensor(undefined)";
  const std::vector<double> values = tensor.dtype() == kBool
                                         ? [&] {
                                             auto b = tensor.to_vector<std::uint8_t>();
                                             return std::vector<double>(b.begin(), b.end());
                                           }()
                                         : tensor.to_vector<double>();
  const bool floating = is_floating(tensor.dtype());
  bool integral_values = floating;
  for (double v : values) {
    if (std::isfinite(v) && v != std::trunc(v)) integral_values = false;
  }
  Printer printer{values, tensor.shape(), tensor.numel() > kSummarizeAbove, floating,
                  tensor.dtype() == kBool, integral_values, 0, out};
  for (std::size_t i = 0; i < values.size(); ++i) {
    // Width from every value: simple, and printing is never a hot path.
    printer.width = std::max(printer.width, printer.cell(static_cast<std::int64_t>(i)).size());
  }
  out << "tensor(";
  if (tensor.dim() == 0) out << printer.cell(0);
  else if (tensor.numel() == 0) out << "[], shape=" << to_string(tensor.shape());
  else printer.print(0, 0, tensor.numel(), 7);
  out << ", dtype=" << tensor.dtype();
  if (!tensor.device().is_cpu()) out << ", device=" << tensor.device();
  return out << ")";
}

}  // namespace parity
