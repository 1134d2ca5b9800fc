// CPU twin of kernels/gemm.inc: the one CPU GEMM (kernels/cpu/blocked_gemm.h) on row-major operands, a transpose
// being a view with swapped strides. Precision does not change the float variant: the CPU has no TF32, so tf32
// computes as fp32. The bf16 variants widen A and B (exactly) into float copies in the context's workspace, run the
// float GEMM and round a bf16 C once.
#include <type_traits>

#include "kernels/cpu/blocked_gemm.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "runtime/error.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cpu {
namespace {

struct Widened {
  float *a, *b, *c;  // (m, k) or (k, m), (k, n) or (n, k), (m, n): the operands in float
};

// Widens A and B (and C when it is bf16 and beta reads it) into the workspace; c is left null for a float C.
template <typename C>
Widened widen(const Context& ctx, std::int64_t m, std::int64_t n, std::int64_t k, const bf16* a, const bf16* b,
              float beta, const C* c) {
  constexpr bool bf16_c = std::is_same_v<C, bf16>;
  Widened w = carve_workspace(ctx, [&](Carver& carver) {
    return Widened{carver.take<float>(m * k), carver.take<float>(k * n), carver.take<float>(bf16_c ? m * n : 0)};
  });
  convert(ctx, a, w.a, m * k);
  convert(ctx, b, w.b, k * n);
  if constexpr (bf16_c) {
    if (beta != 0.0f) convert(ctx, c, w.c, m * n);
  }
  return w;
}

void check_bf16(std::int64_t m, std::int64_t n, std::int64_t k, Precision precision) {
  ROSETTA_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=" << m << " n=" << n << " k=" << k);
  ROSETTA_CHECK(precision == Precision::bf16 && k > 0,
                "gemm m=" << m << " n=" << n << " k=" << k << " of bf16 operands in " << precision_name(precision)
                          << ": bf16 operands take precision bf16 and k > 0");
}

}  // namespace

void gemm(const Context&, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, const float* b, float beta, float* c, Precision precision) {
  ROSETTA_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=" << m << " n=" << n << " k=" << k);
  ROSETTA_CHECK(precision != Precision::bf16,
                "gemm m=" << m << " n=" << n << " k=" << k << ": gemm takes float operands in fp32 or tf32, not bf16");
  const MatrixView op_a = trans_a ? transposed(a, m) : row_major(a, k);  // (m, k)
  const MatrixView op_b = trans_b ? transposed(b, k) : row_major(b, n);  // (k, n)
  blocked_gemm(m, n, k, alpha, op_a, op_b, beta, c, n);
}

void gemm(const Context& ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const bf16* a, const bf16* b, float beta, float* c, Precision precision) {
  check_bf16(m, n, k, precision);
  const Widened w = widen<float>(ctx, m, n, k, a, b, beta, c);
  gemm(ctx, trans_a, trans_b, m, n, k, alpha, w.a, w.b, beta, c, Precision::fp32);
}

void gemm(const Context& ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const bf16* a, const bf16* b, float beta, bf16* c, Precision precision) {
  check_bf16(m, n, k, precision);
  const Widened w = widen<bf16>(ctx, m, n, k, a, b, beta, c);
  gemm(ctx, trans_a, trans_b, m, n, k, alpha, w.a, w.b, beta, w.c, Precision::fp32);
  convert(ctx, w.c, c, m * n);
}

}  // namespace rosetta::kernels::cpu
