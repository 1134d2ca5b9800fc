// Max pooling (forward and backward; fused with the ReLU and dropout after it, and with the bias gradient before it)
// and global average pooling, in either layout (runtime/layout.h), on float or
// bf16 storage. Declared once (kernels/pool.inc) for the CPU twin (kernels/cpu/pool.cpp) and the CUDA twin
// (kernels/cuda/pool.cu); kernels/reference/pool.h is the plain-loop definition both are tested against.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/dispatch.h"
#include "kernels/dropout_draw.h"
#include "runtime/context.h"
#include "runtime/half.h"
#include "runtime/host_device.h"
#include "runtime/layout.h"

namespace rosetta::kernels {

// A max pooling: input (N, C, H, W) (logical dimensions; stored in the call's layout), a square window, a stride and
// padding that never wins. Output (N, C, OH, OW) with OH = (H + 2 pad - window) / stride + 1 (floor, as
// PyTorch with ceil_mode=False).
struct PoolShape {
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  int window = 0, stride = 1, pad = 0;
  ROSETTA_HD std::int64_t out_h() const { return (h + 2 * pad - window) / stride + 1; }
  ROSETTA_HD std::int64_t out_w() const { return (w + 2 * pad - window) / stride + 1; }
  std::string str() const;  // "(2, 3, 8, 8) window 2 stride 2 pad 0"
};

// Throws unless both twins support the pooling: window and stride >= 1, 0 <= pad <= window / 2 (so every window
// holds an input element, as PyTorch requires), the padded input at least one window, each plane indexable by the
// int32 argmax.
void check_pool_shape(const PoolShape& shape);

// Throws unless the fused pooling can run the shape: check_pool_shape's rules, windows that tile the input (stride ==
// window, no padding, H and W multiples of the window), fewer than 2^31 input elements, and 0 <= channels <= shape.c
// (the unpadded channel count).
void check_tiling_pool_shape(const PoolShape& shape, std::int64_t channels);

namespace cpu {
#include "kernels/pool.inc"
}
namespace cuda {
#include "kernels/pool.inc"
}
ROSETTA_OP(maxpool2d_forward)
ROSETTA_OP(maxpool2d_backward)
ROSETTA_OP(maxpool2d_relu_dropout_forward)
ROSETTA_OP(maxpool2d_relu_dropout_backward)
ROSETTA_OP(global_avgpool_forward)

}  // namespace rosetta::kernels
