// Non-contiguous tensors holding given values, for the tests that an op reads
// its operands through their strides (or makes them dense first) instead of
// assuming a dense layout: a dim narrowed out of a wider buffer (a channel
// slice), every other element along some dims (a strided view at an offset),
// and storage in another dim order (a transposed layout). The buffers' other
// elements are NaN, so an op that reads past the view's elements gets NaN.
#pragma once

#include <parity/parity.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace parity::testing {

struct Variant {
  std::string name;
  Tensor t;
};

// A NaN-filled buffer shaped like t but for `wide`, on t's device.
inline Tensor nan_buffer(const Shape& wide, const Tensor& t) {
  return full(wide, std::numeric_limits<double>::quiet_NaN(), {.dtype = t.dtype(), .device = t.device()});
}

// t's values as the slice [1, 1 + n) of dim d of a buffer 3 wider.
inline Tensor sliced_along(const Tensor& t, int d) {
  Shape wide = t.shape();
  wide[d] += 3;
  Tensor view = nan_buffer(wide, t).narrow(d, 1, t.size(d));
  view.copy_(t);
  return view;
}

// t's values at the odd indices of each dim in `dims` of a buffer 2n + 1 long there.
inline Tensor strided_along(const Tensor& t, const std::vector<int>& dims) {
  Shape wide = t.shape();
  for (int d : dims) wide[d] = 2 * wide[d] + 1;
  Tensor view = nan_buffer(wide, t);
  for (int d : dims) view = view.slice(d, 1, wide[d], 2);
  view.copy_(t);
  return view;
}

// t's values stored with the dims in reverse order: a transposed layout.
inline Tensor transposed_storage(const Tensor& t) {
  std::vector<std::int64_t> reverse(static_cast<std::size_t>(t.dim()));
  for (int d = 0; d < t.dim(); ++d) reverse[d] = t.dim() - 1 - d;
  return t.permute(reverse).contiguous().permute(reverse);
}

// The three kinds for a 4-D image or kernel: `channel` is the dim to slice
// (the channels of an image, the output channels of a kernel), `h`, `w` the
// spatial dims to stride.
inline std::vector<Variant> non_contiguous_4d(const Tensor& t, int channel, int h, int w) {
  return {{"channel-sliced", sliced_along(t, channel)},
          {"strided", strided_along(t, {h, w})},
          {"transposed", transposed_storage(t)},
          {"strided along dim 0", strided_along(t, {0})}};
}

}  // namespace parity::testing
