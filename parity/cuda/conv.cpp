// CUDA 2-D convolution through cuDNN's convolution API (parity/tensor/conv.h).
//
// Note [cuDNN convolution]: how a Conv2dArgs becomes cuDNN calls.
//
// Modes. ConvMode::CrossCorrelation is CUDNN_CROSS_CORRELATION and
// ConvMode::Convolution (the kernel flipped in both spatial dims, Theano's
// conv2d) is CUDNN_CONVOLUTION: cuDNN defines the two exactly as parity/tensor/conv.h does.
//
// Layouts. cuDNN reads images through explicit strides in any dense layout
// but filters only as KCRS (= OIHW) or KRSC (= OHWI), and runs its fast
// kernels on NHWC images with KRSC filters or NCHW images with KCRS filters.
// So a float32 convolution runs in the images' own layout with the matching
// filter order; a kernel in another order (HWIO, Keras' layout, always; OIHW
// with NHWC images) is permuted into a temporary on the device first, and the
// weight gradient permuted back. float64 runs in NCHW/KCRS whatever the
// layout (NHWC images are permuted in and out): cuDNN's double-precision
// convolutions are its NCHW ones (PyTorch never sends channels-last doubles to
// cuDNN either). If cuDNN turns every algorithm down for NHWC float32, the
// call falls back to NCHW/KCRS the same way, and remembers that.
//
// Padding. cuDNN pads symmetrically. The symmetric part min(top, bottom) /
// min(left, right) goes to cuDNN; what is left over on one side (TensorFlow's
// "same" with an even kernel or a stride, Note [Same padding]) is padded
// explicitly: the input is copied into a zero-filled temporary that is larger
// by the leftover rows and columns, and cuDNN runs on that. The backward of
// the input computes the gradient of the padded input and copies out its
// interior; the weight gradient reads the padded input.
//
// Algorithms (docs/ARCHITECTURE.md, principle 3: deterministic by default). With
// args.deterministic, cuDNN's heuristics (cudnnGet*Algorithm_v7: no timing, so
// the same answer in every run and process on a given GPU and cuDNN) rank the
// algorithms; the first one reported CUDNN_DETERMINISTIC (and not one of those
// cuDNN's docs name as using atomics: backward data ALGO_0, backward filter
// ALGO_0 and ALGO_3), with an allowed math type and a workspace under
// kWorkspaceCap, is used. Without it, cudnnFind*AlgorithmEx times every
// algorithm on the call's own buffers and the fastest allowed one is used.
// Either way the choice is cached per configuration (op, dtype, device,
// geometry, layouts, mode, math mode, determinism) under a mutex, and a
// candidate cuDNN refuses at run time (CUDNN_STATUS_NOT_SUPPORTED) is skipped
// for the next; the default algorithms (implicit precomputed GEMM, backward
// ALGO_1, all deterministic) are tried last.
//
// Math. MathMode::StrictFP32 sets CUDNN_FMA_MATH on the convolution (no TF32
// tensor-core kernels) and accepts only algorithms reported with that math
// type; MathMode::TF32 sets CUDNN_TENSOR_OP_MATH and accepts any. The chosen
// algorithm's math type is set on the descriptor before it runs (cuDNN needs
// the pair). float64 uses CUDNN_DEFAULT_MATH.
//
// Bias: the forward adds it after the convolution with the tensor layer's
// broadcast add_ (one rounding, like TensorFlow's BiasAdd and the CPU backend;
// cudnnAddTensor is slow on NHWC). Its gradient is cudnnConvolutionBackwardBias,
// deterministic per cuDNN's reproducibility notes.
//
// Size. cuDNN indexes with 32-bit ints, so a batch whose tensors exceed 2^31-1
// elements is run in chunks of images; weight gradients of the chunks are
// summed in chunk order (deterministic).
//
// Everything is enqueued on the current stream of args.device_index, workspaces
// and temporaries come from the stream-ordered pool, and nothing synchronizes
// except cudnnFind (timing), once per configuration, outside deterministic mode.
#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <initializer_list>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "parity/cuda/api.h"
#include "parity/cuda/conv_testing.h"
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/cudnn.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity::cuda {

namespace {

using i64 = std::int64_t;

// The most workspace an algorithm may ask for. Fixed (not the memory free at
// the time), so the deterministic choice never depends on the pool's state.
constexpr std::size_t kWorkspaceCap = std::size_t{1} << 30;

using ConvOp = testing::ConvOpKind;

// ---- test hooks (parity/cuda/conv_testing.h) ----

struct Forcing {
  std::atomic<bool> on{false};
  testing::ConvForcing what;  // read only while `on`; written only while off
};

Forcing& forcing() {
  static auto* f = new Forcing;  // never destroyed, like the plan cache
  return *f;
}

const testing::ConvForcing* forced() {
  Forcing& f = forcing();
  return f.on.load(std::memory_order_acquire) ? &f.what : nullptr;
}

thread_local testing::ConvRun last_run;

// The most elements one tensor of a cuDNN call may hold (32-bit indexing).
i64 element_limit() {
  const testing::ConvForcing* f = forced();
  return f != nullptr && f->chunk_elements > 0 ? f->chunk_elements : INT_MAX;
}

const char* op_name(ConvOp op) {
  switch (op) {
    case ConvOp::Forward:
      return "conv2d";
    case ConvOp::BackwardData:
      return "conv2d_backward_input";
    case ConvOp::BackwardFilter:
      return "conv2d_backward_weight";
  }
  return "conv2d";
}

// The permutation taking a kernel in `layout` to cuDNN's KRSC ([k, r, s, c])
// or KCRS ([k, c, r, s]) order; empty when it already is.
std::vector<i64> to_filter_order(KernelLayout layout, bool krsc) {
  if (layout == KernelLayout::HWIO) return krsc ? std::vector<i64>{3, 0, 1, 2} : std::vector<i64>{3, 2, 0, 1};
  return krsc ? std::vector<i64>{0, 2, 3, 1} : std::vector<i64>{};
}

std::vector<i64> inverse(const std::vector<i64>& perm) {
  std::vector<i64> inv(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inv[static_cast<std::size_t>(perm[i])] = static_cast<i64>(i);
  return inv;
}

// ---- algorithm choice ----

// One row of cuDNN's perf results, whichever op it came from.
struct Perf {
  int algo = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  float time = 0;
  std::size_t memory = 0;
  cudnnDeterminism_t determinism = CUDNN_NON_DETERMINISTIC;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

template <typename P>
Perf to_perf(const P& p) {
  return {static_cast<int>(p.algo), p.status, p.time, p.memory, p.determinism, p.mathType};
}

// What a configuration ran with.
struct Plan {
  Layout layout = Layout::NCHW;
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0;
};

using Key = std::array<i64, 25>;

// The largest power of two (at most 256) dividing every operand's address:
// cuDNN's vectorized kernels need aligned operands, so a plan chosen for
// aligned buffers may be refused for an offset view (a batch slice x[1:]).
i64 alignment_class(std::initializer_list<const void*> ptrs) {
  i64 align = 256;
  for (const void* p : ptrs) {
    if (p == nullptr) continue;
    const auto a = static_cast<i64>(reinterpret_cast<std::uintptr_t>(p) & 255u);
    if (a != 0) align = std::min(align, a & -a);
  }
  return align;
}

struct PlanCache {
  std::mutex mutex;
  std::map<Key, Plan> plans;
};

PlanCache& plan_cache() {
  static auto* cache = new PlanCache;  // never destroyed: used until the process ends
  return *cache;
}

Key plan_key(ConvOp op, const Conv2dArgs& a, i64 n, i64 alignment) {
  const Window2d& w = a.win;
  return {static_cast<i64>(op),
          static_cast<i64>(a.dtype),
          a.device_index,
          static_cast<i64>(w.layout),
          static_cast<i64>(a.kernel_layout),
          n,
          w.channels,
          w.in_h,
          w.in_w,
          a.out_channels,
          w.window_h,
          w.window_w,
          w.stride_h,
          w.stride_w,
          w.dilation_h,
          w.dilation_w,
          w.pad_top,
          w.pad_bottom,
          w.pad_left,
          w.pad_right,
          static_cast<i64>(a.mode),
          static_cast<i64>(a.math_mode),
          a.deterministic ? 1 : 0,
          alignment,
          /*version of this key's meaning*/ 2};
}

std::optional<Plan> cached_plan(const Key& key) {
  if (forced() != nullptr) return std::nullopt;
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mutex);
  const auto it = cache.plans.find(key);
  if (it == cache.plans.end()) return std::nullopt;
  return it->second;
}

void remember(const Key& key, const Plan& plan) {
  if (forced() != nullptr) return;
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mutex);
  cache.plans[key] = plan;
}

void forget(const Key& key) {
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mutex);
  cache.plans.erase(key);
}

void forget_all() {
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mutex);
  cache.plans.clear();
}

