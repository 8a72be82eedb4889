#include "parity/nn/flatten.h"

#include "parity/tensor/shape.h"

namespace parity::nn {

Tensor Flatten::forward_impl(const Tensor& x) { return x.reshape({x.size(0), output_shape()[0]}); }

Shape Flatten::build_impl(const Shape& input_shape, const BuildContext&) { return {numel(input_shape)}; }

}  // namespace parity::nn
