// Op cases of kernels/pool.h: max pooling forward and backward, the fused pooling + ReLU + dropout and its gradient
// with the bias gradient, and global average pooling, in both layouts, on float and bf16. Inputs are quantised to a
// coarse grid (ties in most windows, so the first-maximum rule is exercised) with a NaN in about one element in 997
// (NaN propagation). Both twins run the reference's per-element functions (kernels/reference/pool.h), so every output
// but the fused bias gradient is bit-identical.
#include "kernels/pool.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

const Tolerance kReferenceFunctions =
    Tolerance::exact("both twins run kernels/reference/pool.h's per-element functions: the same comparisons and sums");

// The CNN's 2x2/2 pooling of conv2 at batch 4 and ResNet-50's 3x3/2 pad 1 stem pooling at batch 2.
const kernels::PoolShape kShapes[] = {{4, 50, 32, 32, 2, 2, 0}, {2, 64, 56, 56, 3, 2, 1}};

Shape stored(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, Layout layout) {
  return layout == Layout::nhwc ? Shape{n, h, w, c} : Shape{n, c, h, w};
}

std::string pool_shape_name(const kernels::PoolShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "-w" +
         std::to_string(s.window) + "s" + std::to_string(s.stride) + "p" + std::to_string(s.pad);
}

std::string variant_name(Layout layout, DType dtype) {
  return std::string(layout_name(layout)) + "-" + (dtype == DType::bf16 ? "bf16" : "f32");
}

template <typename T>
OpCase forward_case(const kernels::PoolShape& s, Layout layout, DType dtype) {
  const Shape in = stored(s.n, s.c, s.h, s.w, layout), out = stored(s.n, s.c, s.out_h(), s.out_w(), layout);
  OpCase c{"pool", "maxpool2d_forward", variant_name(layout, dtype), pool_shape_name(s),
           double(out.numel()) * s.window * s.window,
           double(in.numel() * dtype_size(dtype) + out.numel() * (dtype_size(dtype) + 4)), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor x = quantised(ctx, in, dtype, -4, 4, 61, 997);
    const Tensor y = poisoned(ctx, out, dtype, poison), argmax = poisoned(ctx, out, DType::i32, poison);
    return OpRun{[=, &ctx] {
                   kernels::maxpool2d_forward(ctx, s, layout, x.data<T>(), y.data<T>(), argmax.data<std::int32_t>());
                 },
                 {{"y", y, kReferenceFunctions}, {"argmax", argmax, kReferenceFunctions}}};
  };
  return c;
}

template <typename T>
OpCase backward_case(const kernels::PoolShape& s, Layout layout, DType dtype) {
  const Shape in = stored(s.n, s.c, s.h, s.w, layout), out = stored(s.n, s.c, s.out_h(), s.out_w(), layout);
  OpCase c{"pool", "maxpool2d_backward", variant_name(layout, dtype), pool_shape_name(s),
           double(in.numel()) * s.window * s.window,
           double(in.numel() * dtype_size(dtype) + out.numel() * (dtype_size(dtype) + 4)), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    // The arg-max of a forward on the same inputs, computed on this device; the CPU's equals it (above).
    const Tensor x = quantised(ctx, in, dtype, -4, 4, 62, 0);
    const Tensor y = poisoned(ctx, out, dtype, 0), argmax = poisoned(ctx, out, DType::i32, 0);
    kernels::maxpool2d_forward(ctx, s, layout, x.data<T>(), y.data<T>(), argmax.data<std::int32_t>());
    const Tensor dy = seeded(ctx, out, dtype, -1, 1, 63), dx = poisoned(ctx, in, dtype, poison);
    return OpRun{[=, &ctx] {
                   kernels::maxpool2d_backward(ctx, s, layout, dy.data<T>(), argmax.data<std::int32_t>(), dx.data<T>());
                 },
                 {{"dx", dx, kReferenceFunctions}}};
  };
  return c;
}

// The CNN's pool1 at batch 4 in NCHW (50 channels) and channels-last padded to 56 (the tensor-core width), and pool2
// (100 channels, padded to 104).
struct FusedPoolCase {
  kernels::PoolShape shape;
  Layout layout;
  std::int64_t channels;  // unpadded
};
const FusedPoolCase kFusedShapes[] = {{{4, 50, 32, 32, 2, 2, 0}, Layout::nchw, 50},
                                      {{4, 56, 32, 32, 2, 2, 0}, Layout::nhwc, 50},
                                      {{4, 104, 16, 16, 2, 2, 0}, Layout::nhwc, 100}};

std::string fused_shape_name(const FusedPoolCase& f) {
  return pool_shape_name(f.shape) + (f.channels != f.shape.c ? "-c" + std::to_string(f.channels) : "");
}

// Dropout p = 0.25 under a step counter at 5 in the context's memory, drawn from global index 3 x the tensor on (a
// data-parallel rank's share), and x with its padded channels zero (as a padded model's are).
struct FusedInputs {
  Tensor x, counter;
  kernels::DropoutDraw draw;
};
FusedInputs fused_inputs(const Context& ctx, const FusedPoolCase& f, DType dtype, std::uint64_t seed) {
  const kernels::PoolShape& s = f.shape;
  Tensor host = quantised(Context::cpu(), stored(s.n, s.c, s.h, s.w, f.layout), DType::f32, -4, 4, seed, 997);
  float* v = host.data<float>();
  for (std::int64_t i = 0; i < host.numel(); ++i) {
    const std::int64_t ch = f.layout == Layout::nhwc ? i % s.c : i / (s.h * s.w) % s.c;
    if (ch >= f.channels) v[i] = 0.0f;
  }
  Tensor x = dtype == DType::bf16 ? Tensor::empty(host.shape(), DType::bf16) : host;
  if (dtype == DType::bf16)
    for (std::int64_t i = 0; i < host.numel(); ++i) x.data<bf16>()[i] = bf16(v[i]);
  Tensor step = Tensor::empty({1}, DType::u64);
  step.data<std::uint64_t>()[0] = 5;
  FusedInputs in{on(ctx, x), on(ctx, step), {}};
  in.draw = kernels::DropoutDraw{0.25f, 7, 3, in.counter.data<std::uint64_t>(), 3 * std::uint64_t(host.numel())};
  return in;
}

