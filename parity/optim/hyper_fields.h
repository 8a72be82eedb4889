// The named hyper-parameters of an optimizer: one table per Hyper struct says
// which fields hparams() reports and set_hparams() accepts (the optimizer's
// state_dict and learning-rate schedules go through them), so each name is
// written once.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "parity/tensor/error.h"

namespace parity::optim {

template <typename Hyper>
struct HyperField {
  const char* name;
  double Hyper::*number = nullptr;  // a real hyper-parameter, or
  bool Hyper::*flag = nullptr;      // a switch, as 0 or 1
  bool reported = true;             // false: accepted, not reported (lr: the group holds it)
};

// The reported fields of h, and the learning-rate decay, by name.
template <typename Hyper>
std::map<std::string, double> report_hyper(std::span<const HyperField<Hyper>> fields, const Hyper& h,
                                           double decay) {
  std::map<std::string, double> out{{"decay", decay}};
  for (const HyperField<Hyper>& f : fields) {
    if (!f.reported) continue;
    out[f.name] = f.number != nullptr ? h.*f.number : (h.*f.flag ? 1.0 : 0.0);
  }
  return out;
}

// Sets the named fields of h (and "decay"); a name not in the table is an Error naming `optimizer`.
template <typename Hyper>
void assign_hyper(std::span<const HyperField<Hyper>> fields, std::string_view optimizer,
                  const std::map<std::string, double>& values, Hyper& h, double& decay) {
  for (const auto& [key, value] : values) {
    if (key == "decay") {
      decay = value;
      continue;
    }
    const HyperField<Hyper>* field = nullptr;
    for (const HyperField<Hyper>& f : fields) {
      if (key == f.name) field = &f;
    }
    if (field == nullptr) {
      std::string known = "decay";
      for (const HyperField<Hyper>& f : fields) known += std::string(", ") + f.name;
      PARITY_FAIL(optimizer, ": unknown hyper-parameter '", key, "' (known: ", known, ")");
    }
    if (field->number != nullptr) h.*field->number = value;
    else h.*field->flag = value != 0.0;
  }
}

}  // namespace parity::optim
