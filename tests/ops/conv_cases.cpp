// Op cases of kernels/conv.h: the CIFAR CNN's four layer shapes (3x3, pad 1) at batch 2 in every pass (NCHW fp32 and
// tf32; channels-last padded to the tensor-core widths in tf32 and bf16), and ResNet-50's kinds (the 7x7/2 stem, a 1x1,
// a strided 3x3, a strided 1x1 downsample) in the inference forward, in NCHW and NHWC, fp32, tf32 and bf16, plain and
// with the fused epilogue.
#include "kernels/conv.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

const Tolerance kFp32 = Tolerance::normwise(
    1e-4, "cuDNN sums in its own order and may use Winograd or FFT, which round transformed values (~1e-6 of the "
          "terms' magnitude in practice); 1e-4 normwise leaves margin and is below TF32's ~5e-4 and any missing term");
const Tolerance kTf32 = Tolerance::normwise(
    1e-2, "TF32 rounds x and w to 10 mantissa bits: ~2^-11 relative per product, ~1e-3 normwise after cancellation");
const Tolerance kBf16 = Tolerance::normwise(
    0x1p-7, "the twins see the same bf16 values and products are exact in float: they differ by the float sums' "
            "order, then by one bf16 rounding of the output (2^-8 relative) and, where the GPU fuses the epilogue, "
            "the CPU's extra rounding of the convolution before it (2^-9 of a value within the output's range)");

kernels::ConvShape conv_shape(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t k, int r, int pad,
                              int stride) {
  kernels::ConvShape s;
  s.n = n, s.c = c, s.h = s.w = h, s.k = k, s.r = s.s = r;
  s.pad_h = s.pad_w = pad, s.stride_h = s.stride_w = stride;
  return s;
}

std::string conv_shape_name(const kernels::ConvShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "-k" +
         std::to_string(s.k) + "r" + std::to_string(s.r) + "p" + std::to_string(s.pad_h) + "s" + std::to_string(s.stride_h);
}

double conv_flops(const kernels::ConvShape& s) { return 2.0 * s.n * s.k * s.c * s.r * s.s * s.out_h() * s.out_w(); }

// x, w and y of a shape stored in `layout`, as flat tensors.
struct Sizes {
  std::int64_t x, w, y;
};
Sizes sizes(const kernels::ConvShape& s) { return {s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.out_h() * s.out_w()}; }

kernels::ConvOptions options(Precision precision, Layout layout, bool forward_only) {
  kernels::ConvOptions o;
  o.precision = precision, o.layout = layout, o.forward_only = forward_only;
  return o;
}

std::string variant(Precision precision, Layout layout, const std::string& extra = "") {
  return std::string(layout_name(layout)) + "-" + precision_name(precision) + extra;
}

// One pass of a training plan in `layout` on T = float (fp32, tf32) or bf16 data.
template <typename T>
OpCase pass_case(const kernels::ConvShape& s, Precision precision, Layout layout, kernels::ConvPass pass) {
  const Sizes z = sizes(s);
  const DType dtype = precision == Precision::bf16 ? DType::bf16 : DType::f32;
  OpCase c{"conv", std::string("conv2d_") + kernels::conv_pass_name(pass), variant(precision, layout),
           conv_shape_name(s), conv_flops(s), double(dtype_size(dtype)) * double(z.x + z.w + z.y), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const kernels::ConvPlan plan = kernels::make_conv_plan(ctx, s, options(precision, layout, false));
    const Tolerance tolerance = precision == Precision::bf16 ? kBf16 : precision == Precision::fp32 ? kFp32 : kTf32;
    const Tensor x = seeded(ctx, {z.x}, dtype, -1, 1, 141), w = seeded(ctx, {z.w}, dtype, -0.5f, 0.5f, 142);
    const Tensor dy = seeded(ctx, {z.y}, dtype, -1, 1, 143);
    switch (pass) {
      case kernels::ConvPass::forward: {
        const Tensor y = poisoned(ctx, {z.y}, dtype, poison);
        return OpRun{[=, &ctx] { kernels::conv2d_forward(ctx, plan, x.data<T>(), w.data<T>(), y.data<T>()); },
                     {{"y", y, tolerance}}};
      }
      case kernels::ConvPass::backward_data: {
        const Tensor dx = poisoned(ctx, {z.x}, dtype, poison);
        return OpRun{[=, &ctx] { kernels::conv2d_backward_data(ctx, plan, dy.data<T>(), w.data<T>(), dx.data<T>()); },
                     {{"dx", dx, tolerance}}};
      }
      case kernels::ConvPass::backward_filter: {
        const Tensor dw = poisoned(ctx, {z.w}, dtype, poison);
        return OpRun{[=, &ctx] { kernels::conv2d_backward_filter(ctx, plan, x.data<T>(), dy.data<T>(), dw.data<T>()); },
                     {{"dw", dw, tolerance}}};
      }
    }
    return OpRun{};
  };
  return c;
}

