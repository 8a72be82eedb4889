// Embedding: a table of `input_dim` vectors of `output_dim` values, looked up
// by int64 indices. forward(indices of any shape) gives indices.shape +
// [output_dim], through index_select (parity/autograd/indexing.h), so the
// table's gradient accumulates in a fixed order: the same bits on the CPU and
// the GPU, run to run. The table starts uniform in [-0.05, 0.05], Keras'
// Embedding default ("uniform"); PyTorch's nn.Embedding draws N(0, 1).
#pragma once

#include <cstdint>

#include "parity/nn/module.h"

namespace parity::nn {

struct EmbeddingOptions {
  std::int64_t input_dim = 0;   // the number of rows: indices lie in [0, input_dim)
  std::int64_t output_dim = 0;  // each row's length
};

class Embedding : public Module {
 public:
  explicit Embedding(EmbeddingOptions options);
  std::string type_name() const override { return "Embedding"; }
  const EmbeddingOptions& options() const { return options_; }

 protected:
  Tensor forward_impl(const Tensor& indices) override;
  DType input_dtype() const override { return kInt64; }
  Shape build_impl(const Shape& input_shape, const BuildContext& context) override;

 private:
  EmbeddingOptions options_;
};

}  // namespace parity::nn
