// Op cases of kernels/residual.h: both twins apply kernels/reference/residual.h's element rule, so bit-identical.
#include "kernels/residual.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

// A bottleneck's output at batch 2 in NHWC: (2 * 28 * 28, 512, 1), viewed per channel.
constexpr std::int64_t kOuter = 2 * 28 * 28, kChannels = 512;

template <typename T>
OpCase epilogue_case(DType dtype, bool bias, bool residual, bool relu) {
  std::string variant = dtype == DType::bf16 ? "bf16" : "f32";
  variant += std::string(bias ? "-bias" : "") + (residual ? "-residual" : "") + (relu ? "-relu" : "");
  const double elements = double(kOuter * kChannels);
  OpCase c{"residual", "bias_residual_activation", variant, std::to_string(kOuter) + "x" + std::to_string(kChannels),
           elements * 3, elements * double(dtype_size(dtype)) * (residual ? 3 : 2), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t) {
    const Tensor y = seeded(ctx, {kOuter, kChannels}, dtype, -2, 2, 81), z = seeded(ctx, {kOuter, kChannels}, dtype, -2, 2, 82);
    const Tensor b = seeded(ctx, {kChannels}, dtype, -1, 1, 83);
    return OpRun{[=, &ctx] {
                   kernels::bias_residual_activation(ctx, y.data<T>(), bias ? b.data<T>() : nullptr,
                                                     residual ? z.data<T>() : nullptr, relu, kOuter, kChannels, 1);
                 },
                 {{"y", y, Tolerance::exact("both twins apply kernels/reference/residual.h's float operations in order")}}};
  };
  return c;
}

}  // namespace

void add_residual_cases(std::vector<OpCase>& cases) {
  cases.push_back(epilogue_case<float>(DType::f32, true, true, true));
  cases.push_back(epilogue_case<float>(DType::f32, false, true, true));
  cases.push_back(epilogue_case<float>(DType::f32, true, false, false));
  cases.push_back(epilogue_case<bf16>(DType::bf16, true, true, true));
  cases.push_back(epilogue_case<bf16>(DType::bf16, true, false, true));
}

}  // namespace rosetta::ops