// The inference forward of a forward-only plan, plain or with the epilogue (bias, residual when `residual`, ReLU
// when `relu`) declared to the plan (so on a GPU whichever backend times fastest runs it, fused or not), on
// T = float or bf16 data.
template <typename T>
OpCase inference_case(const kernels::ConvShape& s, Precision precision, Layout layout, bool fused, bool residual,
                      bool relu) {
  const Sizes z = sizes(s);
  const DType dtype = precision == Precision::bf16 ? DType::bf16 : DType::f32;
  const std::string extra = fused ? std::string("-bias") + (residual ? "-residual" : "") + (relu ? "-relu" : "") : "";
  OpCase c{"conv", fused ? "conv2d_bias_activation_forward" : "conv2d_forward", variant(precision, layout, extra),
           conv_shape_name(s), conv_flops(s), double(dtype_size(dtype)) * double(z.x + z.w + (residual ? 2 : 1) * z.y),
           nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    kernels::ConvOptions o = options(precision, layout, true);
    if (fused) o.epilogue = kernels::conv_epilogue_of(residual, relu);
    const kernels::ConvPlan plan = kernels::make_conv_plan(ctx, s, o);
    const Tolerance tolerance = precision == Precision::bf16 ? kBf16 : precision == Precision::fp32 ? kFp32 : kTf32;
    const Tensor x = seeded(ctx, {z.x}, dtype, -1, 1, 144), w = seeded(ctx, {z.w}, dtype, -0.5f, 0.5f, 145);
    const Tensor bias = seeded(ctx, {s.k}, dtype, -1, 1, 146), res = seeded(ctx, {z.y}, dtype, -2, 2, 147);
    // The fused call reads y as its z (scaled by 0) without a residual, so its y starts finite (zeros).
    const Tensor y = poisoned(ctx, {z.y}, dtype, fused ? 0 : poison);
    if (!fused)
      return OpRun{[=, &ctx] { kernels::conv2d_forward(ctx, plan, x.data<T>(), w.data<T>(), y.data<T>()); },
                   {{"y", y, tolerance}}};
    return OpRun{[=, &ctx] {
                   kernels::conv2d_bias_activation_forward(ctx, plan, x.data<T>(), w.data<T>(), bias.data<T>(),
                                                           residual ? res.data<T>() : nullptr, relu, y.data<T>());
                 },
                 {{"y", y, tolerance}}};
  };
  return c;
}

}  // namespace

void add_conv_cases(std::vector<OpCase>& cases) {
  const kernels::ConvShape cnn[] = {conv_shape(2, 3, 32, 50, 3, 1, 1), conv_shape(2, 50, 32, 50, 3, 1, 1),
                                    conv_shape(2, 50, 16, 100, 3, 1, 1), conv_shape(2, 100, 16, 100, 3, 1, 1)};
  for (const kernels::ConvShape& s : cnn)
    for (kernels::ConvPass pass : {kernels::ConvPass::forward, kernels::ConvPass::backward_data,
                                   kernels::ConvPass::backward_filter}) {
      cases.push_back(pass_case<float>(s, Precision::fp32, Layout::nchw, pass));
      if (s.c > 3) cases.push_back(pass_case<float>(s, Precision::tf32, Layout::nchw, pass));
    }
  // The channels-last model with channels padded to the tensor-core width (3 -> 8, 50 -> 56, 100 -> 104), trained in
  // tf32 and bf16 (conv1 has no data gradient there: its input is the data).
  const kernels::ConvShape padded[] = {conv_shape(2, 8, 32, 56, 3, 1, 1), conv_shape(2, 56, 32, 56, 3, 1, 1),
                                       conv_shape(2, 56, 16, 104, 3, 1, 1), conv_shape(2, 104, 16, 104, 3, 1, 1)};
  for (const kernels::ConvShape& s : padded)
    for (kernels::ConvPass pass : {kernels::ConvPass::forward, kernels::ConvPass::backward_data,
                                   kernels::ConvPass::backward_filter}) {
      if (s.c == 8 && pass == kernels::ConvPass::backward_data) continue;
      cases.push_back(pass_case<float>(s, Precision::tf32, Layout::nhwc, pass));
      cases.push_back(pass_case<bf16>(s, Precision::bf16, Layout::nhwc, pass));
    }
  const kernels::ConvShape stem = conv_shape(1, 3, 64, 64, 7, 3, 2), pointwise = conv_shape(2, 64, 14, 256, 1, 0, 1);
  const kernels::ConvShape strided = conv_shape(2, 128, 28, 128, 3, 1, 2), downsample = conv_shape(2, 256, 28, 512, 1, 0, 2);
  for (const kernels::ConvShape& s : {stem, pointwise, strided, downsample}) {
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      cases.push_back(inference_case<float>(s, Precision::fp32, layout, false, false, false));
      cases.push_back(inference_case<float>(s, Precision::fp32, layout, true, s.k == 256, true));
    }
    cases.push_back(inference_case<float>(s, Precision::tf32, Layout::nhwc, true, false, true));
    cases.push_back(inference_case<bf16>(s, Precision::bf16, Layout::nhwc, false, false, false));
    cases.push_back(inference_case<bf16>(s, Precision::bf16, Layout::nhwc, true, s.k == 256, true));
  }
  // The downsample's epilogue: bias without ReLU (cuDNN fuses the identity activation only under one algorithm).
  cases.push_back(inference_case<float>(downsample, Precision::fp32, Layout::nchw, true, false, false));
}

}  // namespace rosetta::ops
