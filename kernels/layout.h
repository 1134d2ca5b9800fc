// Layout transposes: between the two activation layouts (NCHW <-> NHWC, runtime/layout.h; images into NHWC with
// padded channels) and between the two sequence orders ((T, N, C) <-> (N, T, C)). Declared once (kernels/layout.inc) for the CPU twin
// (kernels/cpu/layout.cpp) and the CUDA twin (kernels/cuda/layout.cu). Also the argument check of the ops that
// view a tensor per channel (bias, batch norm, epilogues: runtime/layout.h's ChannelView).
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"
#include "runtime/layout.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/layout.inc"
}
namespace cuda {
#include "kernels/layout.inc"
}
ROSETTA_OP(change_layout)
ROSETTA_OP(swap_leading_axes)
ROSETTA_OP(pack_channels_last)

// Throws unless (outer, channels, inner) is a per-channel view an op can walk (outer >= 0, channels > 0, inner > 0).
// `op` names the caller in the message.
void check_channel_view(const char* op, std::int64_t outer, std::int64_t channels, std::int64_t inner);

}  // namespace rosetta::kernels
