// Softmax cross-entropy and accuracy counting on float or bf16 logits: CPU reference and CUDA twin, one signature.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/loss.inc"
}
namespace cuda {
#include "kernels/loss.inc"
}
ROSETTA_OP(softmax_cross_entropy)
ROSETTA_OP(count_correct)
}  // namespace rosetta::kernels
