// The bottleneck block's epilogue, y = act((y + z) + bias), on float or bf16 storage: declared once
// (kernels/residual.inc) for the CPU twin (kernels/cpu/residual.cpp) and the CUDA twin (kernels/cuda/residual.cu).
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/residual.inc"
}
namespace cuda {
#include "kernels/residual.inc"
}
ROSETTA_OP(bias_residual_activation)

}  // namespace rosetta::kernels
