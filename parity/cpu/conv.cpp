// CPU 2-D convolution (parity/tensor/conv.h): im2col + GEMM through CBLAS (OpenBLAS),
// float32 and float64, both image layouts, both kernel layouts, both modes.
//
// The kernel is first copied into a canonical order whose columns match the
// column matrix im2col builds (flipped spatially for ConvMode::Convolution):
//   NHWC: Wc [K, cout], K = (p, q, c) (HWIO order). A chunk of output pixels
//         gives cols [rows, K], row = (n, oh, ow); y[rows, cout] = cols @ Wc.
//   NCHW: Wc [cout, K], K = (c, p, q) (OIHW order). Per image, a chunk of
//         output pixels gives cols [K, pixels]; y[n][cout, pixels] = Wc @ cols.
// When the user's kernel already is in that order (HWIO with NHWC, OIHW with
// NCHW, cross-correlation) it is used in place. A 1x1 kernel at stride 1
// without padding needs no im2col: the input is its own column matrix.
//
// Note [Conv column chunks]: the column buffer holds at most kColumnBudget
// bytes (the seed model's 2nd conv, 224x224x64 at batch 64, would otherwise
// need 36 GB), so a large batch is processed a chunk of output pixels at a
// time. Chunk sizes depend only on the shapes, never on the thread count, and
// every accumulation of ours runs in a fixed order, whatever the number of
// OpenMP threads:
// - forward: each output element is one GEMM dot product, then + bias (a
//   separate add, as TensorFlow's BiasAdd and cuDNN's add do).
// - backward input: dcols = dy @ Wc^T per chunk, then col2im as a gather: each
//   dx element adds, chunk after chunk, the column entries that read it in
//   (p, q) order. Threads split dx into disjoint rows: no atomics, no races.
// - backward weight: dWc = sum over chunks of cols^T @ dy, accumulated by the
//   GEMM (beta = 1 after the first chunk), then put back in the user's layout.
// - backward bias: sums of dy per channel in float64, over fixed blocks of
//   rows combined in index order.
// So the same inputs and settings give the same bits on every run. OpenBLAS
// itself does not promise more: measured with 0.3.21, sgemm's bits depend on
// its thread count (1 vs 2, and for some shapes 2 vs 3), so the GEMM-based
// results are repeatable at a fixed thread count only (matmul's too).
//
// Threads: the copy loops (im2col, col2im) run on OpenMP between GEMMs. With
// the pthread build of OpenBLAS the idle OpenMP workers' spin-wait competed
// with OpenBLAS's own threads (the seed's convs ran 1.4-2x slower); the build
// links the OpenMP build of OpenBLAS when present, so both share libgomp's
// pool (cmake/FindParityOpenBLAS.cmake).
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "parity/cpu/blas.h"
#include "parity/cpu/conv_onednn.h"
#include "parity/cpu/cpu_backend.h"
#include "parity/cpu/host_allocator.h"
#include "parity/cpu/index_range.h"
#include "parity/cpu/parallel.h"
#include "parity/cpu/tf32.h"
#include "parity/tensor/error.h"

