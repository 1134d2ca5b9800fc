// BatchNorm inference kernels: the CPU reference (kernels/cpu) and the CUDA twin (kernels/cuda), one signature
// (kernels/batchnorm.inc).
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/batchnorm.inc"
}
namespace cuda {
#include "kernels/batchnorm.inc"
}
}  // namespace rosetta::kernels
