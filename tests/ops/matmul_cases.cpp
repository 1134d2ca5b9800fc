// Op cases of kernels/matmul.h: the shapes ResNet-50's 1x1 convolutions give it (NHWC stride 1 with the residual,
// stride 2 as a batch over (image, output row) with a doubled row stride, NCHW as a batch of images sharing the
// weight), a fully connected layer with bias and ReLU, and odd sizes with both operands transposed; in fp32, tf32 and
// bf16 where the shape is used so.
#include "kernels/matmul.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

using kernels::MatmulEpilogue;
using kernels::MatmulShape;

const Tolerance kFp32 = Tolerance::normwise(
    1e-5, "float sums in another order (cuBLASLt: FMA, blocked, maybe split over k): a k-term random-sign sum errs by "
          "~sqrt(k) u |ab| against outputs of ~sqrt(k) |ab|, a few u normwise, and the epilogue adds two roundings; "
          "1e-5 (~170 u) is margin, yet TF32's 2^-11 input rounding fails it");
const Tolerance kTf32 = Tolerance::normwise(
    5e-3, "TF32 rounds both operands to 10 mantissa bits: ~2^-11 relative per product, ~5e-4 normwise; 10x margin");
const Tolerance kBf16 = Tolerance::normwise(
    0x1p-7, "the twins see the same bf16 values and products are exact in float: they differ by the float sums' "
            "order, then by one bf16 rounding of y (2^-8 relative), doubled");

struct Case {
  std::string name;  // what the shape is
  MatmulShape shape;
  MatmulEpilogue epilogue;
  bool residual;
};

template <typename T>
OpCase matmul_case(const Case& c, Precision precision) {
  const kernels::MatmulShape& s = c.shape;
  const DType dtype = precision == Precision::bf16 ? DType::bf16 : DType::f32;
  const std::int64_t a_n = s.span_a(), b_n = s.span_b(), y_n = s.span_y();
  const std::string variant = std::string(precision_name(precision)) + "-" + kernels::matmul_epilogue_name(c.epilogue) +
                              (c.residual ? "-residual" : "");
  const std::string shape = c.name + "-" + std::to_string(s.batch) + "x" + std::to_string(s.m) + "x" +
                            std::to_string(s.n) + "x" + std::to_string(s.k);
  OpCase op{"matmul", "matmul", variant, shape, 2.0 * double(s.batch * s.m * s.n * s.k),
            double(dtype_size(dtype)) * double(a_n + b_n + (c.residual ? 2 : 1) * y_n), nullptr};
  op.make = [=](const Context& ctx, std::uint8_t poison) {
    kernels::MatmulOptions options;
    options.precision = precision, options.epilogue = c.epilogue, options.residual = c.residual;
    const kernels::MatmulPlan plan = kernels::make_matmul_plan(ctx, s, options);
    const Tensor a = seeded(ctx, {a_n}, dtype, -1, 1, 171), b = seeded(ctx, {b_n}, dtype, -0.5f, 0.5f, 172);
    const Tensor bias = seeded(ctx, {s.n}, dtype, -1, 1, 173), z = seeded(ctx, {y_n}, dtype, -2, 2, 174);
    const Tensor y = poisoned(ctx, {y_n}, dtype, poison);
    const Tolerance tolerance = precision == Precision::bf16 ? kBf16 : precision == Precision::fp32 ? kFp32 : kTf32;
    return OpRun{[=, &ctx] {
                   kernels::matmul(ctx, plan, a.data<T>(), b.data<T>(), bias.data<T>(),
                                   c.residual ? z.data<T>() : nullptr, y.data<T>());
                 },
                 {{"y", y, tolerance}}};
  };
  return op;
}

MatmulShape plain(std::int64_t m, std::int64_t n, std::int64_t k, bool trans_a, bool trans_b) {
  MatmulShape s;
  s.m = m, s.n = n, s.k = k, s.trans_a = trans_a, s.trans_b = trans_b;
  return s;
}

}  // namespace

void add_matmul_cases(std::vector<OpCase>& cases) {
  // A 1x1 convolution of x (2, 14, 14, 64) to 256 channels, NHWC: x (392, 64) w^T, the residual added.
  const Case pointwise{"nhwc-1x1", plain(2 * 14 * 14, 256, 64, false, true), MatmulEpilogue::bias_relu, true};
  // Its stride-2 form: x (2, 14, 14, 256) to (2, 7, 7, 512), one product per (image, output row) reading every
  // other pixel of every other input row (row stride 2C, batch stride 2 W C).
  MatmulShape strided = plain(7, 512, 256, false, true);
  strided.lda = 2 * 256, strided.batch = 2 * 7, strided.batch_stride_a = 2 * 14 * 256, strided.batch_stride_y = 7 * 512;
  const Case downsample{"nhwc-1x1-stride2", strided, MatmulEpilogue::bias, false};
  // NCHW: y_n (K, P) = w (K, C) x_n (C, P) for each image, w shared; the bias follows in the epilogue kernel.
  MatmulShape nchw = plain(256, 196, 64, false, false);
  nchw.batch = 2, nchw.batch_stride_b = 64 * 196, nchw.batch_stride_y = 256 * 196;
  const Case batched{"nchw-1x1", nchw, MatmulEpilogue::none, false};
  const Case linear{"linear", plain(64, 512, 6400, false, true), MatmulEpilogue::bias_relu, false};
  MatmulShape odd = plain(33, 65, 17, true, true);
  odd.lda = 40, odd.ldb = 20;  // padded operand rows (y stays packed: the table checks every element is written)
  const Case odd_sizes{"odd", odd, MatmulEpilogue::bias_relu, true};
  for (const Case& c : {pointwise, downsample, linear, odd_sizes}) {
    cases.push_back(matmul_case<float>(c, Precision::fp32));
    cases.push_back(matmul_case<float>(c, Precision::tf32));
    cases.push_back(matmul_case<bf16>(c, Precision::bf16));
  }
  cases.push_back(matmul_case<float>(batched, Precision::fp32));
  cases.push_back(matmul_case<float>(batched, Precision::tf32));
}

}  // namespace rosetta::ops
