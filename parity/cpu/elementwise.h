// The CPU elementwise loop: runs a functor of parity/tensor/functors.h over an
// ElementwiseIter (Note [One formula, two backends]).
//
// Dense operands take a flat loop the compiler vectorizes; anything else walks
// the coalesced dims with strides, innermost dim in the inner loop. Work is
// split in fixed chunks of the flat index range across OpenMP threads.
#pragma once

#include <cstdint>
#include <tuple>
#include <utility>

#include "parity/cpu/parallel.h"
#include "parity/tensor/elementwise_iter.h"

namespace parity::cpu {

namespace detail {

template <typename Isa, typename Out, typename... In, typename F, std::size_t... K>
void dense_loop(const ElementwiseIter& it, const F& f, std::index_sequence<K...>) {
  Out* __restrict out = reinterpret_cast<Out*>(it.data[0]);
  const std::tuple<const In*...> in{reinterpret_cast<const In*>(it.data[K + 1])...};
  parallel_for(it.numel, kGrainSize, [&](std::int64_t begin, std::int64_t end) {
    [[maybe_unused]] const std::tuple<const In*...> p = in;
    for (std::int64_t i = begin; i < end; ++i) out[i] = f(std::get<K>(p)[i]...);
  });
}

template <typename Isa, typename Out, typename... In, typename F, std::size_t... K>
void strided_loop(const ElementwiseIter& it, const F& f, std::index_sequence<K...>) {
  const int nd = it.ndim;
  const std::int64_t inner = it.shape[nd - 1];
  parallel_for(it.numel, kGrainSize, [&](std::int64_t begin, std::int64_t end) {
    // Coordinates of `begin`, then runs along the innermost dim.
    std::int64_t coord[kMaxDims];
    std::int64_t rest = begin;
    for (int d = nd - 1; d >= 0; --d) {
      coord[d] = rest % it.shape[d];
      rest /= it.shape[d];
    }
    std::int64_t pos = begin;
    while (pos < end) {
      std::int64_t offset[sizeof...(In) + 1] = {};
      for (int d = 0; d < nd; ++d) {
        for (std::size_t k = 0; k <= sizeof...(In); ++k) offset[k] += coord[d] * it.strides[k][d];
      }
      const std::int64_t run = std::min(inner - coord[nd - 1], end - pos);
      Out* out = reinterpret_cast<Out*>(it.data[0]) + offset[0];
      const std::int64_t so = it.strides[0][nd - 1];
      [[maybe_unused]] const std::int64_t s[] = {it.strides[K + 1][nd - 1]..., 0};
      const std::tuple<const In*...> in{reinterpret_cast<const In*>(it.data[K + 1]) + offset[K + 1]...};
      for (std::int64_t j = 0; j < run; ++j) out[j * so] = f(std::get<K>(in)[j * s[K]]...);
      pos += run;
      coord[nd - 1] += run;
      for (int d = nd - 1; d > 0 && coord[d] == it.shape[d]; --d) {
        coord[d] = 0;
        ++coord[d - 1];
      }
    }
  });
}

// A flat loop in which the inputs whose bit is set in Scalars are one value
// broadcast to every element (stride 0): the compiler hoists their load and
// vectorizes the rest, as for dense operands.
template <typename Isa, unsigned Scalars, typename Out, typename... In, typename F, std::size_t... K>
void dense_with_scalars_loop(const ElementwiseIter& it, const F& f, std::index_sequence<K...>) {
  Out* __restrict out = reinterpret_cast<Out*>(it.data[0]);
  const std::tuple<const In*...> in{reinterpret_cast<const In*>(it.data[K + 1])...};
  parallel_for(it.numel, kGrainSize, [&](std::int64_t begin, std::int64_t end) {
    [[maybe_unused]] const std::tuple<const In*...> p = in;
    for (std::int64_t i = begin; i < end; ++i) {
      out[i] = f(std::get<K>(p)[(Scalars >> K) & 1u ? 0 : i]...);
    }
  });
}

// The pattern of a one-dim iteration with a dense output whose inputs are each
// dense or a broadcast value (where(mask, g, 0), an op with a 0-dim tensor or an
// expanded scalar): bit k set for a broadcast input k; -1 for anything else.
inline int broadcast_pattern(const ElementwiseIter& it, int inputs) {
  if (it.ndim != 1 || it.strides[0][0] != 1) return -1;
  int pattern = 0;
  for (int k = 0; k < inputs; ++k) {
    const std::int64_t s = it.strides[k + 1][0];
    if (s == 0) pattern |= 1 << k;
    else if (s != 1) return -1;
  }
  return pattern;
}

template <typename Isa, typename Out, typename... In, typename F, unsigned... Patterns>
bool run_broadcast_pattern(const ElementwiseIter& it, const F& f, int pattern,
                           std::integer_sequence<unsigned, Patterns...>) {
  return ((pattern == static_cast<int>(Patterns) &&
           (dense_with_scalars_loop<Isa, Patterns, Out, In...>(it, f, std::index_sequence_for<In...>{}), true)) ||
          ...);
}

}  // namespace detail

// The instruction set a loop is compiled for (Note [One loop per instruction
// set]): the baseline of the library's build, or a tag local to one of the
// per-ISA files (parity/cpu/elementwise_isa.h).
struct BaselineIsa {};

// out[i] = f(in_0[i], ..., in_n[i]) over the iteration; Out and In... are the
// operands' element types (already checked against it.dtypes by the caller).
// Every path applies the same f to the same elements: the bits do not depend on it.
template <typename Isa, typename Out, typename... In, typename F>
void elementwise_on(const ElementwiseIter& it, const F& f) {
  if (it.numel == 0) return;
  if (it.is_contiguous()) {
    detail::dense_loop<Isa, Out, In...>(it, f, std::index_sequence_for<In...>{});
    return;
  }
  constexpr unsigned kPatterns = 1u << sizeof...(In);
  const int pattern = detail::broadcast_pattern(it, static_cast<int>(sizeof...(In)));
  if (pattern > 0 && detail::run_broadcast_pattern<Isa, Out, In...>(
                         it, f, pattern, std::make_integer_sequence<unsigned, kPatterns>{})) {
    return;
  }
  detail::strided_loop<Isa, Out, In...>(it, f, std::index_sequence_for<In...>{});
}

template <typename Out, typename... In, typename F>
void elementwise(const ElementwiseIter& it, const F& f) {
  elementwise_on<BaselineIsa, Out, In...>(it, f);
}

}  // namespace parity::cpu