namespace parity::cpu {

namespace {

using i64 = std::int64_t;

constexpr i64 kColumnBudget = i64{32} << 20;  // bytes of im2col columns per GEMM
constexpr i64 kBiasBlock = 1024;              // rows per partial sum of the bias gradient
constexpr i64 kCopyGrain = 1 << 15;           // elements per parallel_for chunk of copying work
constexpr i64 kWorkGrain = 1 << 16;           // additions per parallel_for chunk of col2im / bias work

// Items per parallel_for chunk when each item costs `work`: small problems run
// inline, without waking the thread pool. (Partitions only: no result depends on them.)
inline i64 grain_for(i64 work) { return std::max<i64>(1, kWorkGrain / std::max<i64>(1, work)); }

// C = A @ B (+ beta C), row-major; A [m, k] (stored [k, m] when ta), B [k, n] (stored [n, k] when tb).
template <typename T>
void gemm(bool ta, bool tb, i64 m, i64 n, i64 k, const T* a, i64 lda, const T* b, i64 ldb, T beta, T* c,
          i64 ldc) {
  if (m == 0 || n == 0) return;
  constexpr i64 kMax = std::numeric_limits<int>::max();  // CBLAS takes int sizes
  PARITY_CHECK(m <= kMax && n <= kMax && k <= kMax && lda <= kMax && ldb <= kMax && ldc <= kMax,
               "conv2d: a GEMM of ", m, "x", k, " by ", k, "x", n, " exceeds the BLAS's 32-bit sizes");
  const auto ota = ta ? CblasTrans : CblasNoTrans;
  const auto otb = tb ? CblasTrans : CblasNoTrans;
  // Leading dims must be at least 1 even where a dim is 0.
  lda = std::max<i64>(lda, 1);
  ldb = std::max<i64>(ldb, 1);
  detail::warn_once_if_generic_blas_kernels();
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ota, otb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ota, otb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  }
}

template <typename T>
void fill_zero(T* p, i64 n) {
  parallel_for(n, kCopyGrain,
               [&](i64 b, i64 e) { std::memset(p + b, 0, static_cast<std::size_t>(e - b) * sizeof(T)); });
}

// taps[i * k + t]: the output index whose window reads input index i at
// kernel offset t (o * stride + t * dilation - pad == i), or -1. col2im looks
// these up instead of dividing by the stride in its inner loop.
inline std::vector<i64> tap_table(i64 size, i64 k, i64 stride, i64 dilation, i64 pad, i64 out) {
  std::vector<i64> taps(static_cast<std::size_t>(size * k), -1);
  for (i64 i = 0; i < size; ++i)
    for (i64 t = 0; t < k; ++t) {
      const i64 y = i + pad - t * dilation;
      if (y >= 0 && y % stride == 0 && y / stride < out) taps[i * k + t] = y / stride;
    }
  return taps;
}

// Where kernel element (o, c, p, q) lives, (p, q) in canonical (already
// flipped) order: in the canonical buffer and in the user's kernel.
struct KernelMap {
  i64 cin, cout, kh, kw;
  bool nhwc, flip;
  KernelLayout user;

  explicit KernelMap(const Conv2dArgs& a)
      : cin(a.win.channels),
        cout(a.out_channels),
        kh(a.win.window_h),
        kw(a.win.window_w),
        nhwc(a.win.layout == Layout::NHWC),
        flip(a.mode == ConvMode::Convolution),
        user(a.kernel_layout) {}

  i64 size() const { return cout * cin * kh * kw; }
  bool identity() const { return !flip && user == (nhwc ? KernelLayout::HWIO : KernelLayout::OIHW); }
  i64 canonical(i64 o, i64 c, i64 p, i64 q) const {
    return nhwc ? ((p * kw + q) * cin + c) * cout + o : ((o * cin + c) * kh + p) * kw + q;
  }
  i64 user_index(i64 o, i64 c, i64 p, i64 q) const {
    if (flip) {
      p = kh - 1 - p;
      q = kw - 1 - q;
    }
    return user == KernelLayout::HWIO ? ((p * kw + q) * cin + c) * cout + o
                                      : ((o * cin + c) * kh + p) * kw + q;
  }
  // to_canonical: dst[canonical] = src[user]; else dst[user] = src[canonical].
  template <typename T>
  void permute(const T* src, T* dst, bool to_canonical) const {
    for (i64 o = 0; o < cout; ++o)
      for (i64 c = 0; c < cin; ++c)
        for (i64 p = 0; p < kh; ++p)
          for (i64 q = 0; q < kw; ++q) {
            const i64 ci = canonical(o, c, p, q), ui = user_index(o, c, p, q);
            if (to_canonical)
              dst[ci] = src[ui];
            else
              dst[ui] = src[ci];
          }
  }
};

// The kernel in canonical order: the user's buffer when it already is, else a copy.
template <typename T>
class CanonicalKernel {
 public:
  CanonicalKernel(const KernelMap& map, const T* w) : copy_(map.identity() ? 0 : map.size()) {
    if (map.identity()) {
      ptr_ = w;
    } else {
      map.permute(w, copy_.get(), true);
      ptr_ = copy_.get();
    }
  }
  const T* get() const { return ptr_; }

 private:
  HostScratch<T> copy_;
  const T* ptr_ = nullptr;
};

// The resolved sizes every routine below uses.
struct Geometry {
  i64 n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, co;
  i64 k;        // columns per output pixel: c * kh * kw
  i64 pixels;   // oh * ow
  bool direct;  // 1x1, stride 1, no padding: the input is its own column matrix

