// CUDA dtype conversion and same-device copies (copy_ and contiguous() come
// here with equal dtypes): functors::Cast run by the elementwise launcher, for
// every pair of dtypes.
#include "parity/cuda/cuda_backend.h"
#include "parity/cuda/elementwise.cuh"
#include "parity/tensor/functors.h"

namespace parity::cuda {

void CudaBackend::cast(const ElementwiseIter& it) {
  dispatch_dtype(it.dtypes[0], [&]<typename To>() {
    dispatch_dtype(it.dtypes[1],
                   [&]<typename From>() { launch_elementwise<To, From>(it, functors::Cast<To>{}); });
  });
}

}  // namespace parity::cuda
