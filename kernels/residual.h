// Residual epilogue kernels: the CPU reference (kernels/cpu) and the CUDA twin (kernels/cuda), one signature
// (kernels/residual.inc).
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/residual.inc"
}
namespace cuda {
#include "kernels/residual.inc"
}
}  // namespace rosetta::kernels
