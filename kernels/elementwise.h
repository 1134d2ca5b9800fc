// Element-wise kernels: fill, copy, dtype conversion, bias, ReLU, dropout, the fused bias + ReLU + dropout of a
// linear layer and its gradient, and the device step counter. Declared
// once (kernels/elementwise.inc) for the CPU twin (kernels/cpu/elementwise.cpp) and the CUDA twin
// (kernels/cuda/elementwise.cu); kernels::<op>(ctx, ...) runs the twin of ctx's device (kernels/dispatch.h).
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/dropout_draw.h"
#include "runtime/context.h"
#include "runtime/half.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/elementwise.inc"
}
namespace cuda {
#include "kernels/elementwise.inc"
}
ROSETTA_OP(fill)
ROSETTA_OP(copy)
ROSETTA_OP(convert)
ROSETTA_OP(bias_add)
ROSETTA_OP(bias_backward)
ROSETTA_OP(relu_forward)
ROSETTA_OP(relu_backward)
ROSETTA_OP(dropout_forward)
ROSETTA_OP(dropout_backward)
ROSETTA_OP(bias_relu_dropout_forward)
ROSETTA_OP(bias_relu_dropout_backward)
ROSETTA_OP(increment_counter)

}  // namespace rosetta::kernels
