// Embedding lookup: rows of a table (V, D) gathered by int32 ids, and the dense scatter-add backward, as PyTorch's
// nn.Embedding without padding_idx or max_norm (every row, row 0 included, is a normal trainable row).
//
// Ids may have any layout: `count` of them give `count` output rows in the same order (the GRU model feeds ids
// (T, N) and gets (T, N, D)). Valid ids are 0 <= id < V; the IMDB reader guarantees that range (out-of-vocabulary
// words become id 2), so neither twin is on the hot path of range errors:
// - the CPU twin throws rosetta::Error naming the first bad id and its position;
// - the CUDA twin cannot throw from a kernel: the forward writes NaN to the row of a bad id (and never reads
//   outside the table), the backward skips it, so a violated precondition shows as a NaN loss.
//
// Backward order (bit-identical on both twins, deterministic on the GPU without float atomics): the gradient row
// of id v sums the output-gradient rows of the positions p_0 < p_1 < ... < p_{m-1} holding v in kEmbeddingSlices
// interleaved partial sums, slice s adding p_s, p_{s+S}, p_{s+2S}, ... in order from 0, and then the slices
// s = 0, 1, ..., S-1 in order. The GPU twin finds the positions of each id with a stable radix sort (CUB) and runs
// the slices in parallel, so a frequent id (the padding id 0 fills much of a batch) costs m / S dependent loads.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"
#include "runtime/context.h"

namespace rosetta::kernels {

constexpr int kEmbeddingSlices = 16;

namespace cpu {
#include "kernels/embedding.inc"
}
namespace cuda {
#include "kernels/embedding.inc"
}
ROSETTA_OP(embedding_forward)
ROSETTA_OP(embedding_backward)
ROSETTA_OP(embedding_backward_workspace_bytes)
}  // namespace rosetta::kernels
