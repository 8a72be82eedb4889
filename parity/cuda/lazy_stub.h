// PARITY_LAZY_FUNCTION: one forwarder of cublas_stubs.cpp / cudnn_stubs.cpp
// (Note [CUDA libraries load on first use], lazy_library.h).
#pragma once

#include "parity/cuda/lazy_library.h"

#define PARITY_LAZY_STRINGIFY_(x) #x
#define PARITY_LAZY_STRINGIFY(x) PARITY_LAZY_STRINGIFY_(x)

// Defines `name` with the header's prototype (`params`, called with `args`):
// the library's function is looked up on the first call, the library opened
// then if need be. Hidden: within libparity only.
#define PARITY_LAZY_FUNCTION(library, ret, name, params, args)                                  \
  extern "C" __attribute__((visibility("hidden"))) ret name params {                            \
    using Function = ret(*) params; /* not decltype(&name): cuBLAS overloads some names in C++ */ \
    static const auto function = reinterpret_cast<Function>(                                    \
        ::parity::cuda::detail::library##_library().symbol(PARITY_LAZY_STRINGIFY(name)));        \
    return function args;                                                                       \
  }
