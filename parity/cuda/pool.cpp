// CUDA 2-D max and average pooling through cuDNN (parity/tensor/pool.h).
//
// Modes: max pooling is CUDNN_POOLING_MAX_DETERMINISTIC (its backward picks one
// element per window without atomics; CUDNN_POOLING_MAX's backward is one of
// cuDNN's non-reproducible routines), NaN propagating; average pooling is
// CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING or _EXCLUDE_PADDING as
// count_include_pad says. Note [Max-pool ties] (parity/tensor/pool.h): which element
// of a tied window gets the gradient is cuDNN's choice.
//
// Images run in their own layout (cuDNN's pooling reads any strides); if cuDNN
// refuses one (CUDNN_STATUS_NOT_SUPPORTED), the call converts to NCHW and
// remembers that for the (dtype, layout, kind).
//
// Padding: cuDNN pads symmetrically; the symmetric part of the window's
// padding (the smaller side) goes to cuDNN and the remainder on the larger
// side (TensorFlow's "same", Note [Same padding]) is padded explicitly into a
// temporary, as for convolution (Note [cuDNN convolution], parity/cuda/conv.cpp):
// - max: cuDNN's own padding never wins (it takes the maximum over the input
//   elements of each window), and the explicit rows are -infinity, which loses
//   to every element (pads are smaller than the window, so every window holds
//   one). The backward computes the padded input's gradient and keeps its interior.
// - average, count_include_pad: the explicit rows are zeros counted in the
//   window, exactly like cuDNN's own padding: sum / (kh * kw) either way.
// - average, count_include_pad = false, asymmetric pads: cuDNN would count the
//   explicit zeros. So it computes the include-padding average sum / (kh * kw)
//   and the result is scaled by (kh * kw) / count(i, j), count being the input
//   elements in window (i, j) (rows in the input times columns in the input,
//   computed on the device from the geometry). Two extra roundings: within
//   3 ulp of sum / count. The backward scales dy the same way first.
//
// cuDNN's pooling backward wants x and y even for average pooling, where they
// do not affect the result (TensorFlow's DnnPoolingGradOp says the same); the
// front end passes none, so dy stands in for y and an uninitialized pool
// temporary for x.
//
// cuDNN indexes with 32-bit ints: a batch past 2^31-1 elements is pooled a
// chunk of images at a time.
//
// Everything is enqueued on the current stream; nothing synchronizes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "parity/cuda/api.h"
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/cudnn.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::cuda {

namespace {

using i64 = std::int64_t;

const char* op_name(PoolKind kind, bool backward) {
  if (kind == PoolKind::Max) return backward ? "max_pool2d_backward" : "max_pool2d";
  return backward ? "avg_pool2d_backward" : "avg_pool2d";
}

// (dtype, layout, kind) combinations cuDNN refused in their own layout.
struct Refusals {
  std::mutex mutex;
  std::set<std::tuple<int, int, int>> refused;
};

Refusals& refusals() {
  static auto* r = new Refusals;
  return *r;
}

std::tuple<int, int, int> refusal_key(const Pool2dArgs& a) {
  return {static_cast<int>(a.dtype), static_cast<int>(a.win.layout), static_cast<int>(a.kind)};
}

bool refused(const Pool2dArgs& a) {
  Refusals& r = refusals();
  std::lock_guard lock(r.mutex);
  return r.refused.count(refusal_key(a)) != 0;
}

void remember_refusal(const Pool2dArgs& a) {
  Refusals& r = refusals();
  std::lock_guard lock(r.mutex);
  r.refused.insert(refusal_key(a));
}

// What cuDNN runs for one pooling call.
struct Setup {
  cudnnPoolingMode_t mode;
  SplitPads pads;
  double fill;   // of the explicit padding
  bool rescale;  // average without padding counted, asymmetric: scale by (kh * kw) / count
};

Setup setup(const Pool2dArgs& a) {
  Setup s;
  s.pads = split_pads(a.win);
  s.rescale = false;
  if (a.kind == PoolKind::Max) {
    s.mode = CUDNN_POOLING_MAX_DETERMINISTIC;
    s.fill = -std::numeric_limits<double>::infinity();
  } else {
    s.fill = 0.0;
    if (a.count_include_pad) {
      s.mode = CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
    } else if (!s.pads.extra.any()) {
      s.mode = CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    } else {
      s.mode = CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
      s.rescale = true;
    }
  }
  return s;
}

// (kh * kw) / count(i, j) as an [out_h, out_w] tensor shaped to broadcast over
// an output image in `layout`: count(i, j) is the number of input elements
// window (i, j) covers. Computed on the host in float64, rounded once to the
// dtype, copied without synchronizing (a small pageable copy is staged by the
// runtime, parity/cuda/cuda_backend.cpp).
Tensor exclude_pad_scale(const Pool2dArgs& a, Layout layout, Device device) {
  const Window2d& w = a.win;
  const auto covered = [](i64 i, i64 stride, i64 pad, i64 window, i64 in) {
    const i64 start = i * stride - pad;
    return std::min(start + window, in) - std::max<i64>(start, 0);
  };
  std::vector<double> scale(static_cast<std::size_t>(w.out_h * w.out_w));
  const double full = static_cast<double>(w.window_h * w.window_w);
  for (i64 i = 0; i < w.out_h; ++i) {
    const i64 rows = covered(i, w.stride_h, w.pad_top, w.window_h, w.in_h);
    for (i64 j = 0; j < w.out_w; ++j) {
      const i64 cols = covered(j, w.stride_w, w.pad_left, w.window_w, w.in_w);
      scale[static_cast<std::size_t>(i * w.out_w + j)] = full / static_cast<double>(rows * cols);
    }
  }
  const Shape shape = layout == Layout::NHWC ? Shape{w.out_h, w.out_w, 1} : Shape{w.out_h, w.out_w};
  return from_vector(scale, shape).to(a.dtype).to(device);
}

struct Descriptors {
  TensorDesc x;  // the (padded) input
  TensorDesc y;
  PoolDesc pool;
};

Descriptors describe(const Pool2dArgs& a, const Setup& s, Layout layout, const char* op) {
  const Window2d& w = a.win;
  const cudnnDataType_t dtype = cudnn_dtype(a.dtype, op);
  const ExtraPads& e = s.pads.extra;
  return {
      TensorDesc(dtype, layout, w.batch, w.channels, w.in_h + e.top + e.bottom, w.in_w + e.left + e.right),
      TensorDesc(dtype, layout, w.batch, w.channels, w.out_h, w.out_w),
      PoolDesc(s.mode, cudnn_int(w.window_h, op, "window"), cudnn_int(w.window_w, op, "window"),
               cudnn_int(s.pads.pad_h, op, "pad"), cudnn_int(s.pads.pad_w, op, "pad"),
               cudnn_int(w.stride_h, op, "stride"), cudnn_int(w.stride_w, op, "stride"))};
}

void check_output_dims(const Descriptors& d, const Window2d& w, const char* op) {
  int n = 0, c = 0, h = 0, wd = 0;
  PARITY_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(d.pool.get(), d.x.get(), &n, &c, &h, &wd));
  PARITY_INTERNAL_ASSERT(h == w.out_h && wd == w.out_w, op, ": cuDNN computes an output of ", h, "x", wd,
                         " but the window resolved to ", w.out_h, "x", w.out_w);
}

// The layouts to try, in order.
std::vector<Layout> layouts_for(const Pool2dArgs& a) {
  if (a.win.layout == Layout::NCHW) return {Layout::NCHW};
  if (refused(a)) return {Layout::NCHW};
  return {Layout::NHWC, Layout::NCHW};
}

void forward(const Pool2dArgs& a, const Tensor& x, const Tensor& y, Layout layout, const char* op) {
  const Setup s = setup(a);
  const Descriptors d = describe(a, s, layout, op);
  check_output_dims(d, a.win, op);
  const Tensor xi = image_in(x, a.win.layout, layout, s.pads.extra, s.fill);
  Tensor yi = image_out(y, a.win.layout, layout, {});
  const Scale one(a.dtype, 1.0), zero(a.dtype, 0.0);
  CudnnHandle handle(a.device_index);
  PARITY_CUDNN_CHECK(cudnnPoolingForward(handle.get(), d.pool.get(), one.get(), d.x.get(), xi.data_ptr(),
                                         zero.get(), d.y.get(), yi.data_ptr()));
  if (s.rescale) yi.mul_(exclude_pad_scale(a, layout, y.device()));
  image_back(y, yi, a.win.layout, layout, {});
}

void backward(const Pool2dArgs& a, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx,
              Layout layout, const char* op) {
  const Setup s = setup(a);
  const ExtraPads& e = s.pads.extra;
  const Descriptors d = describe(a, s, layout, op);
  check_output_dims(d, a.win, op);
  Tensor dyi = image_in(dy, a.win.layout, layout, {}, 0.0);
  if (s.rescale) {
    const Tensor scale = exclude_pad_scale(a, layout, dy.device());
    dyi = dyi.is_same(dy) ? mul(dyi, scale) : dyi.mul_(scale);
  }
  const Tensor dxi = image_out(dx, a.win.layout, layout, e);
  Tensor xi, yi;
  if (a.kind == PoolKind::Max) {
    xi = image_in(x, a.win.layout, layout, e, s.fill);
    yi = image_in(y, a.win.layout, layout, {}, 0.0);
  } else {
    // Not read for the result (see the top of this file), but cuDNN wants them.
    xi = empty(dxi.shape(), {.dtype = a.dtype, .device = dx.device()});
    yi = dyi;
  }
  const Scale one(a.dtype, 1.0), zero(a.dtype, 0.0);
  CudnnHandle handle(a.device_index);
  PARITY_CUDNN_CHECK(cudnnPoolingBackward(handle.get(), d.pool.get(), one.get(), d.y.get(), yi.data_ptr(),
                                          d.y.get(), dyi.data_ptr(), d.x.get(), xi.data_ptr(), zero.get(),
                                          d.x.get(), dxi.data_ptr()));
  image_back(dx, dxi, a.win.layout, layout, e);
}

// Runs `body(layout)` in the first layout cuDNN accepts.
template <typename Body>
void in_some_layout(const Pool2dArgs& a, const char* op, Body&& body) {
  const std::vector<Layout> layouts = layouts_for(a);
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    try {
      body(layouts[i]);
      return;
    } catch (const CudnnError& error) {
      if (!error.not_supported() || i + 1 == layouts.size()) {
        std::ostringstream what;
        what << op << ": cuDNN " << cudnn_version_string() << " failed for " << a.dtype << " " << a.win.layout
             << " input (run as " << layouts[i] << "): " << error.what();
        throw Error(what.str());
      }
      if (layouts[i] == a.win.layout) remember_refusal(a);
    }
  }
}

