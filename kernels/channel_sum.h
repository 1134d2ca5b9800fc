// The geometry of the per-channel sums that end the fused backward ops (the bias gradients of
// kernels/elementwise.inc's bias_relu_dropout_backward and kernels/pool.inc's maxpool2d_relu_dropout_backward) over a
// (outer, channels, inner) view (runtime/layout.h's ChannelView): the CUDA twins cut the outer rows into `chunks`,
// sum each chunk's part of every channel in one pass and the chunks in a second (kernels/cuda/channel_sum.cuh), with
// the partial sums in the context's workspace. Device-neutral so that a layer can grow the workspace at setup, outside
// the step; the CPU twins take no scratch.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rosetta::kernels {

// About kChannelSumBlocks blocks over the view: chunks of the outer rows (at least one row each, at most `outer`
// chunks; 0 for an empty view).
inline constexpr std::int64_t kChannelSumBlocks = 512;
std::int64_t channel_sum_chunks(std::int64_t outer, std::int64_t channels, std::int64_t inner);
// The workspace bytes of the partial sums: chunks x channels floats.
std::size_t channel_sum_workspace_bytes(std::int64_t outer, std::int64_t channels, std::int64_t inner);

}  // namespace rosetta::kernels