// cuDNN's documented atomics users (Reproducibility in cuDNN's docs), refused
// in deterministic mode whatever the perf row says.
bool uses_atomics(ConvOp op, int algo) {
  if (op == ConvOp::BackwardData) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (op == ConvOp::BackwardFilter) {
    return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  }
  return false;
}

int default_algo(ConvOp op) {
  switch (op) {
    case ConvOp::Forward:
      return CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    case ConvOp::BackwardData:
      return CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    case ConvOp::BackwardFilter:
      return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  }
  return 0;
}

// The math type set on the descriptor before asking cuDNN for algorithms.
cudnnMathType_t requested_math(const Conv2dArgs& a) {
  if (a.dtype != kFloat32) return CUDNN_DEFAULT_MATH;
  return a.math_mode == MathMode::TF32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

bool math_allowed(const Conv2dArgs& a, cudnnMathType_t math) {
  // Strict float32: only plain FMA kernels. cuDNN's CUDNN_DEFAULT_MATH may use
  // TF32 tensor cores on Ampere and later, so it is not strict.
  if (a.dtype == kFloat32 && a.math_mode == MathMode::StrictFP32) return math == CUDNN_FMA_MATH;
  return true;
}

const char* math_name(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_DEFAULT_MATH:
      return "default";
    case CUDNN_TENSOR_OP_MATH:
      return "tensor_op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "tensor_op_allow_conversion";
    case CUDNN_FMA_MATH:
      return "fma";
  }
  return "?";
}

