// conv2d's front end: validate, resolve the geometry, allocate, hand the dense
// operands to the backend of their device, record for autograd.
#include "parity/tensor/conv.h"

#include "parity/tensor/autograd_hook.h"
#include "parity/tensor/backend.h"
#include "parity/tensor/context.h"
#include "parity/tensor/op_checks.h"

namespace parity {

namespace {

using detail::backend;
using detail::check_defined;
using detail::check_floating;
using detail::check_like;
using detail::check_operands;
using detail::new_like;

const char* kernel_dims(KernelLayout layout) {
  return layout == KernelLayout::HWIO ? "[kh, kw, in_channels, out_channels]" : "[out_channels, in_channels, kh, kw]";
}

// The geometry of conv2d(x, w) from the two shapes, checked.
Conv2dArgs resolve(const char* op, const Shape& x_shape, const Shape& w_shape, const Conv2dOptions& o) {
  PARITY_CHECK(w_shape.size() == 4, op, ": expected a 4-D weight in ", o.kernel_layout, " layout ",
               kernel_dims(o.kernel_layout), ", got shape ", to_string(w_shape));
  const bool hwio = o.kernel_layout == KernelLayout::HWIO;
  const std::int64_t kh = hwio ? w_shape[0] : w_shape[2];
  const std::int64_t kw = hwio ? w_shape[1] : w_shape[3];
  const std::int64_t in_channels = hwio ? w_shape[2] : w_shape[1];
  const std::int64_t out_channels = hwio ? w_shape[3] : w_shape[0];
  Conv2dArgs args;
  args.win = resolve_window(op, x_shape, {.window = {kh, kw}, .stride = o.stride, .dilation = o.dilation,
                                          .padding = o.padding, .layout = o.layout});
  PARITY_CHECK(args.win.channels == in_channels, op, ": the input has ", args.win.channels, " channels (shape ",
               to_string(x_shape), ", ", o.layout, ") but the weight expects ", in_channels, " (shape ",
               to_string(w_shape), ", ", o.kernel_layout, " ", kernel_dims(o.kernel_layout),
               "); grouped convolutions are not supported");
  PARITY_CHECK(in_channels >= 1 && out_channels >= 1, op, ": expected at least one input and one output channel, ",
               "got weight shape ", to_string(w_shape), " (", o.kernel_layout, ")");
  args.out_channels = out_channels;
  args.kernel_layout = o.kernel_layout;
  args.mode = o.mode;
  args.math_mode = math_mode();
  args.deterministic = deterministic();
  args.cpu_algorithm = cpu_conv_algorithm();
  return args;
}

CpuConvAlgorithm algorithm_used(CpuConvAlgorithm requested, DType dtype) {
#if PARITY_WITH_ONEDNN
  if (requested == CpuConvAlgorithm::OneDnn && dtype == kFloat32) return CpuConvAlgorithm::OneDnn;
#endif
  (void)requested, (void)dtype;
  return CpuConvAlgorithm::Im2colGemm;
}

void finish_args(Conv2dArgs& args, const Tensor& t) {
  args.dtype = t.dtype();
  args.device_index = t.device().index;
  args.cpu_algorithm = algorithm_used(args.cpu_algorithm, args.dtype);
}

Tensor conv2d_raw(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o) {
  check_floating(x, "conv2d", "an input");
  check_like(x, w, "conv2d");
  Conv2dArgs args = resolve("conv2d", x.shape(), w.shape(), o);
  if (bias.defined()) {
    check_like(x, bias, "conv2d");
    PARITY_CHECK(bias.dim() == 1 && bias.size(0) == args.out_channels, "conv2d: expected a bias of shape [",
                 args.out_channels, "] (one per output channel of weight ", to_string(w.shape()), "), got shape ",
                 to_string(bias.shape()));
  }
  finish_args(args, x);
  Tensor y = new_like(args.win.output_shape(args.out_channels), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const Tensor xc = x.contiguous(), wc = w.contiguous();
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  backend(x, "conv2d").conv2d_forward(args, xc.data_ptr(), wc.data_ptr(), bc.defined() ? bc.data_ptr() : nullptr,
                                      y.data_ptr());
  return y;
}

void check_grad_output(const char* op, const Tensor& dy, const Shape& expected) {
  PARITY_CHECK(dy.shape() == expected, op, ": expected grad_output of shape ", to_string(expected),
               " (the convolution's output), got ", to_string(dy.shape()));
}

}  // namespace

Shape conv2d_output_shape(const Shape& x_shape, const Shape& w_shape, const Conv2dOptions& options) {
  const Conv2dArgs args = resolve("conv2d", x_shape, w_shape, options);
  return args.win.output_shape(args.out_channels);
}

CpuConvAlgorithm cpu_conv_algorithm_used(DType dtype) { return algorithm_used(cpu_conv_algorithm(), dtype); }

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  check_defined(x, "conv2d", "the input");
  check_defined(weight, "conv2d", "the weight");
  const bool grad = x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad());
  if (!grad) return conv2d_raw(x, weight, bias, options);
  Tensor y = conv2d_raw(autograd_hook::raw(x), autograd_hook::raw(weight), autograd_hook::raw(bias), options);
  autograd_hook::record(y, {.kind = autograd_hook::OpKind::Conv2d, .name = "conv2d",
                            .inputs = {&x, &weight, bias.defined() ? &bias : nullptr},
                            .attrs = autograd_hook::Conv2dAttrs{options}});
  return y;
}

