// Op cases of kernels/batchnorm.h: both twins round each operation on its own in the same order (the CUDA twin with
// round-to-nearest intrinsics, so nvcc cannot contract them), so bit-identical.
#include "kernels/batchnorm.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {

void add_batchnorm_cases(std::vector<OpCase>& cases) {
  // The NCHW view (N, C, H*W) of a ResNet-50 stem output at batch 2 and the NHWC view (N*H*W, C, 1) of a layer3 one.
  for (const Shape& view : {Shape{2, 64, 112 * 112}, Shape{2 * 14 * 14, 1024, 1}}) {
    const double elements = double(view.numel());
    OpCase c{"batchnorm", "batchnorm_inference_forward", view[2] == 1 ? "f32-nhwc" : "f32-nchw", dims(view),
             4 * elements, 8 * elements, nullptr};
    c.make = [=](const Context& ctx, std::uint8_t poison) {
      const Tensor x = seeded(ctx, view, DType::f32, -3, 3, 91), y = poisoned(ctx, view, DType::f32, poison);
      const Tensor gamma = seeded(ctx, {view[1]}, DType::f32, 0.5f, 1.5f, 92);
      const Tensor beta = seeded(ctx, {view[1]}, DType::f32, -0.5f, 0.5f, 93);
      const Tensor mean = seeded(ctx, {view[1]}, DType::f32, -0.2f, 0.2f, 94);
      const Tensor var = seeded(ctx, {view[1]}, DType::f32, 0.5f, 2.0f, 95);
      return OpRun{[=, &ctx] {
                     kernels::batchnorm_inference_forward(ctx, x.data<float>(), y.data<float>(), gamma.data<float>(),
                                                          beta.data<float>(), mean.data<float>(), var.data<float>(),
                                                          1e-5f, view[0], view[1], view[2]);
                   },
                   {{"y", y, Tolerance::exact("the same float operations, each rounded on its own, in the same order")}}};
    };
    cases.push_back(c);
  }
}

}  // namespace rosetta::ops
