// CUDA twin of kernels/embedding.inc.
//
// Forward: one thread per output element; a bad id (outside [0, V)) gives a NaN row and no read of the table.
// Backward, deterministic and free of float atomics:
//   1. keys = ids with every bad id (outside [0, V)) replaced by V, positions = 0, 1, ..., count-1 (one kernel);
//   2. CUB's stable radix sort of (key, position) pairs over the low key_bits(V) bits only, the fewest that hold
//      0..V (15 for IMDB's 30,000 words: two 8-bit digit passes instead of four): keys ascending, and the positions
//      of one key ascending, whatever the schedule; the bad ids, all V, sort into one run of their own after every
//      valid id, which step 4 skips (so a bad id can never alias a valid one's low bits);
//   3. d_table = 0 (memset);
//   4. one block per run of equal ids (grid-stride over sorted indices; the block whose index starts a run takes
//      it): thread (lane, slice) sums the rows p_slice, p_{slice+S}, ... of four 32-column groups of d_out, the
//      slices land in shared memory and slice 0 adds them in order s = 0..S-1: kernels/embedding.h's order, which
//      the CPU twin follows too, so both give the same bits.
// Scratch (sorted ids, positions, sorted positions, CUB's temporary storage) is the context's workspace.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <cmath>

#include "kernels/cuda/launch.h"
#include "kernels/embedding.h"
#include "runtime/cuda_check.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cuda {
namespace {

constexpr int kLanes = 32;
constexpr int kGroupsPerThread = 4;                        // 32-column groups one thread sums at once
constexpr int kColumnsPerPass = kLanes * kGroupsPerThread;  // 128
// ids (count) -> out (count, dim)
__global__ void embedding_forward_kernel(const std::int32_t* ids, const float* table, float* out, std::int64_t count,
                                         std::int64_t vocab, std::int64_t dim) {
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < count * dim;
       e += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int32_t id = ids[e / dim];
    out[e] = id >= 0 && id < vocab ? table[id * dim + e % dim] : NAN;
  }
}

// keys (count): ids with bad ones replaced by vocab; positions (count) = 0, 1, ...
__global__ void sort_input_kernel(const std::int32_t* ids, std::int32_t* keys, std::int32_t* positions,
                                  std::int64_t count, std::int64_t vocab) {
  for (std::int64_t p = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; p < count;
       p += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int32_t id = ids[p];
    keys[p] = id >= 0 && id < vocab ? id : static_cast<std::int32_t>(vocab);
    positions[p] = static_cast<std::int32_t>(p);
  }
}

// sorted_ids, sorted_positions (count): the stable sort of (ids, 0..count-1). Block (kLanes, kEmbeddingSlices).
__global__ void __launch_bounds__(kLanes* kEmbeddingSlices)
    embedding_run_sums(const std::int32_t* sorted_ids, const std::int32_t* sorted_positions, const float* d_out,
                       float* d_table, std::int64_t count, std::int64_t vocab, std::int64_t dim) {
  __shared__ float partial[kEmbeddingSlices][kColumnsPerPass];
  const int lane = threadIdx.x, slice = threadIdx.y;
  for (std::int64_t i = blockIdx.x; i < count; i += gridDim.x) {
    const std::int32_t id = sorted_ids[i];
    // The same for every thread of the block, so the barriers below are reached by all or none.
    if ((i > 0 && sorted_ids[i - 1] == id) || id < 0 || id >= vocab) continue;
    for (std::int64_t column0 = 0; column0 < dim; column0 += kColumnsPerPass) {
      float sum[kGroupsPerThread] = {};
      for (std::int64_t j = i + slice; j < count && sorted_ids[j] == id; j += kEmbeddingSlices) {
        const float* row = d_out + std::int64_t(sorted_positions[j]) * dim + column0;
#pragma unroll
        for (int g = 0; g < kGroupsPerThread; ++g)
          if (column0 + g * kLanes + lane < dim) sum[g] += row[g * kLanes + lane];
      }
#pragma unroll
      for (int g = 0; g < kGroupsPerThread; ++g) partial[slice][g * kLanes + lane] = sum[g];
      __syncthreads();
      if (slice == 0) {
#pragma unroll
        for (int g = 0; g < kGroupsPerThread; ++g) {
          const std::int64_t column = column0 + g * kLanes + lane;
          if (column >= dim) continue;
          float total = partial[0][g * kLanes + lane];
          for (int s = 1; s < kEmbeddingSlices; ++s) total += partial[s][g * kLanes + lane];
          d_table[id * dim + column] = total;
        }
      }
      __syncthreads();
    }
  }
}

