// Indexed reads and accumulations, as libtorch names them. All differentiable
// in their floating inputs on every device, with deterministic accumulation:
// scatter_add and index_add add each element's contributions in a fixed order
// (their position in `src`), on the CPU and on the GPU alike (no atomics), so
// they and the gradients of gather and index_select repeat bit for bit and
// agree across devices. The index is int64, on x's device, and its entries must
// lie in [0, x.size(dim)) (checked: an error, never a wild read).
#pragma once

#include <cstdint>

#include "parity/tensor/tensor.h"

namespace parity {

// out[...][j][...] = x[...][index[...][j][...]][...] along `dim`: out has the
// index's shape; the index has x's rank and x's sizes but along dim (stricter
// than torch.gather, which also takes smaller sizes there).
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);

// A copy of x with src[...][j][...] added at x[...][index[...][j][...]][...]
// along dim; index and src of one shape, x's but along dim. The gradient
// reaches x whole and src through gather.
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

// The slices of x along dim that a 1-D index names, in its order (repeats
// allowed): x's shape with index.numel() along dim.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);

// A copy of x with slice j of src added at slice index[j] along dim; src has
// x's shape with index.numel() along dim.
Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace parity
