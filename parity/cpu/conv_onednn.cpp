// oneDNN convolution: Note [oneDNN convolution] in parity/cpu/conv_onednn.h.
#include "parity/cpu/conv_onednn.h"

#include <dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "parity/cpu/host_allocator.h"
#include "parity/cpu/parallel.h"
#include "parity/tensor/error.h"

namespace parity::cpu::onednn {

namespace {

using dnnl::memory;
using i64 = std::int64_t;
using tag = memory::format_tag;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

enum class Direction { Forward, BackwardInput, BackwardWeight };

// Everything a primitive depends on.
using Key = std::tuple<int, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, int, int>;

Key key_of(Direction d, const Conv2dArgs& a) {
  const Window2d& g = a.win;
  return {static_cast<int>(d), g.batch,     g.channels,   g.in_h,     g.in_w,      a.out_channels,
          g.window_h,          g.window_w,  g.stride_h,   g.stride_w, g.dilation_h, g.dilation_w,
          g.pad_top,           g.pad_bottom, g.pad_left,  g.pad_right, static_cast<int>(g.layout),
          static_cast<int>(a.kernel_layout)};
}

struct Descs {
  memory::dims src, weights, dst, strides, dilates, pad_l, pad_r;
  memory::desc user_src, user_weights, user_dst;
};

Descs descs_of(const Conv2dArgs& a) {
  const Window2d& g = a.win;
  Descs d;
  d.src = {g.batch, g.channels, g.in_h, g.in_w};
  d.weights = {a.out_channels, g.channels, g.window_h, g.window_w};
  d.dst = {g.batch, a.out_channels, g.out_h, g.out_w};
  d.strides = {g.stride_h, g.stride_w};
  d.dilates = {g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts the gaps
  d.pad_l = {g.pad_top, g.pad_left};
  d.pad_r = {g.pad_bottom, g.pad_right};
  const tag image = g.layout == Layout::NHWC ? tag::nhwc : tag::nchw;
  const tag kernel = a.kernel_layout == KernelLayout::HWIO ? tag::hwio : tag::oihw;
  d.user_src = memory::desc(d.src, memory::data_type::f32, image);
  d.user_weights = memory::desc(d.weights, memory::data_type::f32, kernel);
  d.user_dst = memory::desc(d.dst, memory::data_type::f32, image);
  return d;
}

memory::desc any(const memory::dims& dims) { return memory::desc(dims, memory::data_type::f32, tag::any); }

// A cached primitive and the layouts it runs on.
struct Plan {
  dnnl::primitive primitive;
  memory::desc src, weights, dst;  // as the primitive wants them (diff_* for the backward ones)
  memory::desc scratchpad;
  std::string impl;
  Descs user;  // the user's layouts of the same operands
};

// Whether the activations stay in the user's layout for this direction (else
// oneDNN picks its blocked layout and they are reordered): Note [oneDNN convolution].
bool keeps_user_activations(Direction dir, const Conv2dArgs& a) {
  return a.win.layout == Layout::NHWC && dir != Direction::BackwardInput;
}

Plan make_plan(Direction dir, const Conv2dArgs& a) {
  const Descs d = descs_of(a);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const bool user = keeps_user_activations(dir, a);
  const memory::desc src = user ? d.user_src : any(d.src), dst = user ? d.user_dst : any(d.dst);
  // The forward primitive, and the hint both backward ones need.
  const dnnl::convolution_forward::desc fwd_desc(dnnl::prop_kind::forward_training,
                                                 dnnl::algorithm::convolution_direct, src, any(d.weights),
                                                 dst, d.strides, d.dilates, d.pad_l, d.pad_r);
  const dnnl::convolution_forward::primitive_desc fwd(fwd_desc, attr, engine());
  if (dir == Direction::Forward) {
    return {dnnl::convolution_forward(fwd), fwd.src_desc(), fwd.weights_desc(), fwd.dst_desc(),
            fwd.scratchpad_desc(), fwd.impl_info_str(), d};
  }
  if (dir == Direction::BackwardInput) {
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, any(d.src),
                                                     any(d.weights), any(d.dst), d.strides, d.dilates, d.pad_l,
                                                     d.pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(desc, attr, engine(), fwd);
    return {dnnl::convolution_backward_data(pd), pd.diff_src_desc(), pd.weights_desc(), pd.diff_dst_desc(),
            pd.scratchpad_desc(), pd.impl_info_str(), d};
  }
  const dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, src, any(d.weights),
                                                      dst, d.strides, d.dilates, d.pad_l, d.pad_r);
  const dnnl::convolution_backward_weights::primitive_desc pd(desc, attr, engine(), fwd);
  return {dnnl::convolution_backward_weights(pd), pd.src_desc(), pd.diff_weights_desc(), pd.diff_dst_desc(),
          pd.scratchpad_desc(), pd.impl_info_str(), d};
}

const Plan& plan(Direction dir, const Conv2dArgs& a) {
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<Plan>> cache;
  const Key key = key_of(dir, a);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) {
    try {
      it = cache.emplace(key, std::make_unique<Plan>(make_plan(dir, a))).first;
    } catch (const dnnl::error& e) {
      PARITY_FAIL("conv2d: oneDNN refused the convolution of input ", to_string(a.win.input_shape()), " (",
                  a.win.layout, ") with ", a.out_channels, " filters of ", a.win.window_h, "x", a.win.window_w,
                  ": ", e.what(), "; set_cpu_conv_algorithm(CpuConvAlgorithm::Im2colGemm) computes it without");
    }
  }
  return *it->second;
}

// Host memory for a buffer in the primitive's layout.
using Buffer = HostScratch<std::uint8_t>;

// An operand in the primitive's layout: the user's memory itself where the
// layouts agree, else a reordered copy (`in`: copied from the user's memory now;
// otherwise written back by commit()).
class Operand {
 public:
  Operand(const memory::desc& user_md, const void* user, const memory::desc& want, bool in, dnnl::stream& s)
      : user_(user_md, engine(), const_cast<void*>(user)) {
    if (user_md == want) {
      mem_ = user_;
      return;
    }
    copy_ = std::make_unique<Buffer>(static_cast<std::int64_t>(want.get_size()));
    mem_ = memory(want, engine(), copy_->get());
    if (in) dnnl::reorder(user_, mem_).execute(s, user_, mem_);
  }
  const memory& get() const { return mem_; }
  void commit(dnnl::stream& s) {
    if (copy_) dnnl::reorder(mem_, user_).execute(s, mem_, user_);
  }

