// Composed mode (Note [Fused and composed], parity/optim/optimizer.h): the update
// functors of parity/optim/update.h run with tensors as values, so every ⊕ ⊗ ⊘ is a
// separate tensor op (parity::add, mul, div, sqrt, ...) over the whole tensor.
// Internal to optim/.
#pragma once

#include <cstdint>

#include "parity/optim/update.h"
#include "parity/tensor/tensor.h"

namespace parity::optim::composed {

// p, g, state: contiguous tensors of one shape (views of the real ones).
// body_end splits them as the fused kernels do.
void adam(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& vmax,
          std::int64_t body_end, const AdamElementwise& body, const AdamElementwise& tail,
          const kernel::AdamScalars& s);
void adadelta(const Tensor& p, const Tensor& g, const Tensor& a, const Tensor& d, std::int64_t body_end,
              const AdadeltaElementwise& body, const AdadeltaElementwise& tail,
              const kernel::AdadeltaScalars& s);
void sgd(const Tensor& p, const Tensor& g, const Tensor& buf, std::int64_t body_end,
         const SgdElementwise& body, const SgdElementwise& tail, const kernel::SgdScalars& s);

}  // namespace parity::optim::composed
