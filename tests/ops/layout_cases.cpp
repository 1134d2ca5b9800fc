// Op cases of kernels/layout.h: every transpose is one copy per element in both twins, so bit-identical.
#include "kernels/layout.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

const Tolerance kCopies = Tolerance::exact("each output element is one copy of an input element");

template <typename T>
OpCase change_case(Layout from, Layout to, DType dtype, std::int64_t n, std::int64_t c, std::int64_t hw) {
  const std::string variant =
      std::string(layout_name(from)) + "-to-" + layout_name(to) + "-" + (dtype == DType::bf16 ? "bf16" : "f32");
  OpCase k{"layout", "change_layout", variant, std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(hw), 0,
           2.0 * double(n * c * hw * dtype_size(dtype)), nullptr};
  k.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, {n * c * hw}, dtype, -1, 1, 71), y = poisoned(ctx, {n * c * hw}, dtype, poison);
    return OpRun{[=, &ctx] { kernels::change_layout(ctx, x.data<T>(), from, y.data<T>(), to, n, c, hw); },
                 {{"y", y, kCopies}}};
  };
  return k;
}

}  // namespace

void add_layout_cases(std::vector<OpCase>& cases) {
  // ResNet-50's input batch (32, 3, 224, 224) and a (K, C, R, S) filter bank (256, 64, 3 * 3).
  for (const auto& [from, to] : {std::pair{Layout::nchw, Layout::nhwc}, std::pair{Layout::nhwc, Layout::nchw}}) {
    cases.push_back(change_case<float>(from, to, DType::f32, 32, 3, 224 * 224));
    cases.push_back(change_case<bf16>(from, to, DType::bf16, 32, 3, 224 * 224));
    cases.push_back(change_case<float>(from, to, DType::f32, 256, 64, 9));
  }
  // The GRU's batch-first transpose: (N 64, T 150, C 125) -> (T, N, C).
  OpCase swap{"layout", "swap_leading_axes", "f32", "64x150x125", 0, 2.0 * 64 * 150 * 125 * 4, nullptr};
  swap.make = [](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, {64, 150, 125}, DType::f32, -1, 1, 72), y = poisoned(ctx, {150, 64, 125}, DType::f32, poison);
    return OpRun{[=, &ctx] { kernels::swap_leading_axes(ctx, x.data<float>(), y.data<float>(), 64, 150, 125); },
                 {{"y", y, kCopies}}};
  };
  cases.push_back(swap);
}

}  // namespace rosetta::ops
