// Op cases of kernels/elementwise.h. Every op but the bias gradients computes each element with the same float
// operations in both twins (dropout draws the same Philox numbers), so those are bit-identical by construction.
#include <algorithm>

#include "kernels/elementwise.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

const Tolerance kSameOperations = Tolerance::exact("each element is the same float operations in both twins");

// The CNN's activations at batch 4: (4, 50, 32, 32), 204,800 elements.
const Shape kActivations{4, 50, 32, 32};

// A case on a flat (n) f32 input x and output y = op(x).
OpCase unary(const std::string& op, std::int64_t n, std::function<void(const Context&, const Tensor&, const Tensor&)> call) {
  OpCase c{"elementwise", op, "f32", std::to_string(n), double(n), 8.0 * double(n), nullptr};
  c.make = [n, call](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, {n}, DType::f32, -2, 2, 11), y = poisoned(ctx, {n}, DType::f32, poison);
    return OpRun{[=, &ctx] { call(ctx, x, y); }, {{"y", y, kSameOperations}}};
  };
  return c;
}

// convert from `from` to `to` over n elements spanning past f16's range (|x| up to 70000, so f16 overflows) and
// below its normal range.
OpCase conversion(DType from, DType to, std::int64_t n) {
  const std::string variant = std::string(dtype_name(from)) + "-" + dtype_name(to);
  OpCase c{"elementwise", "convert", variant, std::to_string(n), 0,
           double(n) * double(dtype_size(from) + dtype_size(to)), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor x = seeded(ctx, {n}, from, -70000, 70000, 12);
    const Tensor small = seeded(ctx, {n}, from, -1e-6f, 1e-6f, 13);  // f16 subnormals and flushes
    const Tensor y = poisoned(ctx, {2 * n}, to, poison);
    const auto run = [=, &ctx](const Tensor& in, std::int64_t offset) {
      if (from == DType::f32 && to == DType::bf16) kernels::convert(ctx, in.data<float>(), y.data<bf16>() + offset, n);
      if (from == DType::bf16 && to == DType::f32) kernels::convert(ctx, in.data<bf16>(), y.data<float>() + offset, n);
      if (from == DType::f32 && to == DType::f16) kernels::convert(ctx, in.data<float>(), y.data<f16>() + offset, n);
      if (from == DType::f16 && to == DType::f32) kernels::convert(ctx, in.data<f16>(), y.data<float>() + offset, n);
    };
    return OpRun{[=] {
                   run(x, 0);
                   run(small, n);
                 },
                 {{"y", y, Tolerance::exact("round to nearest even by one bit-exact function on host and device")}}};
  };
  return c;
}

// A step counter at 5 in the context's memory, for the dropout draws.
Tensor step_counter(const Context& ctx) {
  Tensor step = Tensor::empty({1}, DType::u64);
  step.data<std::uint64_t>()[0] = 5;
  return on(ctx, step);
}

// The linear layer's fused epilogue on the GEMM's float output: fc1 (64, 512) with ReLU and dropout 0.5 at global
// index 64 x 512 on, fc2 (64, 10) with neither; y and the bias float or bf16.
template <typename T>
OpCase linear_epilogue_case(std::int64_t rows, std::int64_t features, bool relu, float p, DType dtype) {
  const std::string variant = std::string(dtype == DType::bf16 ? "bf16" : "f32") + (relu ? "-relu" : "") +
                              (p > 0 ? "-p" + std::to_string(p).substr(0, 3) : "");
  OpCase c{"elementwise", "bias_relu_dropout_forward", variant, std::to_string(rows) + "x" + std::to_string(features),
           double(rows * features), double(rows * features) * (4 + dtype_size(dtype)), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor z = seeded(ctx, {rows, features}, DType::f32, -2, 2, 71), bias = seeded(ctx, {features}, dtype, -1, 1, 72);
    const Tensor counter = step_counter(ctx), y = poisoned(ctx, {rows, features}, dtype, poison);
    const kernels::DropoutDraw draw{p, 7, 4, counter.data<std::uint64_t>(), std::uint64_t(rows * features)};
    return OpRun{[=, &ctx] {
                   (void)counter;  // keeps the step counter the draw points to alive
                   kernels::bias_relu_dropout_forward(ctx, z.data<float>(), bias.data<T>(), y.data<T>(), relu, draw,
                                                      rows, features, 1);
                 },
                 {{"y", y, Tolerance::exact("the reference's element function and the same Philox draws in both twins")}}};
  };
  return c;
}

