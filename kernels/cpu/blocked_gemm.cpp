// The packed CPU GEMM (kernels/cpu/blocked_gemm.h): the block loops, the packing, and three micro-kernels of the same
// arithmetic, one per instruction set, chosen once at run time (GCC's target attributes compile each for its ISA, so
// the library runs on any x86-64 and uses the widest vectors the machine has).
#include "kernels/cpu/blocked_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "runtime/error.h"

namespace rosetta::kernels::cpu {
namespace {

constexpr std::int64_t kMc = 96;    // rows of A per block (a multiple of every MR below): 96 x 256 floats, in L2
constexpr std::int64_t kKc = 256;   // depth per block: an NR-wide sliver of B (256 x 32 floats) stays in L1
constexpr std::int64_t kNc = 1024;  // columns of B per panel (a multiple of every NR): 256 x 1024 floats, in L2
// Below this many multiply-adds a GEMM runs on the calling thread: waking the team costs more.
constexpr std::int64_t kParallelMacs = std::int64_t(1) << 20;

// One micro-kernel: C tile (MR, NR) at c with leading dimension ldc = (zero or C) + sum over p < kc of a_p b_p^T, a
// packed (kc, MR), b packed (kc, NR), each element an fma chain in order of p.
using MicroKernel = void (*)(std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc, bool load_c);

struct Isa {
  const char* name;
  int mr, nr;
  MicroKernel kernel;
};

// Micro-tile sizes: AVX-512 12 x 32 (24 zmm accumulators, 2 for B, 1 broadcast), AVX2 6 x 16 (12 ymm accumulators,
// 2 for B, 1 broadcast), portable 4 x 8.
constexpr int kAvx512Mr = 12, kAvx512Nr = 32;
constexpr int kAvx2Mr = 6, kAvx2Nr = 16;
constexpr int kPortableMr = 4, kPortableNr = 8;

// ---- portable ---------------------------------------------------------------------------------------------------

void kernel_portable(std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc, bool load_c) {
  float acc[kPortableMr][kPortableNr];
  for (int i = 0; i < kPortableMr; ++i)
    for (int j = 0; j < kPortableNr; ++j) acc[i][j] = load_c ? c[i * ldc + j] : 0.0f;
  for (std::int64_t p = 0; p < kc; ++p, a += kPortableMr, b += kPortableNr)
    for (int i = 0; i < kPortableMr; ++i)
      for (int j = 0; j < kPortableNr; ++j) acc[i][j] = std::fma(a[i], b[j], acc[i][j]);
  for (int i = 0; i < kPortableMr; ++i)
    for (int j = 0; j < kPortableNr; ++j) c[i * ldc + j] = acc[i][j];
}

#if defined(__x86_64__)
// ---- AVX2 + FMA ---------------------------------------------------------------------------------------------------

__attribute__((target("avx2,fma"))) void kernel_avx2(std::int64_t kc, const float* a, const float* b, float* c,
                                                     std::int64_t ldc, bool load_c) {
  __m256 acc[kAvx2Mr][2];
  for (int i = 0; i < kAvx2Mr; ++i)
    for (int h = 0; h < 2; ++h) acc[i][h] = load_c ? _mm256_loadu_ps(c + i * ldc + 8 * h) : _mm256_setzero_ps();
  for (std::int64_t p = 0; p < kc; ++p, a += kAvx2Mr, b += kAvx2Nr) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    for (int i = 0; i < kAvx2Mr; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < kAvx2Mr; ++i)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(c + i * ldc + 8 * h, acc[i][h]);
}

// ---- AVX-512 ------------------------------------------------------------------------------------------------------

__attribute__((target("avx512f"))) void kernel_avx512(std::int64_t kc, const float* a, const float* b, float* c,
                                                      std::int64_t ldc, bool load_c) {
  __m512 acc[kAvx512Mr][2];
  for (int i = 0; i < kAvx512Mr; ++i)
    for (int h = 0; h < 2; ++h) acc[i][h] = load_c ? _mm512_loadu_ps(c + i * ldc + 16 * h) : _mm512_setzero_ps();
  for (std::int64_t p = 0; p < kc; ++p, a += kAvx512Mr, b += kAvx512Nr) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    for (int i = 0; i < kAvx512Mr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < kAvx512Mr; ++i)
    for (int h = 0; h < 2; ++h) _mm512_storeu_ps(c + i * ldc + 16 * h, acc[i][h]);
}
#endif

// The micro-kernels this machine supports, widest first.
const std::vector<Isa>& supported() {
  static const std::vector<Isa> list = [] {
    std::vector<Isa> isas;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) isas.push_back({"avx512", kAvx512Mr, kAvx512Nr, kernel_avx512});
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      isas.push_back({"avx2", kAvx2Mr, kAvx2Nr, kernel_avx2});
#endif
    isas.push_back({"portable", kPortableMr, kPortableNr, kernel_portable});
    return isas;
  }();
  return list;
}

const Isa*& selected() {
  static const Isa* choice = &supported().front();
  return choice;
}

const Isa& isa() { return *selected(); }

// The packed blocks of one call, per calling thread, grow-only, 64-byte aligned.
struct PackBuffers {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> a, b;  // (kMc x kKc), (kKc x kNc) floats
  PackBuffers() {
    a.reset(static_cast<float*>(std::aligned_alloc(64, sizeof(float) * kMc * kKc)));
    b.reset(static_cast<float*>(std::aligned_alloc(64, sizeof(float) * kKc * kNc)));
    ROSETTA_CHECK(a && b, "the CPU GEMM could not allocate its packing buffers");
  }
};

PackBuffers& pack_buffers() {
  static thread_local PackBuffers buffers;
  return buffers;
}

// A full sliver of rows of B (col_stride 1): kc rows of NR contiguous floats, a copy the compiler vectorises.
template <int NR>
void pack_b_rows(const float* b, std::int64_t row_stride, std::int64_t kc, float* out) {
  for (std::int64_t p = 0; p < kc; ++p, b += row_stride, out += NR)
    for (int j = 0; j < NR; ++j) out[j] = b[j];
}

// Sliver s of B's block (rows p0.., kc of them; columns j0 + s * nr..): (kc, nr) row-major, zero past column n.
void pack_b_sliver(const MatrixView& b, std::int64_t p0, std::int64_t kc, std::int64_t j0, std::int64_t cols, int nr,
                   float* out) {
  if (b.col_stride == 1 && cols == nr) {
    const float* first = b.data + p0 * b.row_stride + j0;
    if (nr == kAvx512Nr) return pack_b_rows<kAvx512Nr>(first, b.row_stride, kc, out);
    if (nr == kAvx2Nr) return pack_b_rows<kAvx2Nr>(first, b.row_stride, kc, out);
    return pack_b_rows<kPortableNr>(first, b.row_stride, kc, out);
  }
  if (b.col_stride == 1) {
    for (std::int64_t p = 0; p < kc; ++p) {
      const float* row = b.data + (p0 + p) * b.row_stride + j0;
      float* dst = out + p * nr;
      std::copy(row, row + cols, dst);
      std::fill(dst + cols, dst + nr, 0.0f);
    }
    return;
  }
  for (std::int64_t j = 0; j < nr; ++j) {  // a transposed B: read each column contiguously
    if (j >= cols) {
      for (std::int64_t p = 0; p < kc; ++p) out[p * nr + j] = 0.0f;
      continue;
    }
    const float* column = b.data + (j0 + j) * b.col_stride + p0 * b.row_stride;
    for (std::int64_t p = 0; p < kc; ++p) out[p * nr + j] = column[p * b.row_stride];
  }
}

// Sliver s of A's block (rows i0.., `rows` of them; depth p0.., kc): (kc, mr) row-major, alpha-scaled, zero past
// row m.
void pack_a_sliver(const MatrixView& a, float alpha, std::int64_t i0, std::int64_t rows, std::int64_t p0,
                   std::int64_t kc, int mr, float* out) {
  for (std::int64_t i = 0; i < mr; ++i) {
    if (i >= rows) {
      for (std::int64_t p = 0; p < kc; ++p) out[p * mr + i] = 0.0f;
      continue;
    }
    const float* row = a.data + (i0 + i) * a.row_stride + p0 * a.col_stride;
    if (alpha == 1.0f) {
      for (std::int64_t p = 0; p < kc; ++p) out[p * mr + i] = row[p * a.col_stride];
    } else {
      for (std::int64_t p = 0; p < kc; ++p) out[p * mr + i] = alpha * row[p * a.col_stride];
    }
  }
}

// One micro-tile of C at (i, j), rows x cols of it inside C: full tiles straight into C, edge tiles through a
// scratch tile, so the kernel always writes MR x NR.
void run_tile(const Isa& k, std::int64_t kc, const float* a, const float* b, float* c, std::int64_t ldc,
              std::int64_t rows, std::int64_t cols, bool load_c) {
  if (rows == k.mr && cols == k.nr) {
    k.kernel(kc, a, b, c, ldc, load_c);
    return;
  }
  alignas(64) float tile[16 * 32];  // the largest MR x NR
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) tile[i * k.nr + j] = load_c ? c[i * ldc + j] : 0.0f;
  k.kernel(kc, a, b, tile, k.nr, load_c);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) c[i * ldc + j] = tile[i * k.nr + j];
}

