#include "parity/nn/sequential.h"

#include <cctype>
#include <map>

#include "parity/tensor/error.h"

namespace parity::nn {

std::string snake_case(const std::string& s) {
  // Keras' _to_snake_case: (.)([A-Z][a-z0-9]+) -> \1_\2, then ([a-z])([A-Z]) -> \1_\2, lower-cased.
  auto upper = [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; };
  auto lower = [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; };
  auto lower_or_digit = [&](char c) { return lower(c) || std::isdigit(static_cast<unsigned char>(c)) != 0; };
  std::string first;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && upper(s[i]) && i + 1 < s.size() && lower_or_digit(s[i + 1])) first += '_';
    first += s[i];
  }
  std::string out;
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (i > 0 && upper(first[i]) && lower(first[i - 1])) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(first[i])));
  }
  return out;
}

Sequential& Sequential::add(std::shared_ptr<Module> module) {
  PARITY_CHECK(!built(), "Sequential: cannot add a layer to a built model");
  register_module(std::to_string(children().size()), std::move(module));
  return *this;
}

Module& Sequential::operator[](std::size_t i) const {
  PARITY_CHECK(i < children().size(), "Sequential: index ", i, " out of range for ", children().size(), " layers");
  return *children()[i].second;
}

Shape Sequential::build_impl(const Shape& input_shape, const BuildContext& context) {
  PARITY_CHECK(!children().empty(), "Sequential: cannot build a model with no layers");
  std::map<std::string, int> counts;
  Shape shape = input_shape;
  for (const auto& [index, child] : children()) {
    if (child->name().empty()) {
      const std::string prefix = snake_case(child->type_name());
      child->set_name(prefix + "_" + std::to_string(++counts[prefix]));
    }
    child->build_with(shape, context);
    shape = child->output_shape();
  }
  return shape;
}

Tensor Sequential::forward_impl(const Tensor& x) {
  Tensor y = x;
  for (const auto& [index, child] : children()) y = (*child)(y);
  return y;
}

void Sequential::summarize(std::vector<std::vector<std::string>>& rows) const {
  for (const auto& [index, child] : children()) child->summarize(rows);
}

}  // namespace parity::nn
