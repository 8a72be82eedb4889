// Flatten: [batch, d1, d2, ...] -> [batch, d1*d2*...], in the layout's own
// row-major order. An NHWC model flattens (h, w, c) as Keras does, so Dense
// weights imported from Keras line up; an NCHW model flattens (c, h, w) as
// PyTorch does. Moving weights between layouts needs the Dense kernel's rows
// permuted accordingly.
#pragma once

#include "parity/nn/module.h"

namespace parity::nn {

class Flatten : public Module {
 public:
  std::string type_name() const override { return "Flatten"; }

 protected:
  Tensor forward_impl(const Tensor& x) override;
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;
};

}  // namespace parity::nn