// The key bits the sort looks at: the fewest that hold every key 0..vocab (a valid id or the bad ids' vocab).
int key_bits(std::int64_t vocab) {
  int bits = 1;
  while (bits < 31 && (std::int64_t{1} << bits) <= vocab) ++bits;
  return bits;
}

std::size_t sort_bytes(std::int64_t count, std::int64_t vocab) {
  std::size_t bytes = 0;
  ROSETTA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const std::int32_t*>(nullptr),
                                                     static_cast<std::int32_t*>(nullptr),
                                                     static_cast<const std::int32_t*>(nullptr),
                                                     static_cast<std::int32_t*>(nullptr), static_cast<int>(count), 0,
                                                     key_bits(vocab)));
  return bytes;
}

// The backward's scratch.
struct Scratch {
  std::int32_t* keys;              // (count): the ids, bad ones replaced by vocab
  std::int32_t* sorted_ids;        // (count)
  std::int32_t* positions;         // (count)
  std::int32_t* sorted_positions;  // (count)
  char* sort_temp;                 // (sort_temp_bytes): CUB's temporary storage
  std::size_t sort_temp_bytes;
};
Scratch lay_out(Carver& c, std::int64_t count, std::int64_t vocab) {
  const std::size_t temp_bytes = sort_bytes(count, vocab);
  return {c.take<std::int32_t>(count), c.take<std::int32_t>(count), c.take<std::int32_t>(count),
          c.take<std::int32_t>(count), c.take<char>(static_cast<std::int64_t>(temp_bytes)), temp_bytes};
}

}  // namespace

void embedding_forward(const Context& ctx, const std::int32_t* ids, const float* table, float* out, std::int64_t count,
                       std::int64_t vocab, std::int64_t dim) {
  if (count * dim == 0) return;
  embedding_forward_kernel<<<grid_for(count * dim), kThreads, 0, ctx.stream()>>>(ids, table, out, count, vocab, dim);
  ROSETTA_LAUNCH_CHECK("embedding_forward count=" << count << " table (" << vocab << ", " << dim << ")");
}

std::size_t embedding_backward_workspace_bytes(const Context&, std::int64_t count, std::int64_t vocab) {
  ROSETTA_CHECK(count >= 0 && count <= 2147483647, "embedding: " << count << " ids exceed CUB's int range");
  ROSETTA_CHECK(vocab >= 1 && vocab < 2147483647, "embedding: a table of " << vocab << " rows, expected [1, 2^31 - 1)");
  return workspace_bytes([&](Carver& c) { return lay_out(c, count, vocab); });
}

void embedding_backward(const Context& ctx, const std::int32_t* ids, const float* d_out, float* d_table,
                        std::int64_t count, std::int64_t vocab, std::int64_t dim) {
  const std::size_t table_bytes = static_cast<std::size_t>(vocab * dim) * sizeof(float);
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(d_table, 0, table_bytes, ctx.stream()));
  if (count == 0) return;
  Scratch scratch = carve_workspace(ctx, [&](Carver& c) { return lay_out(c, count, vocab); });
  sort_input_kernel<<<grid_for(count), kThreads, 0, ctx.stream()>>>(ids, scratch.keys, scratch.positions, count,
                                                                    vocab);
  ROSETTA_LAUNCH_CHECK("embedding_backward sort input count=" << count << " vocab=" << vocab);
  ROSETTA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch.sort_temp, scratch.sort_temp_bytes, scratch.keys,
                                                     scratch.sorted_ids, scratch.positions, scratch.sorted_positions,
                                                     static_cast<int>(count), 0, key_bits(vocab), ctx.stream()));
  const unsigned int blocks = static_cast<unsigned int>(std::min<std::int64_t>(count, 4096));
  embedding_run_sums<<<blocks, dim3(kLanes, kEmbeddingSlices), 0, ctx.stream()>>>(
      scratch.sorted_ids, scratch.sorted_positions, d_out, d_table, count, vocab, dim);
  ROSETTA_LAUNCH_CHECK("embedding_backward run sums count=" << count << " table (" << vocab << ", " << dim << ")");
}

}  // namespace rosetta::kernels::cuda