// ---- one cuDNN problem: descriptors, buffers, calls ----

struct Problem {
  ConvOp op;
  const Conv2dArgs& args;
  cudnnHandle_t handle;
  const TensorDesc& x_desc;  // the (padded) input, or its gradient
  const FilterDesc& w_desc;  // the filter, or its gradient
  const TensorDesc& y_desc;  // the output, or its gradient
  ConvDesc& conv;
  void* x;
  void* w;
  void* y;
  double beta;  // 0: overwrite the output; 1: add to it
};

cudnnStatus_t launch(const Problem& p, int algo, void* workspace, std::size_t bytes) {
  const Scale one(p.args.dtype, 1.0), beta(p.args.dtype, p.beta);
  switch (p.op) {
    case ConvOp::Forward:
      return cudnnConvolutionForward(p.handle, one.get(), p.x_desc.get(), p.x, p.w_desc.get(), p.w,
                                     p.conv.get(), static_cast<cudnnConvolutionFwdAlgo_t>(algo), workspace,
                                     bytes, beta.get(), p.y_desc.get(), p.y);
    case ConvOp::BackwardData:
      return cudnnConvolutionBackwardData(p.handle, one.get(), p.w_desc.get(), p.w, p.y_desc.get(), p.y,
                                          p.conv.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(algo),
                                          workspace, bytes, beta.get(), p.x_desc.get(), p.x);
    case ConvOp::BackwardFilter:
      return cudnnConvolutionBackwardFilter(p.handle, one.get(), p.x_desc.get(), p.x, p.y_desc.get(), p.y,
                                            p.conv.get(), static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo),
                                            workspace, bytes, beta.get(), p.w_desc.get(), p.w);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

cudnnStatus_t workspace_size(const Problem& p, int algo, std::size_t* bytes) {
  switch (p.op) {
    case ConvOp::Forward:
      return cudnnGetConvolutionForwardWorkspaceSize(p.handle, p.x_desc.get(), p.w_desc.get(), p.conv.get(),
                                                     p.y_desc.get(),
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), bytes);
    case ConvOp::BackwardData:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(
          p.handle, p.w_desc.get(), p.y_desc.get(), p.conv.get(), p.x_desc.get(),
          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), bytes);
    case ConvOp::BackwardFilter:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(
          p.handle, p.x_desc.get(), p.y_desc.get(), p.conv.get(), p.w_desc.get(),
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), bytes);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