// A band of C: rows [i_begin, i_end) by columns [j_begin, j_end).
struct Band {
  std::int64_t i_begin, i_end, j_begin, j_end;
};

// C[band] = (beta C or 0) + alpha A B over the band, serially on the calling thread: B panels of kNc columns packed
// kKc deep, A blocks of kMc rows, then every micro-tile of the block.
void gemm_band(const Isa& kernel, const Band& band, std::int64_t k, float alpha, MatrixView a, MatrixView b,
               float beta, float* c, std::int64_t ldc) {
  PackBuffers& buffers = pack_buffers();
  float* a_pack = buffers.a.get();  // (row slivers, kc, MR)
  float* b_pack = buffers.b.get();  // (column slivers, kc, NR)
  const int mr = kernel.mr, nr = kernel.nr;
  for (std::int64_t j0 = band.j_begin; j0 < band.j_end; j0 += kNc) {
    const std::int64_t nc = std::min(kNc, band.j_end - j0), slivers = (nc + nr - 1) / nr;
    for (std::int64_t p0 = 0; p0 < k; p0 += kKc) {
      const std::int64_t kc = std::min(kKc, k - p0);
      const bool load_c = p0 > 0 || beta != 0.0f;
      for (std::int64_t s = 0; s < slivers; ++s)
        pack_b_sliver(b, p0, kc, j0 + s * nr, std::min<std::int64_t>(nr, nc - s * nr), nr, b_pack + s * kc * nr);
      for (std::int64_t i0 = band.i_begin; i0 < band.i_end; i0 += kMc) {
        const std::int64_t mc = std::min(kMc, band.i_end - i0), row_slivers = (mc + mr - 1) / mr;
        for (std::int64_t r = 0; r < row_slivers; ++r)
          pack_a_sliver(a, alpha, i0 + r * mr, std::min<std::int64_t>(mr, mc - r * mr), p0, kc, mr,
                        a_pack + r * kc * mr);
        for (std::int64_t s = 0; s < slivers; ++s)
          for (std::int64_t r = 0; r < row_slivers; ++r) {
            const std::int64_t i = i0 + r * mr, j = j0 + s * nr;
            run_tile(kernel, kc, a_pack + r * kc * mr, b_pack + s * kc * nr, c + i * ldc + j, ldc,
                     std::min<std::int64_t>(mr, band.i_end - i), std::min<std::int64_t>(nr, band.j_end - j), load_c);
          }
      }
    }
  }
}

}  // namespace

