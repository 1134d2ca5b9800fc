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

// Images (n, c, hw) NCHW float into NHWC of cp channels (zeros past c), float or bf16.
template <typename T>
OpCase pack_case(DType dtype, std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t cp) {
  OpCase k{"layout", "pack_channels_last", dtype == DType::bf16 ? "bf16" : "f32",
           std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(hw) + "-to-" + std::to_string(cp), 0,
           double(n * hw) * double(4 * c + dtype_size(dtype) * cp), nullptr};
  k.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, {n * c * hw}, DType::f32, -1, 1, 73), y = poisoned(ctx, {n * hw * cp}, dtype, poison);
    return OpRun{[=, &ctx] { kernels::pack_channels_last(ctx, x.data<float>(), y.data<T>(), n, c, hw, cp); },
                 {{"y", y, Tolerance::exact("each output element is one copy of an input element or a zero, rounded "
                                            "to bf16 by the same function in both twins")}}};
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
  // ResNet-50's input padded to a tensor-core width: 8 bf16 or 4 float channels (16 bytes).
  cases.push_back(pack_case<bf16>(DType::bf16, 8, 3, 224 * 224, 8));
  cases.push_back(pack_case<float>(DType::f32, 8, 3, 224 * 224, 4));
  cases.push_back(pack_case<float>(DType::f32, 2, 3, 17 * 17, 3));  // unpadded: the plain NHWC conversion
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