// cuDNN's heuristic ranking (deterministic) of every algorithm.
std::vector<Perf> heuristics(const Problem& p) {
  std::vector<Perf> out;
  int max_count = 0, count = 0;
  switch (p.op) {
    case ConvOp::Forward: {
      PARITY_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(p.handle, &max_count));
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
      PARITY_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(p.handle, p.x_desc.get(), p.w_desc.get(),
                                                                p.conv.get(), p.y_desc.get(), max_count,
                                                                &count, perf.data()));
      for (int i = 0; i < count; ++i) out.push_back(to_perf(perf[static_cast<std::size_t>(i)]));
      break;
    }
    case ConvOp::BackwardData: {
      PARITY_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(p.handle, &max_count));
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
      PARITY_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(p.handle, p.w_desc.get(), p.y_desc.get(),
                                                                     p.conv.get(), p.x_desc.get(), max_count,
                                                                     &count, perf.data()));
      for (int i = 0; i < count; ++i) out.push_back(to_perf(perf[static_cast<std::size_t>(i)]));
      break;
    }
    case ConvOp::BackwardFilter: {
      PARITY_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(p.handle, &max_count));
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
      PARITY_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          p.handle, p.x_desc.get(), p.y_desc.get(), p.conv.get(), p.w_desc.get(), max_count, &count,
          perf.data()));
      for (int i = 0; i < count; ++i) out.push_back(to_perf(perf[static_cast<std::size_t>(i)]));
      break;
    }
  }
  return out;
}

// A workspace for cudnnFind: the cap, or less when the pool cannot give that much.
std::optional<Workspace> find_workspace(int device) {
  for (const std::size_t bytes : {kWorkspaceCap, kWorkspaceCap / 8, kWorkspaceCap / 64, std::size_t{0}}) {
    try {
      return std::optional<Workspace>(std::in_place, device, bytes);
    } catch (const OutOfMemoryError&) {
      if (bytes == 0) throw;
    }
  }
  return std::nullopt;
}

// cuDNN's timed ranking (fastest first), run on the problem's own buffers.
std::vector<Perf> timed(const Problem& p) {
  std::vector<Perf> out;
  std::optional<Workspace> ws = find_workspace(p.args.device_index);
  PARITY_CHECK(ws.has_value(), op_name(p.op), ": no workspace for cudnnFind");
  int max_count = 0, count = 0;
  switch (p.op) {
    case ConvOp::Forward: {
      PARITY_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(p.handle, &max_count));
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
      PARITY_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
          p.handle, p.x_desc.get(), p.x, p.w_desc.get(), p.w, p.conv.get(), p.y_desc.get(), p.y, max_count,
          &count, perf.data(), ws->get(), ws->size()));
      for (int i = 0; i < count; ++i) out.push_back(to_perf(perf[static_cast<std::size_t>(i)]));
      break;
    }
    case ConvOp::BackwardData: {
      PARITY_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(p.handle, &max_count));
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
      PARITY_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
          p.handle, p.w_desc.get(), p.w, p.y_desc.get(), p.y, p.conv.get(), p.x_desc.get(), p.x, max_count,
          &count, perf.data(), ws->get(), ws->size()));
      for (int i = 0; i < count; ++i) out.push_back(to_perf(perf[static_cast<std::size_t>(i)]));
      break;
    }
    case ConvOp::BackwardFilter: {
      PARITY_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(p.handle, &max_count));
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
      PARITY_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
          p.handle, p.x_desc.get(), p.x, p.y_desc.get(), p.y, p.conv.get(), p.w_desc.get(), p.w, max_count,
          &count, perf.data(), ws->get(), ws->size()));
      for (int i = 0; i < count; ++i) out.push_back(to_perf(perf[static_cast<std::size_t>(i)]));
      break;
    }
  }
  return out;
}

