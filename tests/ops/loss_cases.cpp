// Op cases of kernels/loss.h: softmax cross-entropy on the workloads' batches and an ImageNet-wide row, and the
// arg-max count on tied logits with NaNs.
#include <cmath>

#include "kernels/loss.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

constexpr double kU = 0x1p-24;  // float's unit roundoff
constexpr float kSpread = 8.0f;  // logits uniform in [-8, 8)

OpCase cross_entropy_case(std::int64_t n, std::int64_t k) {
  // The GPU works in float: expf (<= 2 ulps), a float sum of up to k exps (a lane-serial sum of k/32 terms then a
  // 5-level tree), logf, x - max rounded at the logits' magnitude (<= 16 ulps of exp(x - max)) and 1/n: (k/32 + 25)
  // ulps in all. The CPU twin is within one rounding of exact (double inside).
  const double ulps = double(k) / 32 + 32;
  const std::string reason = "float exp, log and a k-term float sum on the GPU against one rounding on the CPU: " +
                             std::to_string(int(ulps)) + " ulps bound them";
  OpCase c{"loss", "softmax_cross_entropy", "f32", std::to_string(n) + "x" + std::to_string(k), 5.0 * double(n * k),
           8.0 * double(n * k), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor logits = seeded(ctx, {n, k}, DType::f32, -kSpread, kSpread, 111);
    const Tensor labels = seeded_ints(ctx, {n}, 0, static_cast<std::int32_t>(k), 112);
    const Tensor loss = poisoned(ctx, {1}, DType::f32, poison), dlogits = poisoned(ctx, {n, k}, DType::f32, poison);
    return OpRun{[=, &ctx] {
                   kernels::softmax_cross_entropy(ctx, logits.data<float>(), labels.data<std::int32_t>(),
                                                  loss.data<float>(), dlogits.data<float>(), n, k, n);
                 },
                 {{"loss", loss, Tolerance::elementwise(0, ulps * kU * (1 + kSpread + std::log(double(k))), reason)},
                  {"dlogits", dlogits, Tolerance::elementwise(ulps * kU, ulps * kU / double(n), reason)}}};
  };
  return c;
}

// bf16 logits and gradient (the bf16 CNN's fc2), the loss in float: the same float computation, then one rounding of
// each dlogit to bf16.
OpCase bf16_cross_entropy_case(std::int64_t n, std::int64_t k) {
  const double ulps = double(k) / 32 + 32;
  OpCase c{"loss", "softmax_cross_entropy", "bf16", std::to_string(n) + "x" + std::to_string(k), 5.0 * double(n * k),
           4.0 * double(n * k), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor logits = seeded(ctx, {n, k}, DType::bf16, -kSpread, kSpread, 116);
    const Tensor labels = seeded_ints(ctx, {n}, 0, static_cast<std::int32_t>(k), 117);
    const Tensor loss = poisoned(ctx, {1}, DType::f32, poison), dlogits = poisoned(ctx, {n, k}, DType::bf16, poison);
    return OpRun{[=, &ctx] {
                   kernels::softmax_cross_entropy(ctx, logits.data<bf16>(), labels.data<std::int32_t>(),
                                                  loss.data<float>(), dlogits.data<bf16>(), n, k, n);
                 },
                 {{"loss", loss,
                   Tolerance::elementwise(0, ulps * kU * (1 + kSpread + std::log(double(k))),
                                          "the float loss of the same bf16 values, bounded as the f32 case's")},
                  {"dlogits", dlogits,
                   Tolerance::elementwise(0x1p-6, 0x1p-6 / double(n),
                                          "the f32 case's few-ulp float differences, then one rounding to bf16 each: "
                                          "at most one bf16 ulp (<= 2^-7 relative) apart; 2^-6 is twice that")}}};
  };
  return c;
}

OpCase count_case(std::int64_t n, std::int64_t k) {
  OpCase c{"loss", "count_correct", "f32", std::to_string(n) + "x" + std::to_string(k), double(n * k),
           4.0 * double(n * k), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t) {
    // Half-steps in [-2, 2): ties in most rows; a NaN in about one logit in 13 (NaN counts as the largest).
    const Tensor logits = quantised(ctx, {n, k}, DType::f32, -4, 4, 113, 13);
    const Tensor labels = seeded_ints(ctx, {n}, 0, static_cast<std::int32_t>(k), 114);
    const Tensor correct = seeded_ints(ctx, {1}, 7, 8, 115);  // counts onto 7
    return OpRun{[=, &ctx] {
                   kernels::count_correct(ctx, logits.data<float>(), labels.data<std::int32_t>(),
                                          correct.data<std::int32_t>(), n, k);
                 },
                 {{"correct", correct,
                   Tolerance::exact("the first maximum under reference::argmax_prefers, a total order, on both twins")}}};
  };
  return c;
}

}  // namespace

void add_loss_cases(std::vector<OpCase>& cases) {
  for (const auto& [n, k] : {std::pair<std::int64_t, std::int64_t>{64, 10}, {64, 2}, {32, 1000}, {100, 3}}) {
    cases.push_back(cross_entropy_case(n, k));
    cases.push_back(count_case(n, k));
  }
  cases.push_back(bf16_cross_entropy_case(64, 10));
}

}  // namespace rosetta::ops
