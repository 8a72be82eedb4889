// CPU 2-D max and average pooling (parity/tensor/pool.h), float32 and float64, both
// layouts, strides, asymmetric padding, count_include_pad.
//
// Each window is walked in row-major order over its elements inside the image
// (padding is skipped: -infinity for max, nothing added for average).
// Max keeps the first maximum: Note [Max-pool ties]. A NaN wins over any
// number and the first NaN is kept (PyTorch propagates NaN the same way), so
// the forward value is NaN and the gradient goes to that NaN.
//
// The backward recomputes each window's argmax from x with the forward's own
// comparison (so it routes dy exactly where the forward took its value; y is
// not read), then adds dy there. Work is split over (image, channel block):
// each task owns its dx elements and visits output pixels in row-major order,
// so every dx element sums its contributions in the same order whatever the
// thread count: no atomics, bitwise reproducible.
//
// Channels are the innermost loop: NHWC takes blocks of kChannelBlock
// contiguous channels; NCHW one channel (one plane) per block.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/index_range.h"
#include "parity/cpu/parallel.h"
#include "parity/tensor/error.h"

namespace parity::cpu {

namespace {

using i64 = std::int64_t;

constexpr i64 kChannelBlock = 64;
constexpr i64 kWorkGrain = 1 << 16;  // element visits per parallel_for chunk

// Tasks per parallel_for chunk when each costs `work`: small problems run inline.
inline i64 grain_for(i64 work) { return std::max<i64>(1, kWorkGrain / std::max<i64>(1, work)); }

struct PoolGeometry {
  i64 n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oh, ow;
  bool nhwc;
  i64 pixel_stride, channel_stride, image, block;  // element strides; channels per block

