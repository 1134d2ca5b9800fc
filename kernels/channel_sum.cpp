// Device-neutral part of kernels/channel_sum.h.
#include "kernels/channel_sum.h"

#include <algorithm>

namespace rosetta::kernels {

std::int64_t channel_sum_chunks(std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  if (outer <= 0 || channels <= 0 || inner <= 0) return 0;
  // A block per (chunk, channel) when each channel's rows are contiguous runs (inner > 1); a block per chunk and group
  // of channels when the channels are the contiguous axis (inner == 1).
  const std::int64_t wanted = inner > 1 ? (kChannelSumBlocks + channels - 1) / channels : kChannelSumBlocks;
  return std::clamp<std::int64_t>(wanted, 1, outer);
}

std::size_t channel_sum_workspace_bytes(std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  return static_cast<std::size_t>(channel_sum_chunks(outer, channels, inner) * std::max<std::int64_t>(channels, 0)) *
         sizeof(float);
}

}  // namespace rosetta::kernels
