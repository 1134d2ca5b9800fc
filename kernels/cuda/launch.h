// Launch geometry shared by the element-wise CUDA kernels: one-dimensional grids over n elements, walked with a
// grid-stride loop so any n fits a capped grid.
//
//   __global__ void relu_kernel(const float* x, float* y, std::int64_t n) {
//     for (const std::int64_t i : grid_stride(n)) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
//   }
//   relu_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace rosetta::kernels::cuda {

constexpr int kThreads = 256;

// Enough blocks to cover n once, capped so huge tensors use the grid-stride loop instead of a giant grid.
inline unsigned int grid_for(std::int64_t n) {
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(std::clamp<std::int64_t>(blocks, 1, 65535LL * 8));
}

// The indices i < n of the calling thread: its global index, then steps of the whole grid's size.
struct GridStride {
  struct End {};
  struct Iterator {
    std::int64_t i, step, n;
    __device__ std::int64_t operator*() const { return i; }
    __device__ Iterator& operator++() {
      i += step;
      return *this;
    }
    __device__ bool operator!=(End) const { return i < n; }
  };
  std::int64_t first, step, n;
  __device__ Iterator begin() const { return {first, step, n}; }
  __device__ End end() const { return {}; }
};

__device__ inline GridStride grid_stride(std::int64_t n) {
  return {blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x, std::int64_t(blockDim.x) * gridDim.x, n};
}

}  // namespace rosetta::kernels::cuda