  explicit Geometry(const Conv2dArgs& a) {
    const Window2d& g = a.win;
    n = g.batch, c = g.channels, h = g.in_h, w = g.in_w, kh = g.window_h, kw = g.window_w;
    sh = g.stride_h, sw = g.stride_w, dh = g.dilation_h, dw = g.dilation_w, pt = g.pad_top, pl = g.pad_left;
    oh = g.out_h, ow = g.out_w, co = a.out_channels;
    k = c * kh * kw;
    pixels = oh * ow;
    direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && g.pad_top == 0 && g.pad_bottom == 0 &&
             g.pad_left == 0 && g.pad_right == 0 && oh == h && ow == w;
  }
  // Output pixels (NHWC rows, or NCHW pixels of one image) per chunk: Note [Conv column chunks].
  i64 chunk(i64 total, std::size_t esize) const {
    const i64 per = std::max<i64>(1, kColumnBudget / std::max<i64>(1, k * static_cast<i64>(esize)));
    return std::max<i64>(1, std::min(total, per));
  }
};

// ---- NHWC ----

// cols[r - r0, (p, q, c)] for output rows r in [r0, r1), r = (n, oh, ow).
template <typename T>
void im2col_nhwc(const Geometry& g, const T* x, i64 r0, i64 r1, T* cols) {
  const std::size_t cbytes = static_cast<std::size_t>(g.c) * sizeof(T);
  parallel_for(r1 - r0, std::max<i64>(1, kCopyGrain / std::max<i64>(1, g.k)), [&](i64 b, i64 e) {
    for (i64 r = r0 + b; r < r0 + e; ++r) {
      const i64 ow = r % g.ow, oh = (r / g.ow) % g.oh, n = r / g.pixels;
      T* dst = cols + (r - r0) * g.k;
      const IndexRange qs = steps_inside(ow * g.sw - g.pl, g.dw, g.w, g.kw);  // q with iw inside
      for (i64 p = 0; p < g.kh; ++p, dst += g.kw * g.c) {
        const i64 ih = oh * g.sh + p * g.dh - g.pt;
        if (ih < 0 || ih >= g.h) {
          std::memset(dst, 0, static_cast<std::size_t>(g.kw) * cbytes);
          continue;
        }
        const i64 row = (n * g.h + ih) * g.w, iw0 = ow * g.sw - g.pl;  // iw at q = 0 (may lie outside)
        std::memset(dst, 0, static_cast<std::size_t>(qs.lo) * cbytes);
        if (qs.lo == qs.hi) {
          // the whole kernel row lies in padding
        } else if (g.dw == 1) {
          std::memcpy(dst + qs.lo * g.c, x + (row + iw0 + qs.lo) * g.c,
                      static_cast<std::size_t>(qs.hi - qs.lo) * cbytes);
        } else {
          for (i64 q = qs.lo; q < qs.hi; ++q)
            std::memcpy(dst + q * g.c, x + (row + iw0 + q * g.dw) * g.c, cbytes);
        }
        std::memset(dst + qs.hi * g.c, 0, static_cast<std::size_t>(g.kw - qs.hi) * cbytes);
      }
    }
  });
}

// dx[n, ih, iw, c] += dcols[r - r0, (p, q, c)] over every (p, q) whose output
// row r = (n, oh, ow) lies in [r0, r1), in (p, q) order. Parallel over dx rows (n, ih).
template <typename T>
void col2im_nhwc(const Geometry& g, const T* dcols, i64 r0, i64 r1, T* dx) {
  const i64 n0 = r0 / g.pixels, oh0 = (r0 / g.ow) % g.oh;
  const i64 n1 = (r1 - 1) / g.pixels, oh1 = ((r1 - 1) / g.ow) % g.oh;
  const i64 first = n0 * g.h + std::max<i64>(0, oh0 * g.sh - g.pt);
  const i64 last = n1 * g.h + std::min(g.h - 1, oh1 * g.sh - g.pt + (g.kh - 1) * g.dh);
  const std::vector<i64> rows = tap_table(g.h, g.kh, g.sh, g.dh, g.pt, g.oh);
  const std::vector<i64> cols = tap_table(g.w, g.kw, g.sw, g.dw, g.pl, g.ow);
  parallel_for(last - first + 1, grain_for(g.w * g.kh * g.kw * g.c), [&](i64 b, i64 e) {
    for (i64 row = first + b; row < first + e; ++row) {
      const i64 n = row / g.h, ih = row % g.h;
      for (i64 iw = 0; iw < g.w; ++iw) {
        T* dst = dx + (row * g.w + iw) * g.c;
        for (i64 p = 0; p < g.kh; ++p) {
          const i64 oh = rows[ih * g.kh + p];
          if (oh < 0) continue;
          const i64 base = (n * g.oh + oh) * g.ow;
          for (i64 q = 0; q < g.kw; ++q) {
            const i64 ow = cols[iw * g.kw + q];
            if (ow < 0 || base + ow < r0 || base + ow >= r1) continue;
            const T* src = dcols + (base + ow - r0) * g.k + (p * g.kw + q) * g.c;
            for (i64 c = 0; c < g.c; ++c) dst[c] += src[c];
          }
        }
      }
    }
  });
}

// y[r, o] += bias[o], serially: run right after each chunk's GEMM, while its
// rows are in cache, without a parallel region between two GEMMs.
template <typename T>
void add_bias_rows(T* y, i64 rows, i64 co, const T* bias) {
  for (i64 r = 0; r < rows; ++r)
    for (i64 o = 0; o < co; ++o) y[r * co + o] += bias[o];
}

template <typename T>
void forward_nhwc(const Geometry& g, const T* x, const T* wc, const T* bias, T* y) {
  const i64 rows = g.n * g.pixels;
  if (g.direct) {
    gemm<T>(false, false, rows, g.co, g.k, x, g.k, wc, g.co, T(0), y, g.co);
    if (bias != nullptr) add_bias_rows(y, rows, g.co, bias);
    return;
  }
  const i64 chunk = g.chunk(rows, sizeof(T));
  HostScratch<T> cols(chunk * g.k);
  for (i64 r0 = 0; r0 < rows; r0 += chunk) {
    const i64 r1 = std::min(rows, r0 + chunk);
    im2col_nhwc(g, x, r0, r1, cols.get());
    gemm<T>(false, false, r1 - r0, g.co, g.k, cols.get(), g.k, wc, g.co, T(0), y + r0 * g.co, g.co);
    if (bias != nullptr) add_bias_rows(y + r0 * g.co, r1 - r0, g.co, bias);
  }
}

template <typename T>
void backward_input_nhwc(const Geometry& g, const T* dy, const T* wc, T* dx) {
  const i64 rows = g.n * g.pixels;
  if (g.direct) {  // dx = dy @ Wc^T, every element written once
    if (g.co == 0)
      fill_zero(dx, rows * g.k);
    else
      gemm<T>(false, true, rows, g.k, g.co, dy, g.co, wc, g.co, T(0), dx, g.k);
    return;
  }
  fill_zero(dx, g.n * g.h * g.w * g.c);
  if (rows == 0 || g.co == 0) return;
  const i64 chunk = g.chunk(rows, sizeof(T));
  HostScratch<T> dcols(chunk * g.k);
  for (i64 r0 = 0; r0 < rows; r0 += chunk) {
    const i64 r1 = std::min(rows, r0 + chunk);
    gemm<T>(false, true, r1 - r0, g.k, g.co, dy + r0 * g.co, g.co, wc, g.co, T(0), dcols.get(), g.k);
    col2im_nhwc(g, dcols.get(), r0, r1, dx);
  }
}

// dwc [K, cout] = cols^T @ dy.
template <typename T>
void backward_weight_nhwc(const Geometry& g, const T* x, const T* dy, T* dwc) {
  const i64 rows = g.n * g.pixels;
  if (rows == 0) {
    fill_zero(dwc, g.k * g.co);
    return;
  }
  if (g.direct) {
    gemm<T>(true, false, g.k, g.co, rows, x, g.k, dy, g.co, T(0), dwc, g.co);
    return;
  }
  const i64 chunk = g.chunk(rows, sizeof(T));
  HostScratch<T> cols(chunk * g.k);
  for (i64 r0 = 0; r0 < rows; r0 += chunk) {
    const i64 r1 = std::min(rows, r0 + chunk);
    im2col_nhwc(g, x, r0, r1, cols.get());
    gemm<T>(true, false, g.k, g.co, r1 - r0, cols.get(), g.k, dy + r0 * g.co, g.co, T(r0 == 0 ? 0 : 1), dwc,
            g.co);
  }
}

// ---- NCHW ----

// cols[(c, p, q), s - s0] for the output pixels s in [s0, s1) of one image.
template <typename T>
void im2col_nchw(const Geometry& g, const T* x, i64 s0, i64 s1, T* cols) {
  const i64 width = s1 - s0;
  const i64 per_row = std::max<i64>(1, kCopyGrain / std::max<i64>(1, width));
  parallel_for(g.k, per_row, [&](i64 b, i64 e) {
    for (i64 kk = b; kk < e; ++kk) {
      const i64 q = kk % g.kw, p = (kk / g.kw) % g.kh, c = kk / (g.kh * g.kw);
      const T* plane = x + c * g.h * g.w;
      T* dst = cols + kk * width;  // dst[s - s0]: pixel s
      const IndexRange ows = steps_inside(q * g.dw - g.pl, g.sw, g.w, g.ow);
      for (i64 oh = s0 / g.ow; oh * g.ow < s1; ++oh) {
        const i64 a = std::max(s0, oh * g.ow),
                  z = std::min(s1, (oh + 1) * g.ow);  // pixels of this output row
        const i64 ih = oh * g.sh + p * g.dh - g.pt;
        if (ih < 0 || ih >= g.h) {
          for (i64 s = a; s < z; ++s) dst[s - s0] = T(0);
          continue;
        }
        const i64 base = oh * g.ow;
        const i64 lo = std::clamp(base + ows.lo, a, z), hi = std::clamp(base + ows.hi, lo, z);
        for (i64 s = a; s < lo; ++s) dst[s - s0] = T(0);
        if (lo < hi) {
          // Pixel s reads input column (s - base) * sw + q * dw - pl, inside for s in [lo, hi).
          const T* src = plane + ih * g.w + ((lo - base) * g.sw + q * g.dw - g.pl);
          T* out = dst + (lo - s0);
          if (g.sw == 1) {
            for (i64 i = 0; i < hi - lo; ++i) out[i] = src[i];
          } else {
            for (i64 i = 0; i < hi - lo; ++i) out[i] = src[i * g.sw];
          }
        }
        for (i64 s = hi; s < z; ++s) dst[s - s0] = T(0);
      }
    }
  });
}

// dx[c, ih, iw] += dcols[(c, p, q), s - s0] of one image, over (p, q) in order,
// for output pixels s = (oh, ow) in [s0, s1). Parallel over dx rows (c, ih).
template <typename T>
void col2im_nchw(const Geometry& g, const T* dcols, i64 s0, i64 s1, T* dx) {
  const i64 width = s1 - s0;
  const i64 oh0 = s0 / g.ow, oh1 = (s1 - 1) / g.ow;
  const i64 ih_lo = std::max<i64>(0, oh0 * g.sh - g.pt);
  const i64 ih_hi = std::min(g.h - 1, oh1 * g.sh - g.pt + (g.kh - 1) * g.dh);
  if (ih_hi < ih_lo) return;
  const i64 span = ih_hi - ih_lo + 1;
  const std::vector<i64> rows = tap_table(g.h, g.kh, g.sh, g.dh, g.pt, g.oh);
  const std::vector<i64> cols = tap_table(g.w, g.kw, g.sw, g.dw, g.pl, g.ow);
  parallel_for(g.c * span, grain_for(g.w * g.kh * g.kw), [&](i64 b, i64 e) {
    for (i64 t = b; t < e; ++t) {
      const i64 c = t / span, ih = ih_lo + t % span;
      T* dst = dx + (c * g.h + ih) * g.w;
      for (i64 iw = 0; iw < g.w; ++iw) {
        T acc = dst[iw];
        for (i64 p = 0; p < g.kh; ++p) {
          const i64 oh = rows[ih * g.kh + p];
          if (oh < 0) continue;
          for (i64 q = 0; q < g.kw; ++q) {
            const i64 ow = cols[iw * g.kw + q], s = oh * g.ow + ow;
            if (ow < 0 || s < s0 || s >= s1) continue;
            acc += dcols[((c * g.kh + p) * g.kw + q) * width + (s - s0)];
          }
        }
        dst[iw] = acc;
      }
    }
  });
}

// fn(s0, s1, b, ldb) for each chunk [s0, s1) of image xn's pixels, b being
// that chunk's [K, s1 - s0] column block with leading dimension ldb (xn
// itself when the geometry needs no im2col).
template <typename T, typename Fn>
void for_each_column_block_nchw(const Geometry& g, const T* xn, i64 chunk, T* cols, Fn&& fn) {
  for (i64 s0 = 0; s0 < g.pixels; s0 += chunk) {
    const i64 s1 = std::min(g.pixels, s0 + chunk);
    if (g.direct) {
      fn(s0, s1, xn + s0, g.pixels);
    } else {
      im2col_nchw(g, xn, s0, s1, cols);
      fn(s0, s1, static_cast<const T*>(cols), s1 - s0);
    }
  }
}

template <typename T>
void forward_nchw(const Geometry& g, const T* x, const T* wc, const T* bias, T* y) {
  const i64 chunk = g.direct ? g.pixels : g.chunk(g.pixels, sizeof(T));
  HostScratch<T> cols(g.direct ? 0 : chunk * g.k);
  for (i64 n = 0; n < g.n; ++n) {
    T* yn = y + n * g.co * g.pixels;
    for_each_column_block_nchw(
        g, x + n * g.c * g.h * g.w, chunk, cols.get(), [&](i64 s0, i64 s1, const T* b, i64 ldb) {
          gemm<T>(false, false, g.co, s1 - s0, g.k, wc, g.k, b, ldb, T(0), yn + s0, g.pixels);
          if (bias != nullptr) {
            for (i64 o = 0; o < g.co; ++o)
              for (i64 s = s0; s < s1; ++s) yn[o * g.pixels + s] += bias[o];
          }
        });
  }
}

template <typename T>
void backward_input_nchw(const Geometry& g, const T* dy, const T* wc, T* dx) {
  const i64 image = g.c * g.h * g.w;
  if (g.direct && g.co > 0) {  // dx[n] = Wc^T @ dy[n], every element written once
    for (i64 n = 0; n < g.n; ++n)
      gemm<T>(true, false, g.k, g.pixels, g.co, wc, g.k, dy + n * g.co * g.pixels, g.pixels, T(0),
              dx + n * image, g.pixels);
    return;
  }
  fill_zero(dx, g.n * image);
  if (g.pixels == 0 || g.co == 0) return;
  const i64 chunk = g.chunk(g.pixels, sizeof(T));
  HostScratch<T> dcols(chunk * g.k);
  for (i64 n = 0; n < g.n; ++n) {
    for (i64 s0 = 0; s0 < g.pixels; s0 += chunk) {
      const i64 s1 = std::min(g.pixels, s0 + chunk), width = s1 - s0;
      gemm<T>(true, false, g.k, width, g.co, wc, g.k, dy + n * g.co * g.pixels + s0, g.pixels, T(0),
              dcols.get(), width);
      col2im_nchw(g, dcols.get(), s0, s1, dx + n * image);
    }
  }
}

// dwc [cout, K] = sum over images of dy[n] @ cols^T.
template <typename T>
void backward_weight_nchw(const Geometry& g, const T* x, const T* dy, T* dwc) {
  if (g.n == 0 || g.pixels == 0) {
    fill_zero(dwc, g.k * g.co);
    return;
  }
  const i64 chunk = g.direct ? g.pixels : g.chunk(g.pixels, sizeof(T));
  HostScratch<T> cols(g.direct ? 0 : chunk * g.k);
  bool first = true;
  for (i64 n = 0; n < g.n; ++n) {
    for_each_column_block_nchw(g, x + n * g.c * g.h * g.w, chunk, cols.get(),
                               [&](i64 s0, i64 s1, const T* b, i64 ldb) {
                                 gemm<T>(false, true, g.co, g.k, s1 - s0, dy + n * g.co * g.pixels + s0,
                                         g.pixels, b, ldb, T(first ? 0 : 1), dwc, g.k);
                                 first = false;
                               });
  }
}

// ---- bias gradient ----

// dbias[o] = sum of dy over (n, oh, ow): float64 partial sums over fixed blocks
// (NHWC: kBiasBlock rows; NCHW: one image's plane), added in index order.
template <typename T>
void backward_bias(const Geometry& g, bool nhwc, const T* dy, T* dbias) {
  const i64 co = g.co;
  if (nhwc) {
    const i64 rows = g.n * g.pixels, blocks = (rows + kBiasBlock - 1) / kBiasBlock;
    std::vector<double> partial(static_cast<std::size_t>(blocks * co), 0.0);
    parallel_for(blocks, grain_for(kBiasBlock * co), [&](i64 b, i64 e) {
      for (i64 blk = b; blk < e; ++blk) {
        double* acc = partial.data() + blk * co;
        for (i64 r = blk * kBiasBlock; r < std::min(rows, (blk + 1) * kBiasBlock); ++r)
          for (i64 o = 0; o < co; ++o) acc[o] += static_cast<double>(dy[r * co + o]);
      }
    });
    for (i64 o = 0; o < co; ++o) {
      double s = 0;
      for (i64 blk = 0; blk < blocks; ++blk) s += partial[blk * co + o];
      dbias[o] = static_cast<T>(s);
    }
  } else {
    std::vector<double> partial(static_cast<std::size_t>(g.n * co), 0.0);
    parallel_for(g.n * co, grain_for(g.pixels), [&](i64 b, i64 e) {
      for (i64 t = b; t < e; ++t) {
        const T* plane = dy + t * g.pixels;
        double s = 0;
        for (i64 i = 0; i < g.pixels; ++i) s += static_cast<double>(plane[i]);
        partial[t] = s;
      }
    });
    for (i64 o = 0; o < co; ++o) {
      double s = 0;
      for (i64 n = 0; n < g.n; ++n) s += partial[n * co + o];
      dbias[o] = static_cast<T>(s);
    }
  }
}

// oneDNN computes this call (Note [oneDNN convolution]); an empty one stays here.
bool on_onednn(const Conv2dArgs& a) {
#if PARITY_WITH_ONEDNN
  const Window2d& g = a.win;
  return a.cpu_algorithm == CpuConvAlgorithm::OneDnn && a.dtype == kFloat32 && g.batch > 0 && g.out_h > 0 &&
         g.out_w > 0;
#else
  (void)a;
  return false;
#endif
}

template <typename T>
void add_bias(const Conv2dArgs& a, const T* bias, T* y) {
  const Geometry g(a);
  if (a.win.layout == Layout::NHWC) {
    parallel_for(g.n * g.pixels, grain_for(g.co), [&](i64 b, i64 e) {
      for (i64 r = b; r < e; ++r)
        for (i64 o = 0; o < g.co; ++o) y[r * g.co + o] += bias[o];
    });
  } else {
    parallel_for(g.n * g.co, grain_for(g.pixels), [&](i64 b, i64 e) {
      for (i64 t = b; t < e; ++t) {
        const T bo = bias[t % g.co];
        for (i64 s = 0; s < g.pixels; ++s) y[t * g.pixels + s] += bo;
      }
    });
  }
}

}  // namespace

