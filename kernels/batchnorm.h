// BatchNorm inference kernels: the CPU reference (kernels/cpu) and the CUDA twin (kernels/cuda), one signature
// (kernels/batchnorm.inc).
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/batchnorm.inc"
}
namespace cuda {
#include "kernels/batchnorm.inc"
}
ROSETTA_OP(batchnorm_inference_forward)
}  // namespace rosetta::kernels