Tensor conv2d_backward_input(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dOptions& o) {
  const char* op = "conv2d_backward_input";
  check_operands(op, dy, "grad_output", w, "the weight");
  Conv2dArgs args = resolve(op, x_shape, w.shape(), o);
  check_grad_output(op, dy, args.win.output_shape(args.out_channels));
  finish_args(args, dy);
  Tensor dx = new_like(x_shape, dy.dtype(), dy.device());
  if (dx.numel() == 0) return dx;
  const Tensor dyc = autograd_hook::raw(dy).contiguous(), wc = autograd_hook::raw(w).contiguous();
  backend(dy, op).conv2d_backward_input(args, dyc.data_ptr(), wc.data_ptr(), dx.data_ptr());
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& x, const Tensor& dy, const Shape& w_shape, const Conv2dOptions& o) {
  const char* op = "conv2d_backward_weight";
  check_operands(op, x, "the input", dy, "grad_output");
  Conv2dArgs args = resolve(op, x.shape(), w_shape, o);
  check_grad_output(op, dy, args.win.output_shape(args.out_channels));
  finish_args(args, x);
  Tensor dw = new_like(w_shape, x.dtype(), x.device());
  if (dy.numel() == 0) return dw.zero_();  // an empty batch contributes nothing
  const Tensor xc = autograd_hook::raw(x).contiguous(), dyc = autograd_hook::raw(dy).contiguous();
  backend(x, op).conv2d_backward_weight(args, xc.data_ptr(), dyc.data_ptr(), dw.data_ptr());
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& dy, Layout layout) {
  const char* op = "conv2d_backward_bias";
  check_defined(dy, op, "grad_output");
  check_floating(dy, op, "grad_output");
  PARITY_CHECK(dy.dim() == 4, op, ": expected a 4-D grad_output in ", layout, " layout, got shape ",
               to_string(dy.shape()));
  const bool nhwc = layout == Layout::NHWC;
  Conv2dArgs args;
  args.win.layout = layout;
  args.win.batch = dy.size(0);
  args.out_channels = nhwc ? dy.size(3) : dy.size(1);
  args.win.out_h = nhwc ? dy.size(1) : dy.size(2);
  args.win.out_w = nhwc ? dy.size(2) : dy.size(3);
  finish_args(args, dy);
  Tensor db = new_like({args.out_channels}, dy.dtype(), dy.device());
  if (dy.numel() == 0) return db.zero_();
  const Tensor dyc = autograd_hook::raw(dy).contiguous();
  backend(dy, op).conv2d_backward_bias(args, dyc.data_ptr(), db.data_ptr());
  return db;
}

}  // namespace parity
