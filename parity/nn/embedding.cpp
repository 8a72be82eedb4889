#include "parity/nn/embedding.h"

#include "parity/autograd/indexing.h"
#include "parity/nn/init.h"
#include "parity/tensor/error.h"
#include "parity/tensor/shape.h"

namespace parity::nn {

Embedding::Embedding(EmbeddingOptions options) : options_(options) {
  PARITY_CHECK(options_.input_dim > 0 && options_.output_dim > 0, "Embedding: input_dim is ", options_.input_dim,
               " and output_dim ", options_.output_dim, ": expected both positive");
}

Shape Embedding::build_impl(const Shape& input_shape, const BuildContext& context) {
  register_parameter("embeddings", init::uniform({options_.input_dim, options_.output_dim}, -0.05, 0.05, context));
  Shape out = input_shape;
  out.push_back(options_.output_dim);
  return out;
}

Tensor Embedding::forward_impl(const Tensor& indices) {  // int64: Module::check_input checked input_dtype()
  Shape out = indices.shape();
  out.push_back(options_.output_dim);
  return index_select(parameter("embeddings"), 0, indices.reshape({indices.numel()})).reshape(out);
}

}  // namespace parity::nn