namespace {

// Element counts of the dense buffers a convolution reads.
std::int64_t image_elements(const Conv2dArgs& a) { return a.win.batch * a.win.channels * a.win.in_h * a.win.in_w; }
std::int64_t output_elements(const Conv2dArgs& a) { return a.win.batch * a.out_channels * a.win.out_h * a.win.out_w; }
std::int64_t kernel_elements(const Conv2dArgs& a) {
  return a.win.window_h * a.win.window_w * a.win.channels * a.out_channels;
}

// Under MathMode::TF32 a float32 convolution runs on TF32-rounded copies of its
// two operands (Note [TF32 on the CPU]).
bool rounds_to_tf32(const Conv2dArgs& a) { return a.dtype == kFloat32 && a.math_mode == MathMode::TF32; }
Conv2dArgs strict(Conv2dArgs a) {
  a.math_mode = MathMode::StrictFP32;
  return a;
}
const float* f32(const void* p) { return static_cast<const float*>(p); }

// Runs `call` on TF32-rounded copies of a call's two operands (a of a_count
// elements, b of b_count) when args asks for TF32; false when it does not.
template <class Call>
bool ran_on_tf32_copies(const Conv2dArgs& args, const void* a, std::int64_t a_count, const void* b,
                        std::int64_t b_count, Call call) {
  if (!rounds_to_tf32(args)) return false;
  const Tf32Copy a32(f32(a), a_count), b32(f32(b), b_count);
  call(strict(args), a32.get(), b32.get());
  return true;
}

}  // namespace