// The fused gradient of a ReLU (+ dropout) epilogue with the bias gradient, over a per-channel view: the CNN's conv1
// output at batch 4 in NCHW (4, 50, 1024) and channels-last padded (4096, 56, 1), fc1 (64, 512, 1) with dropout's scale
// 2, and fc2's bias gradient alone (64, 10, 1; no ReLU, no dz). y is a ReLU's output (exact zeros).
template <typename T>
OpCase epilogue_gradient_case(const Shape& view, bool relu, bool write_dz, float scale, DType dtype) {
  const std::string variant = std::string(dtype == DType::bf16 ? "bf16" : "f32") + (relu ? "-relu" : "") +
                              (write_dz ? "" : "-bias-only") + (scale != 1.0f ? "-scale2" : "");
  OpCase c{"elementwise", "bias_relu_dropout_backward", variant, dims(view), double(view.numel()),
           double(view.numel()) * 3 * dtype_size(dtype), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const Tensor uniform = seeded(Context::cpu(), view, DType::f32, -1, 1, 81);
    Tensor relu_output = Tensor::empty(view, dtype);
    for (std::int64_t i = 0; i < uniform.numel(); ++i) {
      const float v = std::max(uniform.data<float>()[i], 0.0f);
      if (dtype == DType::bf16)
        relu_output.data<bf16>()[i] = bf16(v);
      else
        relu_output.data<float>()[i] = v;
    }
    const Tensor y_typed = on(ctx, relu_output);
    const Tensor dy = seeded(ctx, view, dtype, -1, 1, 82);
    const Tensor dz = poisoned(ctx, view, dtype, poison), dbias = poisoned(ctx, {view[1]}, DType::f32, poison);
    std::vector<OpOutput> outputs{{"dbias", dbias, bias_gradient_tolerance(dtype, view[0] * view[2])}};
    if (write_dz) outputs.push_back({"dz", dz, Tolerance::exact("the reference's element function in both twins")});
    return OpRun{[=, &ctx] {
                   kernels::bias_relu_dropout_backward(ctx, relu ? y_typed.data<T>() : nullptr, dy.data<T>(), scale,
                                                       write_dz ? dz.data<T>() : nullptr, dbias.data<float>(), view[0],
                                                       view[1], view[2]);
                 },
                 outputs};
  };
  return c;
}

}  // namespace

