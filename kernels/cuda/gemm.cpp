// CUDA twin of kernels/gemm.inc: one cublasGemmEx call on the context's handle (bound to its main stream).
//
// Row-major to column-major: a row-major (r, c) matrix is the column-major (c, r) matrix of the same memory,
// so C = op(A) op(B) in row-major is C^T = op(B)^T op(A)^T in column-major: cuBLAS gets B as its first operand
// and A as its second, with n and m swapped, and writes C (m, n) row-major with leading dimension n.
// Precision::fp32 is CUBLAS_COMPUTE_32F with a handle whose math mode allows neither TF32 nor BF16x9
// emulation (checked on every call, so a stray cublasSetMathMode cannot make "fp32" silently inexact);
// Precision::tf32 is CUBLAS_COMPUTE_32F_FAST_TF32; bf16 operands (precision bf16) run CUBLAS_COMPUTE_32F with a
// float or bf16 C (tensor cores; float accumulation, C rounded once).
#include <climits>
#include <sstream>
#include <string>

#include "kernels/gemm.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

std::string describe(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                     Precision precision) {
  std::ostringstream os;
  os << "gemm m=" << m << " n=" << n << " k=" << k << (trans_a ? " A^T" : " A") << (trans_b ? " B^T" : " B") << " "
     << precision_name(precision);
  return os.str();
}

// C = alpha op(A) op(B) + beta C through cublasGemmEx, A and B of ab_type, C of c_type, under `compute`; m, n, k > 0
// and within int (the callers check).
void run_gemm(const Context& ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
              float alpha, const void* a, const void* b, cudaDataType_t ab_type, float beta, void* c,
              cudaDataType_t c_type, cublasComputeType_t compute, Precision precision) {
  const int lda = static_cast<int>(trans_a ? m : k);  // row length of A as stored
  const int ldb = static_cast<int>(trans_b ? k : n);  // row length of B as stored
  ROSETTA_CUBLAS_CHECK(cublasGemmEx(ctx.cublas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b, ab_type,
                                    ldb, a, ab_type, lda, &beta, c, c_type, static_cast<int>(n), compute,
                                    CUBLAS_GEMM_DEFAULT),
                       describe(trans_a, trans_b, m, n, k, precision));
}

void check_sizes(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, Precision precision) {
  ROSETTA_CHECK(m >= 0 && n >= 0 && k >= 0, "negative size: " << describe(trans_a, trans_b, m, n, k, precision));
  ROSETTA_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX,
                "a dimension exceeds cuBLAS's int range: " << describe(trans_a, trans_b, m, n, k, precision));
}

// The bf16 variants' checks: precision bf16, and a non-empty depth (a bf16 C = beta C has no use here).
void check_bf16(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, Precision precision) {
  check_sizes(trans_a, trans_b, m, n, k, precision);
  ROSETTA_CHECK(precision == Precision::bf16 && k > 0, "bf16 operands take precision bf16 and k > 0: "
                                                           << describe(trans_a, trans_b, m, n, k, precision));
}

}  // namespace

void gemm(const Context& ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c, Precision precision) {
  check_sizes(trans_a, trans_b, m, n, k, precision);
  ROSETTA_CHECK(precision != Precision::bf16, "gemm takes float operands in fp32 or tf32, not bf16: "
                                                  << describe(trans_a, trans_b, m, n, k, precision));
  if (m == 0 || n == 0) return;
  cublasHandle_t handle = ctx.cublas();
  if (k == 0) {  // C = beta * C: the sum over p is empty
    if (beta == 0.0f) {
      ROSETTA_CUDA_CHECK(cudaMemsetAsync(c, 0, sizeof(float) * static_cast<std::size_t>(m * n), ctx.stream()));
    } else {
      ROSETTA_CHECK(m * n <= INT_MAX, "C has too many elements for cublasSscal: " << describe(trans_a, trans_b, m, n, k, precision));
      ROSETTA_CUBLAS_CHECK(cublasSscal(handle, static_cast<int>(m * n), &beta, c, 1), describe(trans_a, trans_b, m, n, k, precision));
    }
    return;
  }
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  if (precision == Precision::fp32) {
    cublasMath_t mode;
    ROSETTA_CUBLAS_CHECK(cublasGetMathMode(handle, &mode), describe(trans_a, trans_b, m, n, k, precision));
    const int base_mode = static_cast<int>(mode) & 0xf;
    ROSETTA_CHECK(base_mode == CUBLAS_DEFAULT_MATH || base_mode == CUBLAS_PEDANTIC_MATH,
                  "strict fp32 needs the cuBLAS handle in CUBLAS_DEFAULT_MATH or CUBLAS_PEDANTIC_MATH, but its math "
                  "mode is " << static_cast<int>(mode) << " (TF32 or emulation enabled)");
    compute = CUBLAS_COMPUTE_32F;
  }
  run_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, b, CUDA_R_32F, beta, c, CUDA_R_32F, compute, precision);
}

void gemm(const Context& ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const bf16* a, const bf16* b, float beta, float* c, Precision precision) {
  check_bf16(trans_a, trans_b, m, n, k, precision);
  if (m == 0 || n == 0) return;
  run_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, b, CUDA_R_16BF, beta, c, CUDA_R_32F, CUBLAS_COMPUTE_32F, precision);
}

void gemm(const Context& ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const bf16* a, const bf16* b, float beta, bf16* c, Precision precision) {
  check_bf16(trans_a, trans_b, m, n, k, precision);
  if (m == 0 || n == 0) return;
  run_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, b, CUDA_R_16BF, beta, c, CUDA_R_16BF, CUBLAS_COMPUTE_32F, precision);
}

}  // namespace rosetta::kernels::cuda
