// Test hooks of the cuDNN convolution (parity/cuda/conv.cpp): the choices
// cuDNN makes on its own, forced, so that the GPU check reaches each path
// whatever cuDNN would pick on the card: every algorithm in turn, the NHWC ->
// NCHW fallback, the batch chunking that 32-bit indexing forces past 2^31
// elements. Internal to the CUDA backend and its tests; not for users.
#pragma once

#include <cstdint>

#include "parity/tensor/window.h"  // Layout

namespace parity::cuda::testing {

// Which cuDNN op of a convolution call ran.
enum class ConvOpKind : std::uint8_t { Forward, BackwardData, BackwardFilter };

struct ConvForcing {
  // >= 0: the only candidate algorithm of `op` (cudnnConvolutionFwdAlgo_t,
  // ...BwdDataAlgo_t, ...BwdFilterAlgo_t), whether or not it is deterministic;
  // a call cuDNN refuses it for throws the usual "no usable algorithm" error.
  int algorithm = -1;
  ConvOpKind op = ConvOpKind::Forward;
  // NHWC float32 turned down as cuDNN would turn down every algorithm: the
  // call falls back to NCHW/KCRS copies.
  bool refuse_nhwc = false;
  // > 0: the most elements one tensor of a cuDNN call may hold, instead of
  // 2^31 - 1: a small batch is run in chunks of images.
  std::int64_t chunk_elements = 0;
};

// Forces `forcing` until destroyed. The plan cache is emptied on both ends and
// neither read nor written meanwhile. Not thread-safe: one at a time.
class ForceConv {
 public:
  explicit ForceConv(const ConvForcing& forcing);
  ~ForceConv();
  ForceConv(const ForceConv&) = delete;
  ForceConv& operator=(const ForceConv&) = delete;
};

// What the last convolution call on this thread ran: the layout cuDNN saw,
// the algorithm of its last chunk and how many chunks the batch took.
struct ConvRun {
  Layout layout = Layout::NCHW;
  int algorithm = -1;
  std::int64_t chunks = 0;
};
ConvRun last_conv_run();

}  // namespace parity::cuda::testing