// The algorithms to try, best first, and why the others were turned down.
std::vector<Perf> candidates(const Problem& p, std::string& rejected) {
  const Conv2dArgs& a = p.args;
  p.conv.set_math(requested_math(a));
  if (const testing::ConvForcing* f = forced(); f != nullptr && f->algorithm >= 0 && f->op == p.op) {
    std::size_t bytes = 0;
    const cudnnStatus_t status = workspace_size(p, f->algorithm, &bytes);
    if (status == CUDNN_STATUS_SUCCESS && bytes <= kWorkspaceCap) {
      return {{f->algorithm, CUDNN_STATUS_SUCCESS, 0.0f, bytes, CUDNN_DETERMINISTIC, requested_math(a)}};
    }
    rejected += " forced algo " + std::to_string(f->algorithm) + ": " +
                (status == CUDNN_STATUS_SUCCESS ? std::string("workspace over the cap") : cudnnGetErrorString(status)) +
                ";";
    return {};
  }
  const std::vector<Perf> ranked = a.deterministic ? heuristics(p) : timed(p);
  std::vector<Perf> out;
  std::ostringstream why;
  for (const Perf& perf : ranked) {
    const char* reason = nullptr;
    if (perf.status != CUDNN_STATUS_SUCCESS) {
      reason = cudnnGetErrorString(perf.status);
    } else if (a.deterministic &&
               (perf.determinism != CUDNN_DETERMINISTIC || uses_atomics(p.op, perf.algo))) {
      reason = "not deterministic";
    } else if (!math_allowed(a, perf.math)) {
      reason = "math type not allowed in strict FP32";
    } else if (perf.memory > kWorkspaceCap) {
      reason = "workspace over the cap";
    }
    if (reason != nullptr) {
      why << " algo " << perf.algo << " (" << math_name(perf.math) << "): " << reason << ";";
      continue;
    }
    out.push_back(perf);
  }
  // Last resort: the default algorithm, deterministic, in the requested math.
  const int fallback = default_algo(p.op);
  const cudnnMathType_t math = requested_math(a);
  const bool listed = std::any_of(out.begin(), out.end(),
                                  [&](const Perf& q) { return q.algo == fallback && q.math == math; });
  if (!listed) {
    std::size_t bytes = 0;
    if (workspace_size(p, fallback, &bytes) == CUDNN_STATUS_SUCCESS && bytes <= kWorkspaceCap) {
      out.push_back({fallback, CUDNN_STATUS_SUCCESS, 0.0f, bytes, CUDNN_DETERMINISTIC, math});
    } else {
      why << " default algo " << fallback << ": workspace query refused;";
    }
  }
  rejected += why.str();
  return out;
}

// A status that turns one algorithm down (another may do): not supported, or
// an operand's address not aligned enough for its vectorized kernels.
bool refused_by_algo(cudnnStatus_t status) {
  return cudnn_status_not_supported(status) || status == CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER;
}

// Runs `algo` on `p`: CUDNN_STATUS_SUCCESS, a status of refused_by_algo (so
// the caller may try another), or a thrown CudnnError.
cudnnStatus_t run_algo(const Problem& p, int algo, cudnnMathType_t math) {
  p.conv.set_math(math);
  std::size_t bytes = 0;
  cudnnStatus_t status = workspace_size(p, algo, &bytes);
  if (status != CUDNN_STATUS_SUCCESS) return status;
  Workspace ws(p.args.device_index, bytes);
  status = launch(p, algo, ws.get(), ws.size());
  if (status == CUDNN_STATUS_SUCCESS || refused_by_algo(status)) return status;
  detail::throw_cudnn_error(status, op_name(p.op), __FILE__, __LINE__);
}

// Runs `p` with the cached plan, or chooses one (and caches it). Returns false
// when cuDNN supports no algorithm for it (reasons appended to `rejected`).
bool run_problem(const Problem& p, const Key& key, Layout layout, const std::optional<Plan>& plan,
                 std::string& rejected) {
  if (plan) {
    const cudnnStatus_t status = run_algo(p, plan->algo, plan->math);
    if (status == CUDNN_STATUS_SUCCESS) {
      last_run.layout = layout;
      last_run.algorithm = plan->algo;
      return true;
    }
    // Refused now (refused_by_algo: run_algo throws otherwise): choose again.
    forget(key);
    rejected += " cached algo " + std::to_string(plan->algo) + ": " + cudnnGetErrorString(status) + " at run time;";
  }
  for (const Perf& perf : candidates(p, rejected)) {
    const cudnnStatus_t status = run_algo(p, perf.algo, perf.math);
    if (status == CUDNN_STATUS_SUCCESS) {
      remember(key, {layout, perf.algo, perf.math, perf.memory});
      last_run.layout = layout;
      last_run.algorithm = perf.algo;
      return true;
    }
    rejected += " algo " + std::to_string(perf.algo) + ": " + cudnnGetErrorString(status) + " at run time;";
  }
  return false;
}

