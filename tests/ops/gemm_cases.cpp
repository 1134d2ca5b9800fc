// Op cases of kernels/gemm.h: the CNN's fully connected layers at batch 64 (forward, input gradient, weight gradient)
// and odd sizes across tile edges, every transpose, in fp32 and tf32.
#include "kernels/gemm.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

struct GemmShape {
  bool trans_a, trans_b;
  std::int64_t m, n, k;
  float beta;
};

const Tolerance kFp32 = Tolerance::normwise(
    1e-5, "float sums in another order (cuBLAS: FMA, blocked, maybe split over k): a k-term random-sign sum errs by "
          "~sqrt(k) u |ab| against outputs of ~sqrt(k) |ab|, a few u normwise; 1e-5 (~170 u) is margin, yet TF32's "
          "2^-11 input rounding fails it");
const Tolerance kTf32 = Tolerance::normwise(
    5e-3, "TF32 rounds both operands to 10 mantissa bits: ~2^-11 relative per product, ~5e-4 normwise; 10x margin");

OpCase gemm_case(const GemmShape& g, Precision precision) {
  const std::string variant = std::string(precision_name(precision)) + "-" + (g.trans_a ? "t" : "n") + (g.trans_b ? "t" : "n");
  const std::string shape = std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) +
                            (g.beta != 0.0f ? "-beta1" : "");
  OpCase c{"gemm", "gemm", variant, shape, 2.0 * double(g.m * g.n * g.k),
           4.0 * double(g.m * g.k + g.k * g.n + (g.beta != 0.0f ? 2 : 1) * g.m * g.n), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor a = seeded(ctx, {g.m * g.k}, DType::f32, -1, 1, 101), b = seeded(ctx, {g.k * g.n}, DType::f32, -1, 1, 102);
    const Tensor out = g.beta != 0.0f ? seeded(ctx, {g.m * g.n}, DType::f32, -1, 1, 103)
                                      : poisoned(ctx, {g.m * g.n}, DType::f32, poison);
    return OpRun{[=, &ctx] {
                   kernels::gemm(ctx, g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a.data<float>(), b.data<float>(),
                                 g.beta, out.data<float>(), precision);
                 },
                 {{"c", out, precision == Precision::fp32 ? kFp32 : kTf32}}};
  };
  return c;
}

}  // namespace

void add_gemm_cases(std::vector<OpCase>& cases) {
  const GemmShape shapes[] = {
      {false, true, 64, 512, 6400, 0.0f},   // fc1 forward: x (64, 6400) W^T
      {false, false, 64, 6400, 512, 0.0f},  // fc1 input gradient: dy W
      {true, false, 512, 6400, 64, 0.0f},   // fc1 weight gradient: dy^T x
      {false, true, 64, 10, 512, 0.0f},     // fc2 forward
      {true, true, 33, 65, 129, 1.0f},      // odd sizes across the CPU tiles, both transposes, accumulating
  };
  for (Precision precision : {Precision::fp32, Precision::tf32})
    for (const GemmShape& g : shapes) cases.push_back(gemm_case(g, precision));
}

}  // namespace rosetta::ops