  explicit PoolGeometry(const Pool2dArgs& a) {
    const Window2d& g = a.win;
    n = g.batch, c = g.channels, h = g.in_h, w = g.in_w, kh = g.window_h, kw = g.window_w;
    sh = g.stride_h, sw = g.stride_w, dh = g.dilation_h, dw = g.dilation_w;
    pt = g.pad_top, pb = g.pad_bottom, pl = g.pad_left, pr = g.pad_right, oh = g.out_h, ow = g.out_w;
    nhwc = g.layout == Layout::NHWC;
    pixel_stride = nhwc ? c : 1;
    channel_stride = nhwc ? 1 : h * w;
    image = c * h * w;
    block = nhwc ? kChannelBlock : 1;
  }
  i64 blocks() const { return (c + block - 1) / block; }
  i64 out_image() const { return c * oh * ow; }
  i64 out_pixel_stride() const { return nhwc ? c : 1; }
  i64 out_channel_stride() const { return nhwc ? 1 : oh * ow; }
};

// Window of output pixel (y, x): the offsets inside the image, and the
// divisor of average pooling.
struct Window {
  IndexRange p, q;
  i64 ih0, iw0;  // input position of offset (0, 0)
  i64 divisor;
};

inline Window window_at(const PoolGeometry& g, i64 y, i64 x, bool count_include_pad) {
  Window win;
  win.ih0 = y * g.sh - g.pt;
  win.iw0 = x * g.sw - g.pl;
  win.p = steps_inside(win.ih0, g.dh, g.h, g.kh);
  win.q = steps_inside(win.iw0, g.dw, g.w, g.kw);
  if (count_include_pad) {  // positions inside the padded image
    const IndexRange pp = steps_inside(win.ih0 + g.pt, g.dh, g.h + g.pt + g.pb, g.kh);
    const IndexRange qq = steps_inside(win.iw0 + g.pl, g.dw, g.w + g.pl + g.pr, g.kw);
    win.divisor = (pp.hi - pp.lo) * (qq.hi - qq.lo);
  } else {
    win.divisor = (win.p.hi - win.p.lo) * (win.q.hi - win.q.lo);
  }
  return win;
}

// v replaces best: a greater value, or the first NaN.
template <typename T>
inline bool takes_max(T v, T best) {
  return v > best || (v != v && best == best);  // v != v: NaN (a form the compiler vectorizes)
}

// Visits the window's elements inside the image in row-major order: fn(pixel index ih * w + iw, is_first).
template <typename Fn>
inline void for_each_element(const PoolGeometry& g, const Window& win, Fn&& fn) {
  bool first = true;
  for (i64 p = win.p.lo; p < win.p.hi; ++p) {
    const i64 ih = win.ih0 + p * g.dh;
    for (i64 q = win.q.lo; q < win.q.hi; ++q) {
      fn(ih * g.w + win.iw0 + q * g.dw, first);
      first = false;
    }
  }
}

template <typename T, bool kNhwc>
void forward(const Pool2dArgs& args, const T* x, T* y) {
  const PoolGeometry g(args);
  const i64 ps = g.pixel_stride, cs = kNhwc ? 1 : g.channel_stride;
  const i64 ops = g.out_pixel_stride(), ocs = kNhwc ? 1 : g.out_channel_stride();
  const bool is_max = args.kind == PoolKind::Max;
  const i64 blocks = g.blocks();
  // Tasks: (image, channel block, output row).
  parallel_for(g.n * blocks * g.oh, grain_for(g.ow * g.kh * g.kw * g.block), [&](i64 b, i64 e) {
    T acc[kChannelBlock];
    for (i64 t = b; t < e; ++t) {
      const i64 oy = t % g.oh, blk = (t / g.oh) % blocks, n = t / (g.oh * blocks);
      const i64 c0 = blk * g.block, nc = std::min(g.block, g.c - c0);
      const T* xs = x + n * g.image + c0 * cs;
      T* ys = y + n * g.out_image() + c0 * ocs + oy * g.ow * ops;
      for (i64 ox = 0; ox < g.ow; ++ox) {
        const Window win = window_at(g, oy, ox, args.count_include_pad);
        if (is_max) {
          for (i64 j = 0; j < nc; ++j) acc[j] = -std::numeric_limits<T>::infinity();
          for_each_element(g, win, [&](i64 pix, bool first) {
            const T* src = xs + pix * ps;
            if (first) {
              for (i64 j = 0; j < nc; ++j) acc[j] = src[j * cs];
            } else {
              for (i64 j = 0; j < nc; ++j) acc[j] = takes_max(src[j * cs], acc[j]) ? src[j * cs] : acc[j];
            }
          });
          for (i64 j = 0; j < nc; ++j) ys[ox * ops + j * ocs] = acc[j];
        } else {
          for (i64 j = 0; j < nc; ++j) acc[j] = T(0);
          for_each_element(g, win, [&](i64 pix, bool) {
            const T* src = xs + pix * ps;
            for (i64 j = 0; j < nc; ++j) acc[j] += src[j * cs];
          });
          const T d = static_cast<T>(win.divisor);
          for (i64 j = 0; j < nc; ++j) ys[ox * ops + j * ocs] = win.divisor > 0 ? acc[j] / d : T(0);
        }
      }
    }
  });
}

// Index: the type of a pixel's index inside one image (int32 where it fits:
// a select of 32-bit lanes vectorizes beside float's).
template <typename T, bool kNhwc, typename Index>
void backward(const Pool2dArgs& args, const T* x, const T* dy, T* dx) {
  const PoolGeometry g(args);
  const i64 ps = g.pixel_stride, cs = kNhwc ? 1 : g.channel_stride;
  const i64 ops = g.out_pixel_stride(), ocs = kNhwc ? 1 : g.out_channel_stride();
  const bool is_max = args.kind == PoolKind::Max;
  const i64 blocks = g.blocks();
  // Tasks: (image, channel block); each owns its dx elements.
  parallel_for(g.n * blocks, grain_for((g.oh * g.ow * g.kh * g.kw + g.h * g.w) * g.block), [&](i64 b, i64 e) {
    T best[kChannelBlock];
    Index where[kChannelBlock];
    for (i64 t = b; t < e; ++t) {
      const i64 blk = t % blocks, n = t / blocks;
      const i64 c0 = blk * g.block, nc = std::min(g.block, g.c - c0);
      const T* xs = x == nullptr ? nullptr : x + n * g.image + c0 * cs;
      T* dxs = dx + n * g.image + c0 * cs;
      const T* dys = dy + n * g.out_image() + c0 * ocs;
      for (i64 p = 0; p < g.h * g.w; ++p)
        for (i64 j = 0; j < nc; ++j) dxs[p * ps + j * cs] = T(0);
      for (i64 oy = 0; oy < g.oh; ++oy) {
        for (i64 ox = 0; ox < g.ow; ++ox) {
          const Window win = window_at(g, oy, ox, args.count_include_pad);
          const T* grad = dys + (oy * g.ow + ox) * ops;
          if (is_max) {
            // The forward's comparison, as selects without branches (they vectorize;
            // a branch on random data mispredicts half the time): 10x faster.
            bool any = false;
            for_each_element(g, win, [&](i64 pix, bool first) {
              const T* src = xs + pix * ps;
              const Index at = static_cast<Index>(pix);
              if (first) {
                for (i64 j = 0; j < nc; ++j) best[j] = src[j * cs], where[j] = at;
                any = true;
                return;
              }
              for (i64 j = 0; j < nc; ++j) {
                const T v = src[j * cs];
                const bool takes = takes_max(v, best[j]);
                best[j] = takes ? v : best[j];
                where[j] = takes ? at : where[j];
              }
            });
            if (any) {
              for (i64 j = 0; j < nc; ++j) dxs[where[j] * ps + j * cs] += grad[j * ocs];
            }
          } else {
            if (win.divisor == 0) continue;
            const T d = static_cast<T>(win.divisor);
            for (i64 j = 0; j < nc; ++j) best[j] = grad[j * ocs] / d;
            for_each_element(g, win, [&](i64 pix, bool) {
              T* dst = dxs + pix * ps;
              for (i64 j = 0; j < nc; ++j) dst[j * cs] += best[j];
            });
          }
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::pool2d_forward(const Pool2dArgs& args, const void* x, void* y) {
  dispatch_floating(args.dtype, "pool2d", [&]<typename T>() {
    if (args.win.layout == Layout::NHWC)
      forward<T, true>(args, static_cast<const T*>(x), static_cast<T*>(y));
    else
      forward<T, false>(args, static_cast<const T*>(x), static_cast<T*>(y));
  });
}

void CpuBackend::pool2d_backward(const Pool2dArgs& args, const void* x, const void*, const void* dy,
                                 void* dx) {
  PARITY_INTERNAL_ASSERT(args.kind != PoolKind::Max || x != nullptr,
                         "pool2d_backward: max pooling needs the forward's input");
  dispatch_floating(args.dtype, "pool2d_backward", [&]<typename T>() {
    const auto* xs = static_cast<const T*>(x);
    const auto* dys = static_cast<const T*>(dy);
    auto* dxs = static_cast<T*>(dx);
    const bool narrow = sizeof(T) == 4 && args.win.in_h * args.win.in_w <= std::numeric_limits<std::int32_t>::max();
    auto run = [&]<typename Index>() {
      if (args.win.layout == Layout::NHWC) backward<T, true, Index>(args, xs, dys, dxs);
      else backward<T, false, Index>(args, xs, dys, dxs);
    };
    if (narrow) run.template operator()<std::int32_t>();
    else run.template operator()<i64>();
  });
}

}  // namespace parity::cpu