void add_elementwise_cases(std::vector<OpCase>& cases) {
  const std::int64_t n = kActivations.numel();
  cases.push_back(unary("fill", n, [](const Context& ctx, const Tensor&, const Tensor& y) {
    kernels::fill(ctx, y.data<float>(), 0.25f, y.numel());
  }));
  cases.push_back(unary("copy", n, [](const Context& ctx, const Tensor& x, const Tensor& y) {
    kernels::copy(ctx, x.data<float>(), y.data<float>(), x.numel());
  }));
  cases.push_back(unary("relu_forward", n, [](const Context& ctx, const Tensor& x, const Tensor& y) {
    kernels::relu_forward(ctx, x.data<float>(), y.data<float>(), x.numel());
  }));
  for (DType half : {DType::bf16, DType::f16}) {
    cases.push_back(conversion(DType::f32, half, 65537));
    cases.push_back(conversion(half, DType::f32, 65537));
  }

  {  // relu_backward: dx = dy where y > 0; y has exact zeros (a ReLU output) so the rule at 0 is exercised.
    OpCase c{"elementwise", "relu_backward", "f32", dims(kActivations), double(n), 12.0 * double(n), nullptr};
    c.make = [=](const Context& ctx, std::uint8_t poison) {
      const Tensor x = seeded(ctx, kActivations, DType::f32, -1, 1, 21), dy = seeded(ctx, kActivations, DType::f32, -1, 1, 22);
      const Tensor y = poisoned(ctx, kActivations, DType::f32, 0), dx = poisoned(ctx, kActivations, DType::f32, poison);
      kernels::relu_forward(ctx, x.data<float>(), y.data<float>(), n);
      return OpRun{[=, &ctx] { kernels::relu_backward(ctx, y.data<float>(), dy.data<float>(), dx.data<float>(), n); },
                   {{"dx", dx, kSameOperations}}};
    };
    cases.push_back(c);
  }
  {  // bias_add over the NCHW conv view (N, C, H*W) and the Linear view (N, F, 1), in place.
    for (const bool linear : {false, true}) {
      const Shape view = linear ? Shape{64, 512, 1} : Shape{4, 50, 1024};
      OpCase c{"elementwise", "bias_add", linear ? "f32-rows" : "f32-nchw", dims(view), double(view.numel()),
               8.0 * double(view.numel()), nullptr};
      c.make = [=](const Context& ctx, std::uint8_t) {
        const Tensor y = seeded(ctx, view, DType::f32, -1, 1, 31), bias = seeded(ctx, {view[1]}, DType::f32, -1, 1, 32);
        return OpRun{[=, &ctx] { kernels::bias_add(ctx, y.data<float>(), bias.data<float>(), view[0], view[1], view[2]); },
                     {{"y", y, kSameOperations}}};
      };
      cases.push_back(c);
    }
  }
  {  // bias_backward: a reduction over outer * inner = 4096 terms per channel.
    const Shape view{4, 50, 1024};
    OpCase c{"elementwise", "bias_backward", "f32-nchw", dims(view), double(view.numel()), 4.0 * double(view.numel()),
             nullptr};
    c.make = [=](const Context& ctx, std::uint8_t poison) {
      const Tensor dy = seeded(ctx, view, DType::f32, -1, 1, 41), db = poisoned(ctx, {view[1]}, DType::f32, poison);
      return OpRun{[=, &ctx] {
                     kernels::bias_backward(ctx, dy.data<float>(), db.data<float>(), view[0], view[1], view[2], false);
                   },
                   {{"dbias", db,
                     Tolerance::normwise(1e-5, "the CUDA block reduction adds the 4096 terms in another order: float "
                                               "re-association, ~sqrt(4096) u = 4e-6 of the sums' scale at worst")}}};
    };
    cases.push_back(c);
  }
  {  // dropout forward and backward, p = 0.25, the step counter in device memory at 5, the elements at global index
     // 3n on (a data-parallel rank's share: both twins must offset the draws alike).
    OpCase forward{"elementwise", "dropout_forward", "f32-p0.25", dims(kActivations), double(n), 12.0 * double(n), nullptr};
    forward.make = [=](const Context& ctx, std::uint8_t poison) {
      const Tensor x = seeded(ctx, kActivations, DType::f32, -1, 1, 51);
      const Tensor y = poisoned(ctx, kActivations, DType::f32, poison), mask = poisoned(ctx, kActivations, DType::f32, poison);
      Tensor step = Tensor::empty({1}, DType::u64);
      step.data<std::uint64_t>()[0] = 5;
      const Tensor counter = on(ctx, step);
      return OpRun{[=, &ctx] {
                     kernels::dropout_forward(ctx, x.data<float>(), y.data<float>(), mask.data<float>(), 0.25f, 7, 3,
                                              counter.data<std::uint64_t>(), 3 * std::uint64_t(n), n);
                   },
                   {{"y", y, kSameOperations},
                    {"mask", mask, Tolerance::exact("the same Philox draws on host and device")}}};
    };
    cases.push_back(forward);
    OpCase backward{"elementwise", "dropout_backward", "f32", dims(kActivations), double(n), 12.0 * double(n), nullptr};
    backward.make = [=](const Context& ctx, std::uint8_t poison) {
      const Tensor dy = seeded(ctx, kActivations, DType::f32, -1, 1, 52), mask = seeded(ctx, kActivations, DType::f32, 0, 2, 53);
      const Tensor dx = poisoned(ctx, kActivations, DType::f32, poison);
      return OpRun{[=, &ctx] { kernels::dropout_backward(ctx, dy.data<float>(), mask.data<float>(), dx.data<float>(), n); },
                   {{"dx", dx, kSameOperations}}};
    };
    cases.push_back(backward);
  }
  for (DType dtype : {DType::f32, DType::bf16}) {
    const bool half = dtype == DType::bf16;
    cases.push_back(half ? linear_epilogue_case<bf16>(64, 512, true, 0.5f, dtype)
                         : linear_epilogue_case<float>(64, 512, true, 0.5f, dtype));
    cases.push_back(half ? linear_epilogue_case<bf16>(64, 10, false, 0.0f, dtype)
                         : linear_epilogue_case<float>(64, 10, false, 0.0f, dtype));
    for (const Shape& view : {Shape{4, 50, 1024}, Shape{4096, 56, 1}})
      cases.push_back(half ? epilogue_gradient_case<bf16>(view, true, true, 1.0f, dtype)
                           : epilogue_gradient_case<float>(view, true, true, 1.0f, dtype));
    cases.push_back(half ? epilogue_gradient_case<bf16>({64, 512, 1}, true, true, 2.0f, dtype)
                         : epilogue_gradient_case<float>({64, 512, 1}, true, true, 2.0f, dtype));
    cases.push_back(half ? epilogue_gradient_case<bf16>({64, 10, 1}, false, false, 1.0f, dtype)
                         : epilogue_gradient_case<float>({64, 10, 1}, false, false, 1.0f, dtype));
  }
  {  // increment_counter on a device u64.
    OpCase c{"elementwise", "increment_counter", "u64", "1", 1, 16, nullptr};
    c.make = [](const Context& ctx, std::uint8_t) {
      Tensor host = Tensor::empty({1}, DType::u64);
      host.data<std::uint64_t>()[0] = 41;
      const Tensor counter = on(ctx, host);
      return OpRun{[=, &ctx] { kernels::increment_counter(ctx, counter.data<std::uint64_t>()); },
                   {{"counter", counter, Tolerance::exact("an integer increment")}}};
    };
    cases.push_back(c);
  }
}

}  // namespace rosetta::ops
