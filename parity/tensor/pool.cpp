// Pooling's front end: validate, resolve the window, allocate, run on the
// operands' backend, record for autograd.
#include "parity/tensor/pool.h"

#include "parity/tensor/autograd_hook.h"
#include "parity/tensor/backend.h"
#include "parity/tensor/op_checks.h"

namespace parity {

namespace {

using namespace detail;  // the front ends' checks and helpers (op_checks.h, backend.h)

const char* op_name(PoolKind kind) { return kind == PoolKind::Max ? "max_pool2d" : "avg_pool2d"; }

Pool2dArgs resolve(PoolKind kind, const char* op, const Shape& x_shape, const Pool2dOptions& o) {
  Pool2dArgs args;
  args.kind = kind;
  args.count_include_pad = o.count_include_pad;
  args.win = resolve_window(op, x_shape, {.window = o.pool, .stride = o.stride.value_or(o.pool), .dilation = {1, 1},
                                          .padding = o.padding, .layout = o.layout},
                            /*pads_below_window=*/true);
  return args;
}

Tensor pool2d_raw(PoolKind kind, const Tensor& x, const Pool2dOptions& o) {
  const char* op = op_name(kind);
  check_floating(x, op, "an input");
  Pool2dArgs args = resolve(kind, op, x.shape(), o);
  args.dtype = x.dtype();
  args.device_index = x.device().index;
  Tensor y = new_like(args.win.output_shape(args.win.channels), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const Tensor xc = x.contiguous();
  backend(x, op).pool2d_forward(args, xc.data_ptr(), y.data_ptr());
  return y;
}

}  // namespace

Shape pool2d_output_shape(const Shape& x_shape, const Pool2dOptions& options) {
  const Pool2dArgs args = resolve(PoolKind::Max, "pool2d", x_shape, options);
  return args.win.output_shape(args.win.channels);
}

Tensor pool2d(PoolKind kind, const Tensor& x, const Pool2dOptions& options) {
  check_defined(x, op_name(kind), "the input");
  if (!x.requires_grad()) return pool2d_raw(kind, x, options);
  Tensor y = pool2d_raw(kind, autograd_hook::raw(x), options);
  autograd_hook::record(y, {.kind = autograd_hook::OpKind::Pool2d, .name = op_name(kind), .inputs = {&x},
                            .attrs = autograd_hook::Pool2dAttrs{kind, options}});
  return y;
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) { return pool2d(PoolKind::Max, x, options); }
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) { return pool2d(PoolKind::Average, x, options); }

Tensor pool2d_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy, const Shape& x_shape,
                       const Pool2dOptions& o) {
  const char* op = kind == PoolKind::Max ? "max_pool2d_backward" : "avg_pool2d_backward";
  check_defined(dy, op, "grad_output");
  check_floating(dy, op, "grad_output");
  Pool2dArgs args = resolve(kind, op, x_shape, o);
  args.dtype = dy.dtype();
  args.device_index = dy.device().index;
  const Shape y_shape = args.win.output_shape(args.win.channels);
  PARITY_CHECK(dy.shape() == y_shape, op, ": expected grad_output of shape ", to_string(y_shape),
               " (the pooling's output for input ", to_string(x_shape), "), got ", to_string(dy.shape()));
  Tensor xc, yc;
  if (kind == PoolKind::Max) {
    check_defined(x, op, "the forward's input");
    check_defined(y, op, "the forward's output");
    PARITY_CHECK(x.shape() == x_shape && y.shape() == y_shape, op, ": expected the forward's input ",
                 to_string(x_shape), " and output ", to_string(y_shape), ", got ", to_string(x.shape()), " and ",
                 to_string(y.shape()));
    check_like(x, dy, op);
    check_like(y, dy, op);
    xc = autograd_hook::raw(x).contiguous();
    yc = autograd_hook::raw(y).contiguous();
  }
  Tensor dx = new_like(x_shape, dy.dtype(), dy.device());
  if (dx.numel() == 0) return dx;
  if (dy.numel() == 0) return dx.zero_();
  const Tensor dyc = autograd_hook::raw(dy).contiguous();
  backend(dy, op).pool2d_backward(args, xc.defined() ? xc.data_ptr() : nullptr,
                                  yc.defined() ? yc.data_ptr() : nullptr, dyc.data_ptr(), dx.data_ptr());
  return dx;
}

}  // namespace parity