template <typename T>
OpCase fused_forward_case(const FusedPoolCase& f, DType dtype) {
  const kernels::PoolShape& s = f.shape;
  const Shape in = stored(s.n, s.c, s.h, s.w, f.layout), out = stored(s.n, s.c, s.out_h(), s.out_w(), f.layout);
  OpCase c{"pool", "maxpool2d_relu_dropout_forward", variant_name(f.layout, dtype), fused_shape_name(f),
           double(in.numel()), double(in.numel() * dtype_size(dtype) + out.numel() * (dtype_size(dtype) + 4)), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const FusedInputs inputs = fused_inputs(ctx, f, dtype, 65);
    const Tensor y = poisoned(ctx, out, dtype, poison), argmax = poisoned(ctx, out, DType::i32, poison);
    return OpRun{[=, &ctx] {
                   kernels::maxpool2d_relu_dropout_forward(ctx, s, f.layout, inputs.x.data<T>(), y.data<T>(),
                                                           argmax.data<std::int32_t>(), f.channels, inputs.draw);
                 },
                 {{"y", y, kReferenceFunctions}, {"argmax", argmax, kReferenceFunctions}}};
  };
  return c;
}

template <typename T>
OpCase fused_backward_case(const FusedPoolCase& f, DType dtype) {
  const kernels::PoolShape& s = f.shape;
  const Shape in = stored(s.n, s.c, s.h, s.w, f.layout), out = stored(s.n, s.c, s.out_h(), s.out_w(), f.layout);
  OpCase c{"pool", "maxpool2d_relu_dropout_backward", variant_name(f.layout, dtype), fused_shape_name(f),
           double(in.numel()), double(in.numel() * dtype_size(dtype) + out.numel() * (2 * dtype_size(dtype) + 4)),
           nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    // y and the arg-max of a forward on this device (the CPU's equals it: above), then a gradient.
    const FusedInputs inputs = fused_inputs(ctx, f, dtype, 66);
    const Tensor y = poisoned(ctx, out, dtype, 0), argmax = poisoned(ctx, out, DType::i32, 0);
    kernels::maxpool2d_relu_dropout_forward(ctx, s, f.layout, inputs.x.data<T>(), y.data<T>(),
                                            argmax.data<std::int32_t>(), f.channels, inputs.draw);
    const Tensor dy = seeded(ctx, out, dtype, -1, 1, 67);
    const Tensor dx = poisoned(ctx, in, dtype, poison), dbias = poisoned(ctx, {s.c}, DType::f32, poison);
    const float scale = kernels::dropout_scale(inputs.draw.p);
    const Tolerance bias = bias_gradient_tolerance(dtype, s.n * s.out_h() * s.out_w());
    return OpRun{[=, &ctx] {
                   kernels::maxpool2d_relu_dropout_backward(ctx, s, f.layout, dy.data<T>(), y.data<T>(),
                                                            argmax.data<std::int32_t>(), scale, dx.data<T>(),
                                                            dbias.data<float>());
                 },
                 {{"dx", dx, kReferenceFunctions}, {"dbias", dbias, bias}}};
  };
  return c;
}

// ResNet-50's global average pooling: (B, 2048, 7, 7) -> (B, 2048), at batch 4.
template <typename T>
OpCase average_case(Layout layout, DType dtype) {
  const std::int64_t n = 4, c = 2048, hw = 49;
  OpCase k{"pool", "global_avgpool_forward", variant_name(layout, dtype), "4x2048x7x7", double(n * c * hw),
           double(n * c * hw * dtype_size(dtype) + n * c * 4), nullptr};
  k.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, stored(n, c, 7, 7, layout), dtype, 0, 4, 64), y = poisoned(ctx, {n, c}, DType::f32, poison);
    return OpRun{[=, &ctx] { kernels::global_avgpool_forward(ctx, layout, x.data<T>(), y.data<float>(), n, c, hw); },
                 {{"features", y, kReferenceFunctions}}};
  };
  return k;
}

}  // namespace

void add_pool_cases(std::vector<OpCase>& cases) {
  for (Layout layout : {Layout::nchw, Layout::nhwc}) {
    for (const kernels::PoolShape& s : kShapes) {
      cases.push_back(forward_case<float>(s, layout, DType::f32));
      cases.push_back(forward_case<bf16>(s, layout, DType::bf16));
      cases.push_back(backward_case<float>(s, layout, DType::f32));
      cases.push_back(backward_case<bf16>(s, layout, DType::bf16));
    }
    cases.push_back(average_case<float>(layout, DType::f32));
    cases.push_back(average_case<bf16>(layout, DType::bf16));
  }
  for (const FusedPoolCase& f : kFusedShapes) {
    cases.push_back(fused_forward_case<float>(f, DType::f32));
    cases.push_back(fused_forward_case<bf16>(f, DType::bf16));
    cases.push_back(fused_backward_case<float>(f, DType::f32));
    cases.push_back(fused_backward_case<bf16>(f, DType::bf16));
  }
}

}  // namespace rosetta::ops
