// CPU twin of the matrix product with its epilogue (kernels/matmul.inc): per batch one blocked GEMM
// (kernels/cpu/blocked_gemm.h: each element one float FMA chain in order of the depth, the same bits for any thread
// count), then the epilogue of kernels/reference/residual.h on each element: ((y + z) + bias), then the ReLU.
// bf16: a, b and z are widened to float copies in the workspace (their whole strided spans, so the strides carry
// over), the float product and epilogue run on those, and y is rounded to bf16 once. Strided gaps in y (a row
// stride above n, a batch stride above a whole matrix) are never written. The CPU has no TF32: tf32 computes as
// fp32. kernels/reference/matmul.h is the definition these products are tested against.
#include <algorithm>

#include "kernels/cpu/blocked_gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/reference/residual.h"
#include "runtime/error.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cpu {
namespace {

// bf16 plans: float copies of a, b, y and z over their spans, and of the bias (n).
struct Scratch {
  float *a, *b, *y, *z, *bias;
};

Scratch lay_out(Carver& carver, const MatmulPlan& plan) {
  if (plan.options.precision != Precision::bf16) return {};
  const MatmulShape& s = plan.shape;
  return {carver.take<float>(s.span_a()), carver.take<float>(s.span_b()), carver.take<float>(s.span_y()),
          carver.take<float>(plan.options.residual ? s.span_y() : 0), carver.take<float>(s.n)};
}

void check_cpu_plan(const MatmulPlan& plan, bool bf16_data) {
  ROSETTA_CHECK(!plan.cublaslt, "matmul on the CPU with a plan made for CUDA: " << plan.shape.str());
  ROSETTA_CHECK((plan.options.precision == Precision::bf16) == bf16_data,
                "matmul of " << (bf16_data ? "bf16" : "float") << " data with a "
                             << precision_name(plan.options.precision) << " plan: " << plan.shape.str());
}

// The float product and epilogue, in place on y (which holds nothing before).
void product(const MatmulPlan& plan, const float* a, const float* b, const float* bias, const float* z, float* y) {
  const MatmulShape& s = plan.shape;
  const MatmulEpilogue e = plan.options.epilogue;
  for (std::int64_t p = 0; p < s.batch; ++p) {
    const float* ap = a + p * s.batch_stride_a;
    const float* bp = b + p * s.batch_stride_b;
    float* yp = y + p * s.batch_stride_y;
    blocked_gemm(s.m, s.n, s.k, 1.0f, s.trans_a ? transposed(ap, s.row_a()) : row_major(ap, s.row_a()),
                 s.trans_b ? transposed(bp, s.row_b()) : row_major(bp, s.row_b()), 0.0f, yp, s.row_y());
    if (e == MatmulEpilogue::none && !plan.options.residual) continue;
    const float* zp = plan.options.residual ? z + p * s.batch_stride_y : nullptr;
    parallel_for(s.m, s.n, [&](std::int64_t i) {
      for (std::int64_t j = 0; j < s.n; ++j) {
        const std::int64_t at = i * s.row_y() + j;
        yp[at] = reference::bias_residual_activation(yp[at], zp ? zp[at] : 0.0f,
                                                     e == MatmulEpilogue::none ? 0.0f : bias[j],
                                                     e == MatmulEpilogue::bias_relu);
      }
    });
  }
}

}  // namespace

void plan_matmul(const Context& ctx, MatmulPlan& plan) {
  plan.choice = MatmulAlgorithmChoice{};
  plan.choice.workspace_bytes = workspace_bytes([&](Carver& c) { return lay_out(c, plan); });
  ctx.workspace(static_cast<std::size_t>(plan.choice.workspace_bytes));
}

void matmul(const Context&, const MatmulPlan& plan, const float* a, const float* b, const float* bias, const float* z,
            float* y) {
  check_cpu_plan(plan, false);
  product(plan, a, b, bias, z, y);
}

void matmul(const Context& ctx, const MatmulPlan& plan, const bf16* a, const bf16* b, const bf16* bias, const bf16* z,
            bf16* y) {
  check_cpu_plan(plan, true);
  const MatmulShape& s = plan.shape;
  const Scratch f = carve_workspace(ctx, [&](Carver& c) { return lay_out(c, plan); });
  convert(ctx, a, f.a, s.span_a());
  convert(ctx, b, f.b, s.span_b());
  if (plan.options.residual) convert(ctx, z, f.z, s.span_y());
  if (plan.options.epilogue != MatmulEpilogue::none) convert(ctx, bias, f.bias, s.n);
  product(plan, f.a, f.b, f.bias, f.z, f.y);
  for (std::int64_t p = 0; p < s.batch; ++p)
    for (std::int64_t i = 0; i < s.m; ++i) {
      const std::int64_t at = p * s.batch_stride_y + i * s.row_y();
      convert(ctx, f.y + at, y + at, s.n);
    }
}

std::vector<MatmulAlgorithmChoice> find_matmul_algorithms(const Context&, const MatmulPlan& plan) {
  ROSETTA_CHECK(!plan.cublaslt, "find_matmul_algorithms on the CPU with a plan made for CUDA: " << plan.shape.str());
  return {plan.choice};
}

MatmulPlan matmul_plan_with_choice(const Context&, const MatmulPlan& plan, const MatmulAlgorithmChoice& choice) {
  ROSETTA_CHECK(!plan.cublaslt, "matmul_plan_with_choice on the CPU with a plan made for CUDA: " << plan.shape.str());
  ROSETTA_CHECK(choice.algo == 0 && choice.variant == 0,
                "the CPU runs its one matmul algorithm, not algo " << choice.algo << ": " << plan.shape.str());
  return plan;
}

}  // namespace rosetta::kernels::cpu
