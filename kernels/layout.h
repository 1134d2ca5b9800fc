// Layout transposes: between the two activation layouts (NCHW <-> NHWC, runtime/layout.h; also with channels
// padded, and a model's parameters between its arena and their working copies) and between the two sequence orders
// ((T, N, C) <-> (N, T, C)). Declared once (kernels/layout.inc) for the CPU twin
// (kernels/cpu/layout.cpp) and the CUDA twin (kernels/cuda/layout.cu). Also the argument check of the ops that
// view a tensor per channel (bias, batch norm, epilogues: runtime/layout.h's ChannelView).
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"
#include "runtime/host_device.h"
#include "runtime/layout.h"

namespace rosetta::kernels {

// One parameter's copy between a model's arena (float, PyTorch's order and shape: the checkpoint's) and the working
// copy a step computes with. The arena holds it as (k, c, s): a convolution's weight (K, C, R*S), a linear weight
// (out, in, 1), a bias (K, 1, 1); the working copy as (k_padded, c_padded, s), or (k_padded, s, c_padded) in NHWC (a
// filter's (K, R, S, C)), where rows k.. and channels c.. are zero padding (channels padded to a tensor-core width).
struct ParameterCopy {
  std::int64_t arena = 0;    // element offset of the parameter in the arena
  std::int64_t working = 0;  // element offset of its copy in the working buffer (weights or biases)
  std::int64_t k = 0, c = 1, s = 1, k_padded = 0, c_padded = 1;
  Layout layout = Layout::nchw;
  bool bias = false;  // in the biases buffer, not the weights buffer
  ROSETTA_HD std::int64_t working_elements() const { return k_padded * c_padded * s; }
  ROSETTA_HD std::int64_t arena_elements() const { return k * c * s; }
};

// The copies one launch makes (a kernel argument, so a fixed array).
struct ParameterCopies {
  static constexpr int kMax = 16;
  int count = 0;
  ParameterCopy copy[kMax];
  // Appends `c` at the end of its working buffer (its `working` offset is set here) and returns that offset. Throws
  // when full or when c's dimensions are not 0 < k <= k_padded, 0 < c <= c_padded, s > 0.
  std::int64_t add(ParameterCopy c);
  // The elements of the working buffer of weights (bias false) or biases (bias true).
  std::int64_t working_elements(bool bias) const;
};

namespace cpu {
#include "kernels/layout.inc"
}
namespace cuda {
#include "kernels/layout.inc"
}
ROSETTA_OP(change_layout)
ROSETTA_OP(swap_leading_axes)
ROSETTA_OP(relayout_channels)
ROSETTA_OP(stage_parameters)
ROSETTA_OP(unstage_gradients)

// Throws unless (outer, channels, inner) is a per-channel view an op can walk (outer >= 0, channels > 0, inner > 0).
// `op` names the caller in the message.
void check_channel_view(const char* op, std::int64_t outer, std::int64_t channels, std::int64_t inner);

}  // namespace rosetta::kernels
