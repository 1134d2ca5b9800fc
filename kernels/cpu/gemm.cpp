// CPU twin of kernels/gemm.inc: the blocked form of reference::gemm, fast enough to train the CNN on a CPU.
//
// C is cut into tiles of kTileRows x kTileCols. One thread computes a whole tile: for each block of kDepth
// values of p it copies op(A) and op(B) into row-major panels (this is where the transposes are absorbed),
// then runs i, p, j with j innermost and contiguous, which the compiler vectorises. Accumulators are double
// and every element is summed over p = 0..k-1 in order, so the result is the float64 triple loop rounded
// once to float: it does not depend on the blocking, the thread count or the schedule. The products of two
// floats are exact in double, so only the sum rounds.
// Tiles run in parallel under OpenMP when the library was built with it; the panels live on the stack
// (64 KiB per thread), so no call allocates.
#include <algorithm>

#include "kernels/gemm.h"
#include "runtime/error.h"

namespace rosetta::kernels::cpu {
namespace {

constexpr std::int64_t kTileRows = 32;
constexpr std::int64_t kTileCols = 64;
constexpr std::int64_t kDepth = 128;
// Below this many multiply-adds a GEMM runs on the calling thread: waking the pool costs more.
constexpr std::int64_t kParallelMacs = 1 << 18;

struct Operands {
  bool trans_a, trans_b;
  std::int64_t m, n, k;
  float alpha;
  const float* a;  // (m, k), or (k, m) when trans_a
  const float* b;  // (k, n), or (n, k) when trans_b
  float beta;
  float* c;        // (m, n)
};

void gemm_tile(const Operands& g, std::int64_t i0, std::int64_t j0) {
  const std::int64_t rows = std::min(kTileRows, g.m - i0), cols = std::min(kTileCols, g.n - j0);
  alignas(64) double acc[kTileRows][kTileCols] = {};  // C tile (rows, cols), padded
  alignas(64) float a_panel[kTileRows][kDepth];       // op(A)[i0.., p0..] (rows, depth)
  alignas(64) float b_panel[kDepth][kTileCols];       // op(B)[p0.., j0..] (depth, cols), zero-padded columns
  for (std::int64_t p0 = 0; p0 < g.k; p0 += kDepth) {
    const std::int64_t depth = std::min(kDepth, g.k - p0);
    if (g.trans_a) {
      for (std::int64_t p = 0; p < depth; ++p)
        for (std::int64_t i = 0; i < rows; ++i) a_panel[i][p] = g.a[(p0 + p) * g.m + i0 + i];
    } else {
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t p = 0; p < depth; ++p) a_panel[i][p] = g.a[(i0 + i) * g.k + p0 + p];
    }
    if (g.trans_b) {
      for (std::int64_t j = 0; j < cols; ++j)
        for (std::int64_t p = 0; p < depth; ++p) b_panel[p][j] = g.b[(j0 + j) * g.k + p0 + p];
    } else {
      for (std::int64_t p = 0; p < depth; ++p)
        for (std::int64_t j = 0; j < cols; ++j) b_panel[p][j] = g.b[(p0 + p) * g.n + j0 + j];
    }
    for (std::int64_t p = 0; p < depth; ++p)
      for (std::int64_t j = cols; j < kTileCols; ++j) b_panel[p][j] = 0.0f;

    for (std::int64_t i = 0; i < rows; ++i) {
      double* __restrict__ acc_row = acc[i];
      for (std::int64_t p = 0; p < depth; ++p) {
        const double a_ip = a_panel[i][p];
        const float* __restrict__ b_row = b_panel[p];
        for (std::int64_t j = 0; j < kTileCols; ++j) acc_row[j] += a_ip * static_cast<double>(b_row[j]);
      }
    }
  }
  const double alpha = g.alpha, beta = g.beta;
  for (std::int64_t i = 0; i < rows; ++i) {
    float* c_row = g.c + (i0 + i) * g.n + j0;
    for (std::int64_t j = 0; j < cols; ++j)
      c_row[j] = static_cast<float>(beta == 0.0 ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c_row[j]);
  }
}

}  // namespace

void gemm(const Context&, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c, Precision precision) {
  ROSETTA_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=" << m << " n=" << n << " k=" << k);
  ROSETTA_CHECK(precision != Precision::bf16,
                "gemm m=" << m << " n=" << n << " k=" << k << ": gemm takes float operands in fp32 or tf32, not bf16");
  if (m == 0 || n == 0) return;
  const Operands g{trans_a, trans_b, m, n, k, alpha, a, b, beta, c};
  const std::int64_t row_tiles = (m + kTileRows - 1) / kTileRows, col_tiles = (n + kTileCols - 1) / kTileCols;
  const std::int64_t tiles = row_tiles * col_tiles;
  [[maybe_unused]] const bool parallel = m * n * k >= kParallelMacs && tiles > 1;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::int64_t tile = 0; tile < tiles; ++tile)
    gemm_tile(g, (tile / col_tiles) * kTileRows, (tile % col_tiles) * kTileCols);
}

}  // namespace rosetta::kernels::cpu
