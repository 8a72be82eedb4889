#include "parity/tensor/window.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "parity/tensor/error.h"

namespace parity {

Padding Padding::parse(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "valid") return valid();
  if (lower == "same") return same();
  PARITY_FAIL("Padding::parse: unknown padding \"", text, "\"; expected \"valid\" or \"same\" ",
              "(or Padding::explicit_pads(top, bottom, left, right))");
}

std::string to_string(const Padding& p) {
  switch (p.kind) {
    case Padding::Kind::Valid:
      return "valid";
    case Padding::Kind::Same:
      return "same";
    case Padding::Kind::Explicit:
      break;
  }
  std::ostringstream out;
  out << "explicit(" << p.top << ", " << p.bottom << ", " << p.left << ", " << p.right << ")";
  return out.str();
}

Shape Window2d::image_shape(std::int64_t c, std::int64_t h, std::int64_t w) const {
  return layout == Layout::NHWC ? Shape{batch, h, w, c} : Shape{batch, c, h, w};
}

namespace {

struct Axis {
  std::int64_t pad_before = 0, pad_after = 0, out = 0;
};

// One spatial axis: in elements, window k dilated by d, stride s.
Axis resolve_axis(const char* op, const char* axis, std::int64_t in, std::int64_t k, std::int64_t s,
                  std::int64_t d, const Padding& padding, std::int64_t before, std::int64_t after,
                  bool pads_below_window, const Shape& input_shape) {
  const std::int64_t extent = (k - 1) * d + 1;
  Axis a;
  if (padding.kind == Padding::Kind::Same) {  // Note [Same padding]
    a.out = (in + s - 1) / s;
    const std::int64_t total = std::max<std::int64_t>((a.out - 1) * s + extent - in, 0);
    a.pad_before = total / 2;
    a.pad_after = total - a.pad_before;
    return a;
  }
  if (padding.kind == Padding::Kind::Explicit) {
    PARITY_CHECK(before >= 0 && after >= 0, op, ": padding must not be negative, got ", to_string(padding));
    a.pad_before = before;
    a.pad_after = after;
  }
  const std::int64_t padded = in + a.pad_before + a.pad_after;
  PARITY_CHECK(padded >= extent, op, ": the window (", k, " ", axis, ", dilation ", d, ", extent ", extent,
               ") is larger than the ", padding.kind == Padding::Kind::Valid ? "" : "padded ", "input (",
               padded, " ", axis, ", input shape ", to_string(input_shape), ", padding ", to_string(padding),
               ")");
  if (pads_below_window) {
    PARITY_CHECK(a.pad_before < extent && a.pad_after < extent, op, ": padding ", to_string(padding),
                 " must be smaller than the window (", extent, " ", axis,
                 "): a window wholly in padding has no input element");
  }
  a.out = (padded - extent) / s + 1;
  return a;
}

}  // namespace

Window2d resolve_window(const char* op, const Shape& input_shape, const WindowSpec& spec, bool pads_below_window) {
  PARITY_CHECK(input_shape.size() == 4, op, ": expected a 4-D input (", spec.layout == Layout::NHWC
                                                                              ? "batch, height, width, channels"
                                                                              : "batch, channels, height, width",
               "), got shape ", to_string(input_shape));
  for (int i = 0; i < 2; ++i) {
    PARITY_CHECK(spec.window[i] >= 1, op, ": the window must be at least 1x1, got ", spec.window[0], "x",
                 spec.window[1]);
    PARITY_CHECK(spec.stride[i] >= 1, op, ": strides must be at least 1, got (", spec.stride[0], ", ",
                 spec.stride[1], ")");
    PARITY_CHECK(spec.dilation[i] >= 1, op, ": dilation must be at least 1, got (", spec.dilation[0], ", ",
                 spec.dilation[1], ")");
  }
  Window2d w;
  w.layout = spec.layout;
  const bool nhwc = spec.layout == Layout::NHWC;
  w.batch = input_shape[0];
  w.channels = nhwc ? input_shape[3] : input_shape[1];
  w.in_h = nhwc ? input_shape[1] : input_shape[2];
  w.in_w = nhwc ? input_shape[2] : input_shape[3];
  w.window_h = spec.window[0];
  w.window_w = spec.window[1];
  w.stride_h = spec.stride[0];
  w.stride_w = spec.stride[1];
  w.dilation_h = spec.dilation[0];
  w.dilation_w = spec.dilation[1];
  const Padding& p = spec.padding;
  const Axis rows = resolve_axis(op, "rows", w.in_h, w.window_h, w.stride_h, w.dilation_h, p, p.top, p.bottom,
                                 pads_below_window, input_shape);
  const Axis cols = resolve_axis(op, "columns", w.in_w, w.window_w, w.stride_w, w.dilation_w, p, p.left, p.right,
                                 pads_below_window, input_shape);
  w.pad_top = rows.pad_before;
  w.pad_bottom = rows.pad_after;
  w.pad_left = cols.pad_before;
  w.pad_right = cols.pad_after;
  w.out_h = rows.out;
  w.out_w = cols.out;
  return w;
}

}  // namespace parity
