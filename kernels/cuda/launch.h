// Launch geometry shared by the element-wise CUDA kernels: grid-stride loops over n elements.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace rosetta::kernels::cuda {

constexpr int kThreads = 256;

// Enough blocks to cover n once, capped so huge tensors use a grid-stride loop instead of a giant grid.
inline unsigned int grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(std::clamp<std::int64_t>(blocks, 1, 65535LL * 8));
}

}  // namespace rosetta::kernels::cuda
