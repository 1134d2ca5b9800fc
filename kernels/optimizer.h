// SGD with momentum and Adam over a contiguous parameter arena: CPU reference and CUDA twin.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/optimizer.inc"
}
namespace cuda {
#include "kernels/optimizer.inc"
}
ROSETTA_OP(sgd_momentum_update)
ROSETTA_OP(adam_update)
}  // namespace rosetta::kernels