 private:
  memory user_, mem_;
  std::unique_ptr<Buffer> copy_;
};

// w spatially flipped into f (both in the user's layout): true convolution.
void flip_kernel(const Conv2dArgs& a, const float* w, float* f) {
  const i64 kh = a.win.window_h, kw = a.win.window_w;
  const i64 inner = a.win.channels * a.out_channels;  // HWIO: (i, o) per tap; OIHW: taps per (o, i)
  if (a.kernel_layout == KernelLayout::HWIO) {
    for (i64 p = 0; p < kh; ++p)
      for (i64 q = 0; q < kw; ++q)
        std::copy_n(w + ((kh - 1 - p) * kw + (kw - 1 - q)) * inner, inner, f + (p * kw + q) * inner);
  } else {
    for (i64 r = 0; r < inner; ++r)
      for (i64 t = 0; t < kh * kw; ++t) f[r * kh * kw + t] = w[r * kh * kw + (kh * kw - 1 - t)];
  }
}

std::size_t kernel_size(const Conv2dArgs& a) {
  return static_cast<std::size_t>(a.win.window_h * a.win.window_w * a.win.channels * a.out_channels);
}

void run(Direction dir, const Conv2dArgs& a, const void* src, const void* weights, const void* dst) {
  const Plan& p = plan(dir, a);
  const Descs& d = p.user;
  dnnl::stream s(engine());
  const bool fwd = dir == Direction::Forward, bwd_in = dir == Direction::BackwardInput;
  Operand os(d.user_src, src, p.src, !bwd_in, s);
  Operand ow(d.user_weights, weights, p.weights, dir != Direction::BackwardWeight, s);
  Operand od(d.user_dst, dst, p.dst, !fwd, s);
  Buffer scratch(static_cast<std::int64_t>(p.scratchpad.get_size()));
  const memory pad(p.scratchpad, engine(), scratch.get());
  if (fwd) {
    p.primitive.execute(s, {{DNNL_ARG_SRC, os.get()}, {DNNL_ARG_WEIGHTS, ow.get()}, {DNNL_ARG_DST, od.get()},
                            {DNNL_ARG_SCRATCHPAD, pad}});
    od.commit(s);
  } else if (bwd_in) {
    p.primitive.execute(s, {{DNNL_ARG_DIFF_SRC, os.get()}, {DNNL_ARG_WEIGHTS, ow.get()},
                            {DNNL_ARG_DIFF_DST, od.get()}, {DNNL_ARG_SCRATCHPAD, pad}});
    os.commit(s);
  } else {
    p.primitive.execute(s, {{DNNL_ARG_SRC, os.get()}, {DNNL_ARG_DIFF_WEIGHTS, ow.get()},
                            {DNNL_ARG_DIFF_DST, od.get()}, {DNNL_ARG_SCRATCHPAD, pad}});
    ow.commit(s);
  }
  s.wait();
}

bool empty(const Conv2dArgs& a) {
  const Window2d& g = a.win;
  return g.batch == 0 || g.channels == 0 || a.out_channels == 0 || g.out_h == 0 || g.out_w == 0;
}

// fn(args, kernel) on the cross-correlation that computes `a`: true convolution
// is cross-correlation with the kernel flipped.
template <typename Fn>
void as_cross_correlation(const Conv2dArgs& a, const float* w, Fn&& fn) {
  if (a.mode != ConvMode::Convolution) return fn(a, w);
  std::vector<float> f(kernel_size(a));
  flip_kernel(a, w, f.data());
  Conv2dArgs cc = a;
  cc.mode = ConvMode::CrossCorrelation;
  fn(cc, f.data());
}

}  // namespace

void conv2d_forward(const Conv2dArgs& a, const float* x, const float* w, float* y) {
  as_cross_correlation(a, w, [&](const Conv2dArgs& c, const float* k) { run(Direction::Forward, c, x, k, y); });
}

void conv2d_backward_input(const Conv2dArgs& a, const float* dy, const float* w, float* dx) {
  as_cross_correlation(a, w,
                       [&](const Conv2dArgs& c, const float* k) { run(Direction::BackwardInput, c, dx, k, dy); });
}

void conv2d_backward_weight(const Conv2dArgs& a, const float* x, const float* dy, float* dw) {
  if (a.mode != ConvMode::Convolution) return run(Direction::BackwardWeight, a, x, dw, dy);
  // The flipped kernel's gradient, flipped back.
  std::vector<float> g(kernel_size(a));
  Conv2dArgs cc = a;
  cc.mode = ConvMode::CrossCorrelation;
  run(Direction::BackwardWeight, cc, x, g.data(), dy);
  flip_kernel(a, g.data(), dw);
}

std::string implementation(const Conv2dArgs& a) {
  const dnnl_version_t* v = dnnl_version();
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                  std::to_string(v->patch);
  if (!empty(a)) s += " (" + plan(Direction::Forward, a).impl + ")";
  return s;
}

}  // namespace parity::cpu::onednn