std::vector<std::string> blocked_gemm_isas() {
  std::vector<std::string> names;
  for (const Isa& i : supported()) names.push_back(i.name);
  return names;
}

const char* blocked_gemm_isa() { return isa().name; }

void select_blocked_gemm_isa(const std::string& name) {
  for (const Isa& i : supported())
    if (name == i.name) {
      selected() = &i;
      return;
    }
  ROSETTA_FAIL("the CPU GEMM has no micro-kernel '" << name << "' on this machine");
}

void blocked_gemm(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatrixView a, MatrixView b, float beta,
                  float* c, std::int64_t ldc) {
  ROSETTA_CHECK(m >= 0 && n >= 0 && k >= 0 && ldc >= n, "blocked_gemm m=" << m << " n=" << n << " k=" << k << " ldc=" << ldc);
  if (m == 0 || n == 0) return;
  const Isa& kernel = isa();
  const bool parallel = m * n * k >= kParallelMacs;
  // beta other than 0 and 1: C scaled once up front, then accumulated into (c = beta * C starts the chain).
  if (beta != 0.0f && beta != 1.0f)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
  if (k == 0) {
    if (beta == 0.0f)
      for (std::int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  // One parallel region, no barrier inside it: each thread computes its own band of C (whole micro-tiles along the
  // longer side) with its own packing buffers. An element's fma chain does not depend on the band it falls in, so
  // the bits do not depend on the thread count; a team oversubscribed by other processes loses no time at barriers.
  const std::int64_t row_tiles = (m + kernel.mr - 1) / kernel.mr, col_tiles = (n + kernel.nr - 1) / kernel.nr;
  const bool split_columns = col_tiles >= row_tiles;
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
  {
#if defined(_OPENMP)
    const std::int64_t thread = omp_get_thread_num(), threads = omp_get_num_threads();
#else
    const std::int64_t thread = 0, threads = 1;
#endif
    const std::int64_t tiles = split_columns ? col_tiles : row_tiles;
    const std::int64_t first = tiles * thread / threads, last = tiles * (thread + 1) / threads;
    if (first < last) {
      Band band{0, m, 0, n};
      if (split_columns)
        band.j_begin = first * kernel.nr, band.j_end = std::min(n, last * kernel.nr);
      else
        band.i_begin = first * kernel.mr, band.i_end = std::min(m, last * kernel.mr);
      gemm_band(kernel, band, k, alpha, a, b, beta, c, ldc);
    }
  }
}

}  // namespace rosetta::kernels::cpu