void CpuBackend::conv2d_forward(const Conv2dArgs& args, const void* x, const void* w, const void* bias,
                                void* y) {
  if (ran_on_tf32_copies(args, x, image_elements(args), w, kernel_elements(args),
                         [&](const Conv2dArgs& a, const float* x32, const float* w32) {
                           conv2d_forward(a, x32, w32, bias, y);
                         }))
    return;
#if PARITY_WITH_ONEDNN
  if (on_onednn(args)) {
    onednn::conv2d_forward(args, f32(x), f32(w), static_cast<float*>(y));
    if (bias != nullptr) add_bias(args, static_cast<const float*>(bias), static_cast<float*>(y));
    return;
  }
#endif
  dispatch_floating(args.dtype, "conv2d", [&]<typename T>() {
    const Geometry g(args);
    const KernelMap map(args);
    const CanonicalKernel<T> wc(map, static_cast<const T*>(w));
    const auto* xs = static_cast<const T*>(x);
    const auto* bs = static_cast<const T*>(bias);
    auto* ys = static_cast<T*>(y);
    if (args.win.layout == Layout::NHWC)
      forward_nhwc(g, xs, wc.get(), bs, ys);
    else
      forward_nchw(g, xs, wc.get(), bs, ys);
  });
}

void CpuBackend::conv2d_backward_input(const Conv2dArgs& args, const void* dy, const void* w, void* dx) {
  if (ran_on_tf32_copies(args, dy, output_elements(args), w, kernel_elements(args),
                         [&](const Conv2dArgs& a, const float* dy32, const float* w32) {
                           conv2d_backward_input(a, dy32, w32, dx);
                         }))
    return;
#if PARITY_WITH_ONEDNN
  if (on_onednn(args)) {
    onednn::conv2d_backward_input(args, f32(dy), f32(w), static_cast<float*>(dx));
    return;
  }
#endif
  dispatch_floating(args.dtype, "conv2d_backward_input", [&]<typename T>() {
    const Geometry g(args);
    const KernelMap map(args);
    const CanonicalKernel<T> wc(map, static_cast<const T*>(w));
    const auto* dys = static_cast<const T*>(dy);
    auto* dxs = static_cast<T*>(dx);
    if (args.win.layout == Layout::NHWC)
      backward_input_nhwc(g, dys, wc.get(), dxs);
    else
      backward_input_nchw(g, dys, wc.get(), dxs);
  });
}

