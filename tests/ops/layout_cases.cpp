// Op cases of kernels/layout.h: every transpose is one copy (or one rounding to bf16) per element in both twins, and
// the parameter copies walk kernels/reference/layout.h's index maps in both, so all are bit-identical.
#include <type_traits>

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

// relayout_channels of the padded channels-last models: the CNN's images (64, 3, 32 * 32) float NCHW -> NHWC padded to
// 8 channels (float or bf16) and its flatten (64, 100 of 104, 8 * 8) bf16 NHWC -> NCHW and back; ResNet-50's stem input.
template <typename In, typename Out>
OpCase relayout_case(Layout from, std::int64_t x_channels, Layout to, std::int64_t y_channels, std::int64_t n,
                     std::int64_t c, std::int64_t hw) {
  const DType in = std::is_same_v<In, bf16> ? DType::bf16 : DType::f32, out = std::is_same_v<Out, bf16> ? DType::bf16 : DType::f32;
  const std::string variant = std::string(layout_name(from)) + std::to_string(x_channels) + "-to-" + layout_name(to) +
                              std::to_string(y_channels) + "-" + dtype_name(in) + "-" + dtype_name(out);
  OpCase k{"layout", "relayout_channels", variant, std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(hw),
           0, double(n * hw) * double(x_channels * dtype_size(in) + y_channels * dtype_size(out)), nullptr};
  k.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, {n * x_channels * hw}, in, -1, 1, 73), y = poisoned(ctx, {n * y_channels * hw}, out, poison);
    return OpRun{[=, &ctx] {
                   kernels::relayout_channels(ctx, x.data<In>(), from, x_channels, y.data<Out>(), to, y_channels, n, c, hw);
                 },
                 {{"y", y, kCopies}}};
  };
  return k;
}

// stage_parameters and unstage_gradients of the CNN's conv2 (weight (50, 50, 9) into NHWC (56, 9, 56), bias 50 -> 56)
// and fc2 (weight (10, 512, 1), unpadded), from and to an arena with the parameters 64-element aligned.
kernels::ParameterCopies cnn_copies() {
  kernels::ParameterCopies copies;
  copies.add({0, 0, 50, 50, 9, 56, 56, Layout::nhwc, false});
  copies.add({22528, 0, 50, 1, 1, 56, 1, Layout::nhwc, true});
  copies.add({22592, 0, 10, 512, 1, 10, 512, Layout::nchw, false});
  return copies;
}
constexpr std::int64_t kArena = 22592 + 5120;

template <typename T>
OpCase staging_case(bool unstage) {
  const DType dtype = std::is_same_v<T, bf16> ? DType::bf16 : DType::f32;
  const kernels::ParameterCopies copies = cnn_copies();
  const std::int64_t weights = copies.working_elements(false), biases = copies.working_elements(true);
  OpCase k{"layout", unstage ? "unstage_gradients" : "stage_parameters", dtype_name(dtype), "conv2-nhwc56+fc2", 0,
           double(kArena * 4 + weights * dtype_size(dtype) + biases * (unstage ? 4 : dtype_size(dtype))), nullptr};
  k.make = [=](const Context& ctx, std::uint8_t poison) {
    if (!unstage) {
      const Tensor arena = seeded(ctx, {kArena}, DType::f32, -1, 1, 74);
      const Tensor w = poisoned(ctx, {weights}, dtype, poison), b = poisoned(ctx, {biases}, dtype, poison);
      return OpRun{[=, &ctx] { kernels::stage_parameters(ctx, copies, arena.data<float>(), w.data<T>(), b.data<T>()); },
                   {{"weights", w, kCopies}, {"biases", b, kCopies}}};
    }
    const Tensor w = seeded(ctx, {weights}, dtype, -1, 1, 75), b = seeded(ctx, {biases}, DType::f32, -1, 1, 76);
    // The arena's gaps between parameters are not written: zero them so the comparison sees only the copies.
    const Tensor arena = poisoned(ctx, {kArena}, DType::f32, 0);
    return OpRun{[=, &ctx] { kernels::unstage_gradients(ctx, copies, w.data<T>(), b.data<float>(), arena.data<float>()); },
                 {{"arena", arena, kCopies}}};
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
  cases.push_back(relayout_case<float, float>(Layout::nchw, 3, Layout::nhwc, 8, 64, 3, 1024));
  cases.push_back(relayout_case<float, bf16>(Layout::nchw, 3, Layout::nhwc, 8, 64, 3, 1024));
  cases.push_back(relayout_case<bf16, bf16>(Layout::nhwc, 104, Layout::nchw, 100, 64, 100, 64));
  cases.push_back(relayout_case<bf16, bf16>(Layout::nchw, 100, Layout::nhwc, 104, 64, 100, 64));
  // ResNet-50's input padded to a tensor-core width (8 bf16 or 4 float channels, 16 bytes), and unpadded: the plain
  // NHWC conversion.
  cases.push_back(relayout_case<float, bf16>(Layout::nchw, 3, Layout::nhwc, 8, 8, 3, 224 * 224));
  cases.push_back(relayout_case<float, float>(Layout::nchw, 3, Layout::nhwc, 4, 8, 3, 224 * 224));
  cases.push_back(relayout_case<float, float>(Layout::nchw, 3, Layout::nhwc, 3, 2, 3, 17 * 17));
  for (bool unstage : {false, true}) {
    cases.push_back(staging_case<float>(unstage));
    cases.push_back(staging_case<bf16>(unstage));
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
