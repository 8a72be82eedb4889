// CPU elementwise ops: each is the shared functor (parity/tensor/functors.h) run by
// the CPU loop (parity/cpu/elementwise.h).
#include "parity/cpu/cpu_backend.h"

#include <cstring>

#include "parity/cpu/elementwise.h"
#include "parity/cpu/host_allocator.h"
#include "parity/tensor/error.h"
#include "parity/tensor/functors.h"

namespace parity {

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

namespace cpu {

Allocator& CpuBackend::allocator(int) { return host_allocator(); }

void CpuBackend::unary(UnaryOp op, const ElementwiseIter& it) {
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(it.dtypes[0], [&]<typename T>() {
      if constexpr (functors::accepts<T>(F::kAccepts)) elementwise<T, T>(it, f);
    });
  });
}

void CpuBackend::binary(BinaryOp op, const ElementwiseIter& it) {
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(it.dtypes[1], [&]<typename T>() {
      if constexpr (functors::accepts<T>(F::kAccepts)) {
        elementwise<typename F::template result_t<T>, T, T>(it, f);
      }
    });
  });
}

void CpuBackend::binary_scalar(BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first) {
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(it.dtypes[1], [&]<typename T>() {
      if constexpr (functors::accepts<T>(F::kAccepts)) {
        using R = typename F::template result_t<T>;
        if (scalar_first) elementwise<R, T>(it, functors::BindScalar<F, T, true>{f, s.to<T>()});
        else elementwise<R, T>(it, functors::BindScalar<F, T, false>{f, s.to<T>()});
      }
    });
  });
}

void CpuBackend::where(const ElementwiseIter& it) {
  dispatch_dtype(it.dtypes[0], [&]<typename T>() {
    elementwise<T, bool, T, T>(it, [](bool c, T a, T b) { return functors::Where{}(c, a, b); });
  });
}

void CpuBackend::clamp(const ElementwiseIter& it, Scalar lo, Scalar hi) {
  dispatch_dtype(it.dtypes[0], [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      elementwise<T, T>(it, functors::Clamp<T>{lo.to<T>(), hi.to<T>()});
    }
  });
}

void CpuBackend::cast(const ElementwiseIter& it) {
  dispatch_dtype(it.dtypes[0], [&]<typename To>() {
    dispatch_dtype(it.dtypes[1], [&]<typename From>() {
      elementwise<To, From>(it, [](From x) { return functors::Cast<To>{}(x); });
    });
  });
}

void CpuBackend::fill(const ElementwiseIter& it, Scalar value) {
  dispatch_dtype(it.dtypes[0], [&]<typename T>() {
    const T v = value.to<T>();
    elementwise<T>(it, [v]() { return v; });
  });
}

void CpuBackend::copy_to_host(void* host_dst, const void* src, std::size_t nbytes, int) {
  std::memcpy(host_dst, src, nbytes);
}

void CpuBackend::copy_from_host(void* dst, const void* host_src, std::size_t nbytes, int) {
  std::memcpy(dst, host_src, nbytes);
}

}  // namespace cpu
}  // namespace parity
