// Element-wise kernels: the CPU reference (kernels/cpu) and the CUDA twin (kernels/cuda), one signature.
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/elementwise.inc"
}
namespace cuda {
#include "kernels/elementwise.inc"
}
}  // namespace rosetta::kernels
