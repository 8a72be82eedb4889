// Reductions built from the tensor ops (so differentiable through theirs, and
// the same math on every backend): variance, standard deviation and
// log-sum-exp. Dims as for sum: all of them when empty, negative ones counted
// from the end; keepdim keeps them as size 1. Floating tensors only.
#pragma once

#include <cstdint>
#include <vector>

#include "parity/tensor/tensor.h"

namespace parity {

// sum((x - mean(x))^2) / (n - correction) over the dims, n the number of
// elements reduced: correction 1 (the default) is the unbiased sample variance
// (torch.var, numpy's ddof=1), 0 the population variance (Keras' and
// LayerNorm's). n <= correction gives NaN or infinity, as in PyTorch. Two
// passes (the mean, then the squared deviations), not the one-pass formula
// that cancels.
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1,
           bool keepdim = false);
// sqrt(var(x, dims, correction, keepdim)).
Tensor std(const Tensor& x, const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1,
           bool keepdim = false);

// log(sum(exp(x))) over the dims, computed as m + log(sum(exp(x - m))) with
// m the maximum (taken as 0 where it is infinite), so it neither overflows nor
// underflows; its gradient is softmax(x) over the dims.
Tensor logsumexp(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);

}  // namespace parity
