// The CPU's 8-lane AVX2+FMA path of the fused optimizer updates
// (parity/cpu/optim_update_avx2.cpp) over [begin, end) with one set of knobs.
// Each returns false when the build has no AVX2 path; the caller checks the
// running CPU (cpu_has_avx2_fma) first.
#pragma once

#include <cstdint>

#include "parity/optim/launch.h"

namespace parity::cpu {

bool adam_avx2(const optim::kernel::AdamLaunch& launch, const optim::AdamElementwise& k, std::int64_t begin,
               std::int64_t end);
bool adadelta_avx2(const optim::kernel::AdadeltaLaunch& launch, const optim::AdadeltaElementwise& k,
                   std::int64_t begin, std::int64_t end);
bool sgd_avx2(const optim::kernel::SgdLaunch& launch, const optim::SgdElementwise& k, std::int64_t begin,
              std::int64_t end);

}  // namespace parity::cpu
