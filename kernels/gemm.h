// GEMM: the CPU reference (plain loops) and the cuBLAS twin, one signature.
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/gemm.inc"
}
namespace cuda {
#include "kernels/gemm.inc"
}
}  // namespace rosetta::kernels
