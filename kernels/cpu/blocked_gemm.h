// The one CPU GEMM behind the CPU twins of gemm, the convolution and the GRU: a packed, register-blocked GEMM in the
// manner of Goto and van de Geijn (BLIS): C is cut into column panels of kNc, the depth into blocks of kKc, the rows
// into blocks of kMc; each block of A and each panel of B is packed once into contiguous slivers, and a micro-kernel
// keeps an MR x NR tile of C in vector registers while it runs through the depth.
//
// Accumulation, a stated choice: each element of C is ONE float fused-multiply-add chain in order of p:
//   c = beta * C (0 when beta == 0);  c = fma(alpha * a_ip, b_pj, c) for p = 0, 1, ..., k-1
// with alpha * a_ip rounded to float (exact for alpha 1) and every fma rounded once. Depth blocks store c in C and
// reload it, which changes no bit, so the result is the same for any blocking, thread count and instruction set (the
// AVX-512, AVX2 and portable micro-kernels do the same operations) and from run to run. Float accumulation with FMA
// is what cuBLAS, MKL and oneDNN do; its error is that of a k-term float sum (Higham: gamma_k of sum |a b|).
//
// Threads: one OpenMP region per call, when the product is large enough to pay for waking the team, with no barrier
// inside it: each thread computes its own band of C (whole micro-tiles along the longer side), packing its own
// blocks, so a team that other processes oversubscribe (ctest -j on a small machine) loses no time waiting at
// barriers. Packing buffers are per thread and only grow: after the first call of a shape no call allocates.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rosetta::kernels::cpu {

// A read-only matrix: element (i, j) is data[i * row_stride + j * col_stride] (a transpose is a swap of the strides).
struct MatrixView {
  const float* data;
  std::int64_t row_stride, col_stride;
};
// A row-major matrix with leading dimension ld, and its transpose.
inline MatrixView row_major(const float* data, std::int64_t ld) { return {data, ld, 1}; }
inline MatrixView transposed(const float* data, std::int64_t ld) { return {data, 1, ld}; }

// C (m, n), row-major with leading dimension ldc, = alpha * A (m, k) B (k, n) + beta * C, by the chain above.
// beta == 0 ignores C's contents (NaN included).
void blocked_gemm(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, MatrixView a, MatrixView b, float beta,
                  float* c, std::int64_t ldc);

// The micro-kernels this machine can run, widest first ("avx512", "avx2", "portable"), the one in use (the widest,
// unless selected), and the selection: for the tests that hold the kernels to the same bits, and for benchmarks.
std::vector<std::string> blocked_gemm_isas();
const char* blocked_gemm_isa();
// Throws unless `name` is one of blocked_gemm_isas(). Not thread-safe: select before any GEMM runs.
void select_blocked_gemm_isa(const std::string& name);

}  // namespace rosetta::kernels::cpu