// Images per call so that every tensor cuDNN sees stays within 2^31-1
// elements (cuDNN indexes with ints); images are pooled independently.
i64 chunk_size(const Pool2dArgs& a, const char* op) {
  const Window2d& w = a.win;
  const SplitPads p = split_pads(w);
  const i64 per_image =
      w.channels * (w.in_h + p.extra.top + p.extra.bottom) * (w.in_w + p.extra.left + p.extra.right);
  PARITY_CHECK(per_image <= std::numeric_limits<int>::max(), op, ": one image of ", per_image,
               " elements (after padding) exceeds cuDNN's 32-bit indexing");
  return std::max<i64>(1,
                       std::min<i64>(w.batch, std::numeric_limits<int>::max() / std::max<i64>(per_image, 1)));
}

}  // namespace

void CudaBackend::pool2d_forward(const Pool2dArgs& args, const void* x, void* y) {
  const char* op = op_name(args.kind, false);
  const i64 chunk = chunk_size(args, op);
  DeviceGuard guard(args.device_index);
  const int device = args.device_index;
  const Tensor xt = borrow(x, args.win.input_shape(), args.dtype, device);
  const Tensor yt = borrow(y, args.win.output_shape(args.win.channels), args.dtype, device);
  for (i64 b0 = 0; b0 < args.win.batch; b0 += chunk) {
    Pool2dArgs part = args;
    part.win.batch = std::min(chunk, args.win.batch - b0);
    const Tensor xc = xt.narrow(0, b0, part.win.batch), yc = yt.narrow(0, b0, part.win.batch);
    in_some_layout(part, op, [&](Layout layout) { forward(part, xc, yc, layout, op); });
  }
}