// ---- one chunk of the batch ----

// Runs `op` on dense operands in the user's layouts (x and y: [nb, ...] in
// a.win.layout; w: a.kernel_layout). The output (y, x or w by op) is overwritten.
void run_chunk(ConvOp op, const Conv2dArgs& a, const Tensor& x, const Tensor& w, const Tensor& y,
               const Tensor& bias) {
  const char* opn = op_name(op);
  const cudnnDataType_t dtype = cudnn_dtype(a.dtype, opn);
  const Window2d& win = a.win;
  const i64 nb = op == ConvOp::BackwardData ? y.size(0) : x.size(0);
  const SplitPads pads = split_pads(win);
  const ExtraPads& e = pads.extra;
  const i64 hp = win.in_h + e.top + e.bottom, wp = win.in_w + e.left + e.right;

  const Key key = plan_key(op, a, nb, alignment_class({x.defined() ? x.data_ptr() : nullptr,
                                                         w.defined() ? w.data_ptr() : nullptr,
                                                         y.defined() ? y.data_ptr() : nullptr}));
  const std::optional<Plan> plan = cached_plan(key);
  std::vector<Layout> layouts;
  if (plan) {
    layouts = {plan->layout};
  } else if (a.dtype == kFloat32) {
    layouts = {win.layout};
    if (win.layout == Layout::NHWC) layouts.push_back(Layout::NCHW);
  } else {
    layouts = {Layout::NCHW};
  }

  CudnnHandle handle(a.device_index);
  const cudnnConvolutionMode_t mode =
      a.mode == ConvMode::Convolution ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION;
  std::string rejected;
  for (const Layout layout : layouts) {
    if (layout == Layout::NHWC && forced() != nullptr && forced()->refuse_nhwc) {
      rejected += " [NHWC] refused by the test hook (parity/cuda/conv_testing.h);";
      continue;
    }
    const bool krsc = layout == Layout::NHWC;
    const std::vector<i64> perm = to_filter_order(a.kernel_layout, krsc);
    const Shape filter_shape = krsc ? Shape{a.out_channels, win.window_h, win.window_w, win.channels}
                                    : Shape{a.out_channels, win.channels, win.window_h, win.window_w};

    // Operands in cuDNN's layout.
    Tensor xi, wi, yi;
    switch (op) {
      case ConvOp::Forward:
        xi = image_in(x, win.layout, layout, e, 0.0);
        wi = perm.empty() ? w : w.permute(perm).contiguous();
        yi = image_out(y, win.layout, layout, {});
        break;
      case ConvOp::BackwardData:
        xi = image_out(x, win.layout, layout, e);
        wi = perm.empty() ? w : w.permute(perm).contiguous();
        yi = image_in(y, win.layout, layout, {}, 0.0);
        break;
      case ConvOp::BackwardFilter:
        xi = image_in(x, win.layout, layout, e, 0.0);
        wi = perm.empty() ? w : empty(filter_shape, {.dtype = a.dtype, .device = w.device()});
        yi = image_in(y, win.layout, layout, {}, 0.0);
        break;
    }

    const TensorDesc x_desc(dtype, layout, nb, win.channels, hp, wp);
    const TensorDesc y_desc(dtype, layout, nb, a.out_channels, win.out_h, win.out_w);
    const FilterDesc w_desc(dtype, krsc, a.out_channels, win.channels, win.window_h, win.window_w);
    ConvDesc conv(cudnn_int(pads.pad_h, opn, "pad"), cudnn_int(pads.pad_w, opn, "pad"),
                  cudnn_int(win.stride_h, opn, "stride"), cudnn_int(win.stride_w, opn, "stride"),
                  cudnn_int(win.dilation_h, opn, "dilation"), cudnn_int(win.dilation_w, opn, "dilation"),
                  mode, dtype);
    {
      // cuDNN's idea of the output size must be Parity's (parity/tensor/window.h).
      int on = 0, oc = 0, oh = 0, ow = 0;
      PARITY_CUDNN_CHECK(
          cudnnGetConvolution2dForwardOutputDim(conv.get(), x_desc.get(), w_desc.get(), &on, &oc, &oh, &ow));
      PARITY_INTERNAL_ASSERT(oh == win.out_h && ow == win.out_w, opn, ": cuDNN computes an output of ", oh,
                             "x", ow, " but the window resolved to ", win.out_h, "x", win.out_w, " (input ",
                             hp, "x", wp, " after explicit padding, cuDNN pads ", pads.pad_h, "/", pads.pad_w,
                             ")");
    }

    const Problem problem{
        op, a, handle.get(), x_desc, w_desc, y_desc, conv, xi.data_ptr(), wi.data_ptr(), yi.data_ptr(), 0.0};
    bool ok = false;
    std::string why;
    try {
      ok = run_problem(problem, key, layout, plan, why);
    } catch (const CudnnError& error) {
      // A layout cuDNN refuses outright (descriptors, heuristics): try the next.
      if (!error.not_supported() || plan) throw;
      why += std::string(" ") + error.what() + ";";
    }
    if (!ok) {
      rejected += std::string(" [") + std::string(name(layout)) + "]" + why;
      continue;
    }

    // Results back into the user's layouts.
    switch (op) {
      case ConvOp::Forward:
        if (bias.defined()) {
          yi.add_(layout == Layout::NHWC ? bias : bias.view({a.out_channels, 1, 1}));
        }
        image_back(y, yi, win.layout, layout, {});
        break;
      case ConvOp::BackwardData:
        image_back(x, xi, win.layout, layout, e);
        break;
      case ConvOp::BackwardFilter:
        if (!wi.is_same(w)) Tensor(w).copy_(wi.permute(inverse(perm)));
        break;
    }
    return;
  }
  std::ostringstream what;
  what << opn << ": cuDNN " << cudnn_version_string() << " has no usable algorithm for " << a.dtype << " "
       << win.layout << " input [" << nb << ", " << win.channels << ", " << win.in_h << ", " << win.in_w
       << "], kernel " << a.kernel_layout << " " << win.window_h << "x" << win.window_w << " -> "
       << a.out_channels << ", stride " << win.stride_h << "x" << win.stride_w << ", dilation "
       << win.dilation_h << "x" << win.dilation_w << ", pads " << win.pad_top << "/" << win.pad_bottom << "/"
       << win.pad_left << "/" << win.pad_right << ", " << a.mode << ", " << a.math_mode
       << (a.deterministic ? ", deterministic" : ", fastest") << ";" << rejected;
  throw Error(what.str());
}

