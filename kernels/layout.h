// Layout transposes (NCHW <-> NHWC): the CPU twin (kernels/cpu/layout.cpp) and the CUDA twin
// (kernels/cuda/layout.cu), one signature (kernels/layout.inc).
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/layout.inc"
}
namespace cuda {
#include "kernels/layout.inc"
}
}  // namespace rosetta::kernels