void CpuBackend::conv2d_backward_weight(const Conv2dArgs& args, const void* x, const void* dy, void* dw) {
  if (ran_on_tf32_copies(args, x, image_elements(args), dy, output_elements(args),
                         [&](const Conv2dArgs& a, const float* x32, const float* dy32) {
                           conv2d_backward_weight(a, x32, dy32, dw);
                         }))
    return;
#if PARITY_WITH_ONEDNN
  if (on_onednn(args)) {
    onednn::conv2d_backward_weight(args, f32(x), f32(dy), static_cast<float*>(dw));
    return;
  }
#endif
  dispatch_floating(args.dtype, "conv2d_backward_weight", [&]<typename T>() {
    const Geometry g(args);
    const KernelMap map(args);
    HostScratch<T> copy(map.identity() ? 0 : map.size());
    T* dwc = map.identity() ? static_cast<T*>(dw) : copy.get();
    const auto* xs = static_cast<const T*>(x);
    const auto* dys = static_cast<const T*>(dy);
    if (args.win.layout == Layout::NHWC)
      backward_weight_nhwc(g, xs, dys, dwc);
    else
      backward_weight_nchw(g, xs, dys, dwc);
    if (!map.identity()) map.permute(dwc, static_cast<T*>(dw), false);
  });
}

void CpuBackend::conv2d_backward_bias(const Conv2dArgs& args, const void* dy, void* dbias) {
  dispatch_floating(args.dtype, "conv2d_backward_bias", [&]<typename T>() {
    backward_bias(Geometry(args), args.win.layout == Layout::NHWC, static_cast<const T*>(dy),
                  static_cast<T*>(dbias));
  });
}

}  // namespace parity::cpu
