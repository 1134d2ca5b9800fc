// Softmax cross-entropy and accuracy counting: CPU reference and CUDA twin, one signature.
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/loss.inc"
}
namespace cuda {
#include "kernels/loss.inc"
}
}  // namespace rosetta::kernels
