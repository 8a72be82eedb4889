#include "parity/nn/pooling.h"

#include "parity/tensor/error.h"

namespace parity::nn {

Pool2D::Pool2D(PoolKind kind, Pool2DOptions options) : kind_(kind), options_(options) {
  PARITY_CHECK(options_.pool[0] >= 1 && options_.pool[1] >= 1, type_name(), ": the pool must be at least 1x1, got ",
               options_.pool[0], "x", options_.pool[1]);
}

Pool2dOptions Pool2D::pool_options(Layout layout) const {
  return {.pool = options_.pool, .stride = options_.strides, .padding = options_.padding, .layout = layout,
          .count_include_pad = options_.count_include_pad};
}

Shape Pool2D::build_impl(const Shape& input_shape, const BuildContext& context) {
  const bool nhwc = context.options.layout == Layout::NHWC;
  PARITY_CHECK(input_shape.size() == 3, type_name(), ": expected ",
               nhwc ? "(height, width, channels)" : "(channels, height, width)", " per sample (",
               context.options.layout, " model), got input ", keras_shape(input_shape));
  Shape batch_shape{1};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  const Shape out = pool2d_output_shape(batch_shape, pool_options(context.options.layout));
  return Shape(out.begin() + 1, out.end());
}

Tensor Pool2D::forward_impl(const Tensor& x) { return pool2d(kind_, x, pool_options(build_options().layout)); }

}  // namespace parity::nn
