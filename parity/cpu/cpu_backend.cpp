// CPU elementwise ops: each is the shared functor (parity/tensor/functors.h) run by
// the CPU loop (parity/cpu/elementwise.h).
#include "parity/cpu/cpu_backend.h"

#include <cstring>

#include "parity/cpu/elementwise.h"
#include "parity/cpu/elementwise_isa.h"
#include "parity/cpu/host_allocator.h"
#include "parity/tensor/cpu_features.h"
#include "parity/tensor/error.h"
#include "parity/tensor/functors.h"

namespace parity {

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

namespace cpu {

Allocator& CpuBackend::allocator(int) { return host_allocator(); }

const char* name(Isa isa) {
  switch (isa) {
    case Isa::Baseline: return "baseline x86-64";
    case Isa::Avx2: return "AVX2+FMA";
    case Isa::Avx512: return "AVX-512";
  }
  return "?";
}

Isa widest_isa_available() {
#if PARITY_WITH_ISA_KERNELS
  static const Isa isa = cpu_has_avx512_fdvb() ? Isa::Avx512 : cpu_has_avx2_fma() ? Isa::Avx2 : Isa::Baseline;
  return isa;
#else
  return Isa::Baseline;
#endif
}

namespace {
int forced_isa = -1;  // ForceIsa's, or -1
}  // namespace

Isa isa_in_use() { return forced_isa < 0 ? widest_isa_available() : static_cast<Isa>(forced_isa); }

ForceIsa::ForceIsa(Isa isa) : previous_(forced_isa) {
  PARITY_CHECK(isa <= widest_isa_available(), "cpu::ForceIsa: ", name(isa), " asked for, but this build on this CPU runs ",
               name(widest_isa_available()), " at most");
  forced_isa = static_cast<int>(isa);
}

ForceIsa::~ForceIsa() { forced_isa = previous_; }

namespace {
// `isa`'s loop for a wider instruction set (Note [One loop per instruction
// set]); false where it does not cover the op, or for the baseline.
template <typename... Args>
bool run_on_wider_isa(Isa isa, bool (*on_avx512)(Args...), bool (*on_avx2)(Args...), Args... args) {
#if PARITY_WITH_ISA_KERNELS
  if (isa == Isa::Avx512) return on_avx512(args...);
  if (isa == Isa::Avx2) return on_avx2(args...);
#else
  (void)isa, (void)on_avx512, (void)on_avx2, ((void)args, ...);
#endif
  return false;
}
}  // namespace

static bool unary_on(Isa isa, UnaryOp op, const ElementwiseIter& it) {
  if (isa != Isa::Baseline) return run_on_wider_isa<UnaryOp, const ElementwiseIter&>(isa, avx512::unary, avx2::unary, op, it);
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(it.dtypes[0], [&]<typename T>() {
      if constexpr (functors::accepts<T>(F::kAccepts)) elementwise<T, T>(it, f);
    });
  });
  return true;
}

static bool binary_on(Isa isa, BinaryOp op, const ElementwiseIter& it) {
  if (isa != Isa::Baseline) return run_on_wider_isa<BinaryOp, const ElementwiseIter&>(isa, avx512::binary, avx2::binary, op, it);
  functors::visit(op, [&](auto f) {
    using F = decltype(f);
    dispatch_dtype(it.dtypes[1], [&]<typename T>() {
      if constexpr (functors::accepts<T>(F::kAccepts)) {
        elementwise<typename F::template result_t<T>, T, T>(it, f);
      }
    });
  });
  return true;
}

static bool binary_scalar_on(Isa isa, BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first) {
  if (isa != Isa::Baseline) {
    return run_on_wider_isa<BinaryOp, const ElementwiseIter&, Scalar, bool>(isa, avx512::binary_scalar, avx2::binary_scalar,
                                                                             op, it, s, scalar_first);
  }
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
  return true;
}

void CpuBackend::unary(UnaryOp op, const ElementwiseIter& it) {
  if (!unary_on(isa_in_use(), op, it)) unary_on(Isa::Baseline, op, it);
}

void CpuBackend::binary(BinaryOp op, const ElementwiseIter& it) {
  if (!binary_on(isa_in_use(), op, it)) binary_on(Isa::Baseline, op, it);
}

void CpuBackend::binary_scalar(BinaryOp op, const ElementwiseIter& it, Scalar s, bool scalar_first) {
  if (!binary_scalar_on(isa_in_use(), op, it, s, scalar_first)) binary_scalar_on(Isa::Baseline, op, it, s, scalar_first);
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
