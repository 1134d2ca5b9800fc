// Deterministic per-channel sums of the values an element-wise pass computes over an (outer, channels, inner) view
// (runtime/layout.h's ChannelView): the bias gradients that end the fused backward ops (kernels/cuda/
// elementwise_fused.cu, kernels/cuda/pool_fused.cu). Two launches on ctx's stream, chunks from kernels/channel_sum.h:
//   1. each block runs the op's element function over one chunk of outer rows, V elements at a time that are
//      consecutive in memory (along inner when inner > 1: grid (chunks, channels); along the channels when inner == 1:
//      grid (chunks, channel groups of 32 V)), and writes, per channel, the sum of the values the function returned
//      to partials[chunk][c]: each thread adds its own values in order, then the block adds its threads in a fixed
//      order (a tree over the threads, or the 8 rows of a (32, 8) block one after another);
//   2. thread c adds partials[0..chunks)[c] in chunk order and writes sums[c] rounded through T (a float holding a
//      value of T's precision).
// No atomics and fixed shapes: the same inputs give the same bits on every run. Index math is 32-bit: the caller
// checks that the view has fewer than 2^31 elements.
//
// The element function: `template <int V> __device__ void apply(int o, int c, int i, float (&g)[V]) const`, which
// handles the V elements from (o, c, i) on (i .. i + V - 1 when inner > 1, c .. c + V - 1 when inner == 1), does its
// own loads and writes, and returns their values in g.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/channel_sum.h"
#include "kernels/cuda/launch.h"
#include "runtime/cuda_check.h"
#include "runtime/half.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cuda {

constexpr int kRowLanes = 32, kRowWarps = 8;  // the (32, 8) block of the inner == 1 pass

// The first outer row of chunk k of `chunks` over `outer` rows.
__device__ __forceinline__ int chunk_begin(int k, int chunks, int outer) {
  return static_cast<int>(static_cast<std::int64_t>(k) * outer / chunks);
}

// inner > 1: block (chunk, channel c); V divides inner.
template <int V, typename Element>
__global__ void __launch_bounds__(kThreads)
    channel_sum_inner_kernel(Element element, int outer, int channels, int inner, float* partials) {
  __shared__ float tree[kThreads];
  const int chunk = blockIdx.x, chunks = gridDim.x, c = blockIdx.y;
  const int o_begin = chunk_begin(chunk, chunks, outer), o_end = chunk_begin(chunk + 1, chunks, outer);
  const int vectors_per_row = inner / V, count = (o_end - o_begin) * vectors_per_row;
  float sum = 0;
  for (int j = threadIdx.x; j < count; j += kThreads) {
    float g[V];
    element.template apply<V>(o_begin + j / vectors_per_row, c, (j % vectors_per_row) * V, g);
#pragma unroll
    for (int v = 0; v < V; ++v) sum += g[v];
  }
  tree[threadIdx.x] = sum;
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) tree[threadIdx.x] += tree[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[chunk * channels + c] = tree[0];
}

// inner == 1: block (kRowLanes, kRowWarps) = (channel vectors, rows); V divides channels.
template <int V, typename Element>
__global__ void __launch_bounds__(kRowLanes* kRowWarps)
    channel_sum_rows_kernel(Element element, int outer, int channels, float* partials) {
  __shared__ float rows[kRowWarps][kRowLanes * V];
  const int chunk = blockIdx.x, chunks = gridDim.x;
  const int c0 = (blockIdx.y * kRowLanes + threadIdx.x) * V;
  const int o_begin = chunk_begin(chunk, chunks, outer), o_end = chunk_begin(chunk + 1, chunks, outer);
  float sum[V] = {};
  if (c0 < channels) {
    for (int o = o_begin + threadIdx.y; o < o_end; o += kRowWarps) {
      float g[V];
      element.template apply<V>(o, c0, 0, g);
#pragma unroll
      for (int v = 0; v < V; ++v) sum[v] += g[v];
    }
  }
#pragma unroll
  for (int v = 0; v < V; ++v) rows[threadIdx.y][threadIdx.x * V + v] = sum[v];
  __syncthreads();
  if (threadIdx.y != 0 || c0 >= channels) return;
#pragma unroll
  for (int v = 0; v < V; ++v) {
    float total = rows[0][threadIdx.x * V + v];
    for (int y = 1; y < kRowWarps; ++y) total += rows[y][threadIdx.x * V + v];
    partials[chunk * channels + c0 + v] = total;
  }
}

template <typename T>
__global__ void channel_sum_finish_kernel(const float* partials, int chunks, int channels, float* sums) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  float total = 0;
  for (int k = 0; k < chunks; ++k) total += partials[k * channels + c];
  sums[c] = static_cast<float>(T(total));
}

// Runs `element` over the view and writes sums (channels) float rounded through T. V: the vector width when the view
// and the element function's pointers allow it (the caller decides), else 1.
template <typename T, int V, typename Element>
void run_channel_sum(const Context& ctx, const Element& element, std::int64_t outer, std::int64_t channels,
                     std::int64_t inner, float* sums, const char* op) {
  const std::int64_t chunks = channel_sum_chunks(outer, channels, inner);
  ROSETTA_CHECK(outer * channels * inner < (std::int64_t(1) << 31) && channels <= 65535,
                op << " of (" << outer << ", " << channels << ", " << inner << "): beyond 32-bit indexing");
  if (chunks == 0) {  // no rows: every sum is 0
    ROSETTA_CUDA_CHECK(cudaMemsetAsync(sums, 0, sizeof(float) * static_cast<std::size_t>(channels), ctx.stream()));
    return;
  }
  float* partials = carve_workspace(ctx, [&](Carver& c) { return c.take<float>(chunks * channels); });
  const int o = static_cast<int>(outer), k = static_cast<int>(channels), n = static_cast<int>(inner);
  if (inner > 1) {
    channel_sum_inner_kernel<V><<<dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(k)), kThreads, 0,
                                  ctx.stream()>>>(element, o, k, n, partials);
  } else {
    const unsigned groups = static_cast<unsigned>((channels + kRowLanes * V - 1) / (kRowLanes * V));
    channel_sum_rows_kernel<V><<<dim3(static_cast<unsigned>(chunks), groups), dim3(kRowLanes, kRowWarps), 0,
                                 ctx.stream()>>>(element, o, k, partials);
  }
  ROSETTA_LAUNCH_CHECK(op << " (" << outer << ", " << channels << ", " << inner << "), V " << V);
  channel_sum_finish_kernel<T><<<static_cast<unsigned>((channels + kThreads - 1) / kThreads), kThreads, 0,
                                 ctx.stream()>>>(partials, static_cast<int>(chunks), k, sums);
  ROSETTA_LAUNCH_CHECK(op << " channel sums (" << chunks << " chunks, " << channels << " channels)");
}

}  // namespace rosetta::kernels::cuda
