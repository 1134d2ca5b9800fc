// GEMM: the CPU reference (plain loops) and the cuBLAS twin, one signature.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/gemm.inc"
}
namespace cuda {
#include "kernels/gemm.inc"
}
ROSETTA_OP(gemm)
}  // namespace rosetta::kernels
