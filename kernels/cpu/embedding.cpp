// CPU twin of kernels/embedding.inc. The backward groups positions by id with a stable counting sort in the
// context's workspace (ids ascending, positions ascending within an id) and then sums each id's rows in the slice
// order of kernels/embedding.h, the CUDA twin's order, so both twins give the same bits.
#include <algorithm>

#include "kernels/embedding.h"
#include "kernels/reference/embedding.h"
#include "runtime/error.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cpu {
namespace {

void check_ids(const std::int32_t* ids, std::int64_t count, std::int64_t vocab) {
  for (std::int64_t p = 0; p < count; ++p)
    ROSETTA_CHECK(ids[p] >= 0 && ids[p] < vocab,
                  "embedding: id " << ids[p] << " at position " << p << " is outside [0, " << vocab << ")");
}

// The backward's scratch: the end of each id's run (V) and the positions grouped by id (count).
struct Scratch {
  std::int32_t* ends;   // (V)
  std::int32_t* order;  // (count)
};
Scratch lay_out(Carver& c, std::int64_t count, std::int64_t vocab) {
  return {c.take<std::int32_t>(vocab), c.take<std::int32_t>(count)};
}

}  // namespace

void embedding_forward(const Context&, const std::int32_t* ids, const float* table, float* out, std::int64_t count,
                       std::int64_t vocab, std::int64_t dim) {
  check_ids(ids, count, vocab);
  reference::embedding_forward(ids, table, out, count, dim);
}

std::size_t embedding_backward_workspace_bytes(const Context&, std::int64_t count, std::int64_t vocab) {
  return workspace_bytes([&](Carver& c) { return lay_out(c, count, vocab); });
}

void embedding_backward(const Context& ctx, const std::int32_t* ids, const float* d_out, float* d_table,
                        std::int64_t count, std::int64_t vocab, std::int64_t dim) {
  check_ids(ids, count, vocab);
  const Scratch scratch = carve_workspace(ctx, [&](Carver& c) { return lay_out(c, count, vocab); });
  std::int32_t* ends = scratch.ends;
  std::int32_t* order = scratch.order;
  // Counting sort: ends[v] starts as the first slot of id v, and after placing ends as one past its last slot.
  std::fill(ends, ends + vocab, 0);
  for (std::int64_t p = 0; p < count; ++p)
    if (ids[p] + 1 < vocab) ++ends[ids[p] + 1];
  for (std::int64_t v = 1; v < vocab; ++v) ends[v] += ends[v - 1];
  for (std::int64_t p = 0; p < count; ++p) order[ends[ids[p]]++] = static_cast<std::int32_t>(p);

  std::fill(d_table, d_table + vocab * dim, 0.0f);
  for (std::int64_t v = 0; v < vocab; ++v) {
    const std::int64_t begin = v > 0 ? ends[v - 1] : 0, m = ends[v] - begin;
    if (m == 0) continue;
    const std::int32_t* positions = order + begin;
    float* row = d_table + v * dim;
    for (std::int64_t d = 0; d < dim; ++d) {
      float total = 0.0f;
      for (std::int64_t s = 0; s < kEmbeddingSlices; ++s) {
        float slice = 0.0f;
        for (std::int64_t k = s; k < m; k += kEmbeddingSlices) slice += d_out[positions[k] * dim + d];
        total = s == 0 ? slice : total + slice;
      }
      row[d] = total;
    }
  }
}

}  // namespace rosetta::kernels::cpu
