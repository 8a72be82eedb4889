// Joining tensors and cutting them apart, as libtorch names them: cat and
// stack make one new tensor from several; split, split_with_sizes and chunk
// return views of one; slice_scatter builds a tensor piecewise (the
// differentiable form of x.slice(...).copy_(src), which autograd refuses on a
// tensor that requires grad). All differentiable on every device: cat's backward
// hands each input its slice of the gradient, and the pieces of split and
// chunk are narrow() views, which record as slices. Nothing broadcasts: the
// shapes must agree except along `dim`. The math lives in copies and views,
// so each backend runs its own copy kernel; there is no join kernel to keep
// twice.
#pragma once

#include <cstdint>
#include <vector>

#include "parity/tensor/tensor.h"

namespace parity {

// The tensors joined along an existing dimension `dim` (negative counts from
// the end). All of one dtype, one device and one rank, their sizes equal but
// along `dim`; at least one.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);

// The tensors, all of one shape, joined along a new dimension `dim` in
// [-(rank + 1), rank].
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);

// Views of x along `dim`, split_size long each (the last one shorter when
// split_size does not divide the size).
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);

// Views of x along `dim` of the given sizes, which must add up to its size there.
std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                     std::int64_t dim = 0);

// x cut into `chunks` views along `dim` of ceil(size / chunks) each (fewer
// when the size runs out first, as torch.chunk).
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);

// A copy of x with x.slice(dim, start, end, step) replaced by src, which must
// have that slice's shape (no broadcasting), dtype and device. The gradient
// reaches x outside the slice and src inside it.
Tensor slice_scatter(const Tensor& x, const Tensor& src, std::int64_t dim, std::int64_t start, std::int64_t end,
                     std::int64_t step = 1);

}  // namespace parity
