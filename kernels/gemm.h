// GEMM on float or bf16 operands: the CPU twin (the packed GEMM of kernels/cpu/blocked_gemm.h) and the cuBLAS twin,
// one signature.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/gemm.inc"
}
namespace cuda {
#include "kernels/gemm.inc"
}
ROSETTA_OP(gemm)
}  // namespace rosetta::kernels
