// CPU twin of kernels/gemm.inc: the one CPU GEMM (kernels/cpu/blocked_gemm.h) on row-major operands, a transpose
// being a view with swapped strides. Precision does not change it: the CPU has no TF32, so tf32 computes as fp32.
#include "kernels/cpu/blocked_gemm.h"
#include "kernels/gemm.h"
#include "runtime/error.h"

namespace rosetta::kernels::cpu {

void gemm(const Context&, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c, Precision precision) {
  ROSETTA_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=" << m << " n=" << n << " k=" << k);
  ROSETTA_CHECK(precision != Precision::bf16,
                "gemm m=" << m << " n=" << n << " k=" << k << ": gemm takes float operands in fp32 or tf32, not bf16");
  const MatrixView op_a = trans_a ? transposed(a, m) : row_major(a, k);  // (m, k)
  const MatrixView op_b = trans_b ? transposed(b, k) : row_major(b, n);  // (k, n)
  blocked_gemm(m, n, k, alpha, op_a, op_b, beta, c, n);
}

}  // namespace rosetta::kernels::cpu