// ---- the whole batch ----

// Images per chunk so that every tensor cuDNN sees stays within 2^31-1 elements.
i64 chunk_size(const Conv2dArgs& a, const char* name) {
  const Window2d& win = a.win;
  const SplitPads pads = split_pads(win);
  const i64 hp = win.in_h + pads.extra.top + pads.extra.bottom,
            wp = win.in_w + pads.extra.left + pads.extra.right;
  const i64 per_image = std::max(win.channels * hp * wp, a.out_channels * win.out_h * win.out_w);
  PARITY_CHECK(per_image <= INT_MAX, name, ": one image of ", per_image,
               " elements exceeds cuDNN's 32-bit indexing (", INT_MAX, "); input ", win.channels, "x",
               win.in_h, "x", win.in_w, ", output ", a.out_channels, "x", win.out_h, "x", win.out_w);
  return std::max<i64>(1, std::min<i64>(win.batch, element_limit() / std::max<i64>(per_image, 1)));
}

Shape kernel_shape(const Conv2dArgs& a) {
  const Window2d& w = a.win;
  return a.kernel_layout == KernelLayout::HWIO ? Shape{w.window_h, w.window_w, w.channels, a.out_channels}
                                               : Shape{a.out_channels, w.channels, w.window_h, w.window_w};
}

