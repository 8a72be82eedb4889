// The geometry of a 2-D sliding-window op (convolution, pooling): the image
// layout, the padding rule and the resolved sizes every backend works from.
//
// Note [Same padding]: "same" follows TensorFlow (and so Keras): the output has
// ceil(in / stride) rows, the padding needed for that is split with the smaller
// half before and the larger half after (bottom/right). Theano's "half" and
// PyTorch's padding="same" pad symmetrically; they agree with this rule
// whenever the total is even (odd kernels at stride 1, as in most models).
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "parity/tensor/shape.h"

namespace parity {

// Where the channels of an image batch live.
enum class Layout : std::uint8_t {
  NHWC,  // Keras and TensorFlow ("channels_last")
  NCHW,  // PyTorch, Theano, cuDNN's native format ("channels_first")
};

constexpr std::string_view name(Layout layout) { return layout == Layout::NHWC ? "NHWC" : "NCHW"; }
inline std::ostream& operator<<(std::ostream& out, Layout layout) { return out << name(layout); }

// How a 2-D window op pads its input.
struct Padding {
  enum class Kind : std::uint8_t { Valid, Same, Explicit };
  Kind kind = Kind::Valid;
  std::int64_t top = 0, bottom = 0, left = 0, right = 0;  // Explicit only

  Padding() = default;
  // Keras' strings, so options read `.padding = "same"`; throws on any other.
  Padding(const char* text) : Padding(parse(text)) {}  // NOLINT(google-explicit-constructor)
  Padding(std::string_view text) : Padding(parse(text)) {}  // NOLINT(google-explicit-constructor)

  static Padding valid() { return {}; }
  static Padding same() { return Padding(Kind::Same, 0, 0, 0, 0); }
  static Padding explicit_pads(std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right) {
    return Padding(Kind::Explicit, top, bottom, left, right);
  }
  // The same padding on both sides: (rows, columns), as PyTorch's padding=(ph, pw).
  static Padding symmetric(std::int64_t rows, std::int64_t cols) { return explicit_pads(rows, rows, cols, cols); }
  // "valid" or "same" (Keras' strings, any case); throws naming the string otherwise.
  static Padding parse(std::string_view text);

 private:
  Padding(Kind k, std::int64_t t, std::int64_t b, std::int64_t l, std::int64_t r)
      : kind(k), top(t), bottom(b), left(l), right(r) {}
};

std::string to_string(const Padding& padding);  // "valid", "same", "explicit(t, b, l, r)"
inline std::ostream& operator<<(std::ostream& out, const Padding& p) { return out << to_string(p); }

// A window op resolved against one input: every size a kernel needs.
struct Window2d {
  Layout layout = Layout::NHWC;
  std::int64_t batch = 0, channels = 0, in_h = 0, in_w = 0;
  std::int64_t window_h = 1, window_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t out_h = 0, out_w = 0;

  bool symmetric_padding() const { return pad_top == pad_bottom && pad_left == pad_right; }
  // The image shape in this layout: [batch, h, w, channels] or [batch, channels, h, w].
  Shape image_shape(std::int64_t c, std::int64_t h, std::int64_t w) const;
  Shape input_shape() const { return image_shape(channels, in_h, in_w); }
  Shape output_shape(std::int64_t out_channels) const { return image_shape(out_channels, out_h, out_w); }
};

// What resolve_window needs besides the input's shape.
struct WindowSpec {
  std::array<std::int64_t, 2> window{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> dilation{1, 1};
  Padding padding;
  Layout layout = Layout::NHWC;
};

// Resolves `spec` against a 4-D `input_shape`; throws naming `op` for a wrong
// rank, a stride/dilation/window below 1, negative pads, or a window that does
// not fit in the padded input. `pads_below_window` (pooling) also requires
// every pad to be smaller than the window, so no window lies wholly in padding.
Window2d resolve_window(const char* op, const Shape& input_shape, const WindowSpec& spec,
                        bool pads_below_window = false);

}  // namespace parity