void CudaBackend::pool2d_backward(const Pool2dArgs& args, const void* x, const void* y, const void* dy,
                                  void* dx) {
  const char* op = op_name(args.kind, true);
  const i64 chunk = chunk_size(args, op);
  PARITY_INTERNAL_ASSERT(args.kind != PoolKind::Max || (x != nullptr && y != nullptr), op,
                         ": max pooling's backward needs the forward's input and output");
  DeviceGuard guard(args.device_index);
  const int device = args.device_index;
  const Shape x_shape = args.win.input_shape(), y_shape = args.win.output_shape(args.win.channels);
  const Tensor xt = x != nullptr ? borrow(x, x_shape, args.dtype, device) : Tensor();
  const Tensor yt = y != nullptr ? borrow(y, y_shape, args.dtype, device) : Tensor();
  const Tensor dyt = borrow(dy, y_shape, args.dtype, device);
  const Tensor dxt = borrow(dx, x_shape, args.dtype, device);
  for (i64 b0 = 0; b0 < args.win.batch; b0 += chunk) {
    Pool2dArgs part = args;
    const i64 nb = std::min(chunk, args.win.batch - b0);
    part.win.batch = nb;
    const Tensor xc = xt.defined() ? xt.narrow(0, b0, nb) : Tensor();
    const Tensor yc = yt.defined() ? yt.narrow(0, b0, nb) : Tensor();
    const Tensor dyc = dyt.narrow(0, b0, nb), dxc = dxt.narrow(0, b0, nb);
    in_some_layout(part, op, [&](Layout layout) { backward(part, xc, yc, dyc, dxc, layout, op); });
  }
}

}  // namespace parity::cuda