void run(ConvOp op, const Conv2dArgs& a, const void* x_ptr, const void* w_ptr, const void* y_ptr,
         const void* bias_ptr) {
  DeviceGuard guard(a.device_index);
  const int device = a.device_index;
  const Window2d& win = a.win;
  const Tensor x = borrow(x_ptr, win.input_shape(), a.dtype, device);
  const Tensor w = borrow(w_ptr, kernel_shape(a), a.dtype, device);
  const Tensor y = borrow(y_ptr, win.output_shape(a.out_channels), a.dtype, device);
  const Tensor bias = bias_ptr != nullptr ? borrow(bias_ptr, {a.out_channels}, a.dtype, device) : Tensor();

  const i64 chunk = chunk_size(a, op_name(op));
  last_run.chunks = (win.batch + chunk - 1) / chunk;
  if (chunk >= win.batch) {
    run_chunk(op, a, x, w, y, bias);
    return;
  }
  // Chunks of the batch; weight gradients summed in chunk order.
  Tensor dw_part =
      op == ConvOp::BackwardFilter ? empty(w.shape(), {.dtype = a.dtype, .device = w.device()}) : w;
  for (i64 b0 = 0; b0 < win.batch; b0 += chunk) {
    const i64 nb = std::min(chunk, win.batch - b0);
    Conv2dArgs part = a;
    part.win.batch = nb;
    run_chunk(op, part, x.narrow(0, b0, nb), dw_part, y.narrow(0, b0, nb), bias);
    if (op == ConvOp::BackwardFilter) {
      if (b0 == 0) {
        Tensor(w).copy_(dw_part);
      } else {
        Tensor(w).add_(dw_part);
      }
    }
  }
}

}  // namespace

namespace testing {

ForceConv::ForceConv(const ConvForcing& what) {
  forget_all();
  forcing().what = what;
  forcing().on.store(true, std::memory_order_release);
}

ForceConv::~ForceConv() {
  forcing().on.store(false, std::memory_order_release);
  forget_all();
}

ConvRun last_conv_run() { return last_run; }

}  // namespace testing

void CudaBackend::conv2d_forward(const Conv2dArgs& args, const void* x, const void* w, const void* bias,
                                 void* y) {
  run(ConvOp::Forward, args, x, w, y, bias);
}

void CudaBackend::conv2d_backward_input(const Conv2dArgs& args, const void* dy, const void* w, void* dx) {
  run(ConvOp::BackwardData, args, dx, w, dy, nullptr);
}

void CudaBackend::conv2d_backward_weight(const Conv2dArgs& args, const void* x, const void* dy, void* dw) {
  run(ConvOp::BackwardFilter, args, x, dw, dy, nullptr);
}

void CudaBackend::conv2d_backward_bias(const Conv2dArgs& args, const void* dy, void* dbias) {
  // The front end fills layout, batch, out_h, out_w and out_channels (parity/tensor/conv.cpp).
  const char* name = "conv2d_backward_bias";
  DeviceGuard guard(args.device_index);
  const int device = args.device_index;
  const Window2d& win = args.win;
  const cudnnDataType_t dtype = cudnn_dtype(args.dtype, name);
  const i64 k = args.out_channels;
  const Tensor dy_all =
      borrow(dy, image_shape(win.layout, win.batch, k, win.out_h, win.out_w), args.dtype, device);
  const Tensor db = borrow(dbias, {k}, args.dtype, device);
  const i64 per_image = k * win.out_h * win.out_w;
  PARITY_CHECK(per_image <= INT_MAX, name, ": one image of ", per_image,
               " elements exceeds cuDNN's 32-bit indexing");
  const i64 chunk = std::max<i64>(1, std::min<i64>(win.batch, element_limit() / std::max<i64>(per_image, 1)));
  const TensorDesc db_desc(dtype, Layout::NCHW, 1, k, 1, 1);
  try {
    CudnnHandle handle(device);
    for (i64 b0 = 0; b0 < win.batch; b0 += chunk) {
      const i64 nb = std::min(chunk, win.batch - b0);
      const TensorDesc dy_desc(dtype, win.layout, nb, k, win.out_h, win.out_w);
      const Scale one(args.dtype, 1.0), beta(args.dtype, b0 == 0 ? 0.0 : 1.0);
      PARITY_CUDNN_CHECK(cudnnConvolutionBackwardBias(handle.get(), one.get(), dy_desc.get(),
                                                      dy_all.narrow(0, b0, nb).data_ptr(), beta.get(),
                                                      db_desc.get(), dbias));
    }
  } catch (const CudnnError& error) {
    // A layout or address cuDNN's bias reduction refuses (not supported, bad
    // parameter): the tensor layer's fixed-order sum computes the same thing.
    const int category = static_cast<int>(error.status()) / 1000;
    if (category != 2 && category != 3) throw;
    const std::vector<i64> dims =
        win.layout == Layout::NHWC ? std::vector<i64>{0, 1, 2} : std::vector<i64>{0, 2, 3};
    Tensor(db).copy_(sum(dy_all, dims));
  }
}

}  // namespace parity::cuda
