// Op cases of kernels/gemm.h: the CNN's fully connected layers at batch 64 (forward, input gradient, weight gradient)
// and odd sizes across tile edges, every transpose, in fp32 and tf32; the fully connected layers on bf16 operands.
#include <type_traits>

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

// bf16 operands (the bf16 model's linear layers), C float or bf16.
template <typename C>
OpCase bf16_gemm_case(const GemmShape& g) {
  const bool bf16_c = std::is_same_v<C, bf16>;
  const DType c_type = bf16_c ? DType::bf16 : DType::f32;
  const std::string variant = std::string("bf16-") + (g.trans_a ? "t" : "n") + (g.trans_b ? "t" : "n") + (bf16_c ? "-bf16" : "-f32");
  OpCase c{"gemm", "gemm", variant, std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k),
           2.0 * double(g.m * g.n * g.k), 2.0 * double(g.m * g.k + g.k * g.n) + double(dtype_size(c_type) * g.m * g.n),
           nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor a = seeded(ctx, {g.m * g.k}, DType::bf16, -1, 1, 104), b = seeded(ctx, {g.k * g.n}, DType::bf16, -1, 1, 105);
    const Tensor out = poisoned(ctx, {g.m * g.n}, c_type, poison);
    const Tolerance tolerance =
        bf16_c ? Tolerance::normwise(0x1p-6, "the same bf16 operands, products exact in float, float sums in another "
                                             "order, then one rounding to bf16 each: at most one bf16 ulp (<= 2^-7 "
                                             "relative) apart; 2^-6 is twice that")
               : Tolerance::normwise(1e-5, "the same bf16 operands, products exact in float: only the float sums' "
                                           "order differs, as kFp32");
    return OpRun{[=, &ctx] {
                   kernels::gemm(ctx, g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, a.data<bf16>(), b.data<bf16>(), 0.0f,
                                 out.data<C>(), Precision::bf16);
                 },
                 {{"c", out, tolerance}}};
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
  // The bf16 model: fc1 forward into float (its epilogue rounds), its two gradients and fc2's in bf16.
  cases.push_back(bf16_gemm_case<float>(shapes[0]));
  cases.push_back(bf16_gemm_case<bf16>(shapes[1]));
  cases.push_back(bf16_gemm_case<bf16>(shapes[2]));
  cases.push_back(bf16_gemm_case<float>(shapes[3]));
}

}  // namespace rosetta::ops
