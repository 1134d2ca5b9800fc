// The ResNet-50 layers' kernels: BatchNorm2d inference (kernels/batchnorm.inc), the residual epilogue
// (kernels/residual.inc), global average pooling (kernels/pool.inc), the fused convolution + bias + residual + ReLU
// (kernels/conv.inc) and BN folding (layers/batchnorm2d.h), and the NHWC path: layout transposes
// (kernels/layout.inc), the NHWC max pool and the NHWC convolution (each the transposed NCHW result, bit for bit, on
// the CPU). CPU twins against double-precision definitions and hand cases; on a GPU each CUDA twin against the CPU
// twin (bit for bit where the .inc promises it) for ResNet-50's shapes, strided, 1x1 and 7x7, in NCHW and NHWC
// (skipped without a device).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/layout.h"
#include "kernels/pool.h"
#include "kernels/residual.h"
#include "layers/batchnorm2d.h"
#include "runtime/philox.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

// `n` values in [low, high) from Philox stream `stream`.
std::vector<float> random_values(std::int64_t n, std::uint64_t stream, float low, float high) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[i] = low + (high - low) * philox_uniform(13, stream, static_cast<std::uint64_t>(i));
  return v;
}

const Context& cpu() { return Context::cpu(); }

TEST(BatchNormInference, MatchesTheDefinitionInDouble) {
  const std::int64_t n = 2, c = 3, hw = 5;
  const std::vector<float> x = random_values(n * c * hw, 1, -2, 2), gamma = random_values(c, 2, 0.5f, 1.5f),
                           beta = random_values(c, 3, -1, 1), mean = random_values(c, 4, -1, 1),
                           var = random_values(c, 5, 0.1f, 2);
  std::vector<float> y(x.size());
  kernels::cpu::batchnorm_inference_forward(cpu(), x.data(), y.data(), gamma.data(), beta.data(), mean.data(),
                                            var.data(), 1e-5f, n, c, hw);
  for (std::int64_t i = 0; i < n * c * hw; ++i) {
    const std::int64_t ch = i / hw % c;
    const double expected = (double(x[i]) - mean[ch]) / std::sqrt(double(var[ch]) + 1e-5) * gamma[ch] + beta[ch];
    // Four float roundings of values below ~10: within 4 ulp of the largest intermediate, 1e-5 absolute.
    EXPECT_NEAR(y[i], expected, 1e-5) << i;
  }
  // In place gives the same bits.
  std::vector<float> inplace = x;
  kernels::cpu::batchnorm_inference_forward(cpu(), inplace.data(), inplace.data(), gamma.data(), beta.data(),
                                            mean.data(), var.data(), 1e-5f, n, c, hw);
  EXPECT_EQ(inplace, y);
}

TEST(ResidualEpilogue, HandCases) {
  // (outer 1, channels 2, inner 2): y = act((y + bias[c]) + z)
  const std::vector<float> bias{1.0f, -3.0f}, z{0.5f, -4.0f, 1.0f, 2.0f};
  std::vector<float> y{1.0f, 2.0f, 1.0f, std::nanf("")};
  kernels::cpu::bias_residual_activation(cpu(), y.data(), bias.data(), z.data(), true, 1, 2, 2);
  EXPECT_EQ(y[0], 2.5f);
  EXPECT_EQ(y[1], 0.0f);  // 2 + 1 - 4 < 0
  EXPECT_EQ(y[2], 0.0f);  // 1 - 3 + 1 < 0
  EXPECT_TRUE(std::isnan(y[3]));  // NaN passes the ReLU, as cuDNN's NaN-propagating activation
  std::vector<float> only_residual{-1.0f, 2.0f};
  const std::vector<float> r{0.5f, -0.5f};
  kernels::cpu::bias_residual_activation(cpu(), only_residual.data(), nullptr, r.data(), false, 2, 1, 1);
  EXPECT_EQ(only_residual, (std::vector<float>{-0.5f, 1.5f}));
  std::vector<float> nhwc{1.0f, 1.0f, 1.0f, 1.0f};  // (outer 2, channels 2, inner 1): NHWC bias per channel
  kernels::cpu::bias_residual_activation(cpu(), nhwc.data(), bias.data(), nullptr, false, 2, 2, 1);
  EXPECT_EQ(nhwc, (std::vector<float>{2.0f, -2.0f, 2.0f, -2.0f}));
}

TEST(GlobalAvgPool, NchwAndNhwcAreTheMean) {
  const std::int64_t n = 2, c = 3, hw = 7;
  const std::vector<float> x = random_values(n * c * hw, 6, -1, 1);  // NCHW (n, c, hw)
  std::vector<float> nhwc(x.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p) nhwc[(i * hw + p) * c + ch] = x[(i * c + ch) * hw + p];
  std::vector<float> y(n * c), y_nhwc(n * c);
  kernels::cpu::global_avgpool_forward(cpu(), x.data(), y.data(), n, c, hw, false);
  kernels::cpu::global_avgpool_forward(cpu(), nhwc.data(), y_nhwc.data(), n, c, hw, true);
  EXPECT_EQ(y, y_nhwc);  // the same float sums in the same order
  for (std::int64_t o = 0; o < n * c; ++o) {
    double sum = 0;
    for (std::int64_t p = 0; p < hw; ++p) sum += x[o * hw + p];
    EXPECT_NEAR(y[o], sum / hw, 1e-6) << o;  // 7 float additions of values in [-1, 1)
  }
}

kernels::ConvShape shape_of(std::int64_t n, std::int64_t c, std::int64_t size, std::int64_t k, int kernel, int stride,
                            int pad) {
  kernels::ConvShape s;
  s.n = n, s.c = c, s.h = s.w = size, s.k = k, s.r = s.s = kernel;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  return s;
}

// ResNet-50's convolution kinds: the 7x7/2 stem, a 1x1, a strided 3x3, a strided 1x1 downsample.
const kernels::ConvShape kResNetShapes[] = {shape_of(2, 3, 32, 8, 7, 2, 3), shape_of(2, 16, 8, 8, 1, 1, 0),
                                            shape_of(2, 8, 8, 8, 3, 2, 1), shape_of(2, 16, 8, 32, 1, 2, 0)};

std::int64_t x_size(const kernels::ConvShape& s) { return s.n * s.c * s.h * s.w; }
std::int64_t w_size(const kernels::ConvShape& s) { return s.k * s.c * s.r * s.s; }
std::int64_t y_size(const kernels::ConvShape& s) { return s.n * s.k * s.out_h() * s.out_w(); }

TEST(FusedConvolution, CpuTwinIsConvThenEpilogue) {
  for (const kernels::ConvShape& s : kResNetShapes) {
    SCOPED_TRACE(s.str());
    kernels::ConvOptions options;
    options.forward_only = true;
    const kernels::ConvPlan plan = kernels::make_conv_plan(cpu(), s, options);
    const std::vector<float> x = random_values(x_size(s), 7, -1, 1), w = random_values(w_size(s), 8, -1, 1),
                             bias = random_values(s.k, 9, -1, 1), z = random_values(y_size(s), 10, -1, 1);
    for (bool relu : {false, true})
      for (bool residual : {false, true}) {
        std::vector<float> fused(y_size(s)), unfused(y_size(s));
        kernels::cpu::conv2d_bias_activation_forward(cpu(), plan, x.data(), w.data(), bias.data(),
                                                     residual ? z.data() : fused.data(), residual ? 1.0f : 0.0f, relu,
                                                     fused.data());
        kernels::cpu::conv2d_forward(cpu(), plan, x.data(), w.data(), unfused.data());
        // The fused twin adds z before the bias, the epilogue the bias first: float sums in another order.
        kernels::cpu::bias_residual_activation(cpu(), unfused.data(), bias.data(), residual ? z.data() : nullptr, relu,
                                               s.n, s.k, s.out_h() * s.out_w());
        testing::expect_all_close(fused, unfused, 1e-6, 1e-6, relu ? "relu" : "identity");
      }
    std::vector<float> dx(x_size(s));
    EXPECT_THROW(kernels::cpu::conv2d_backward_data(cpu(), plan, x.data(), w.data(), dx.data()), Error);
  }
}

TEST(BatchNormFolding, FoldedConvolutionEqualsConvolutionThenBatchNorm) {
  const kernels::ConvShape s = shape_of(2, 4, 6, 5, 3, 1, 1);
  ParameterSet params;
  const int weight = params.declare("conv.weight", {s.k, s.c, s.r, s.s});
  BatchNorm2d bn(params, "bn", s.k);
  params.allocate(Device::cpu, false);
  const std::vector<std::pair<int, std::vector<float>>> values = {
      {weight, random_values(w_size(s), 11, -1, 1)},    {bn.weight_index(), random_values(s.k, 12, 0.5f, 1.5f)},
      {bn.bias_index(), random_values(s.k, 13, -1, 1)}, {bn.mean_index(), random_values(s.k, 14, -1, 1)},
      {bn.var_index(), random_values(s.k, 15, 0.1f, 2)}};
  for (const auto& [index, v] : values) params.value(index).copy_from(Tensor::from_vector(params.shape(index), v));
  Tensor folded_w = Tensor::empty(params.shape(weight), DType::f32), folded_b = Tensor::empty({s.k}, DType::f32);
  fold_batchnorm(bn, params, weight, folded_w, folded_b);

  const kernels::ConvPlan plan = kernels::make_conv_plan(cpu(), s, kernels::ConvOptions{});
  const std::vector<float> x = random_values(x_size(s), 16, -1, 1);
  Tensor unfolded = Tensor::empty({s.n, s.k, s.out_h(), s.out_w()}, DType::f32);
  kernels::cpu::conv2d_forward(cpu(), plan, x.data(), params.value(weight).data<float>(), unfolded.data<float>());
  bn.forward(cpu(), unfolded, unfolded);
  std::vector<float> folded(y_size(s));
  kernels::cpu::conv2d_forward(cpu(), plan, x.data(), folded_w.data<float>(), folded.data());
  kernels::cpu::bias_residual_activation(cpu(), folded.data(), folded_b.data<float>(), nullptr, false, s.n, s.k,
                                         s.out_h() * s.out_w());
  // 36-term sums of O(1) values, rescaled: a few float roundings apart, 1e-5 relative and absolute.
  testing::expect_all_close(folded, unfolded.to_vector(), 1e-5, 1e-5, "folded vs unfolded");
}

TEST(Layout, TransposesFollowTheirDefinitionAndInvert) {
  const std::int64_t n = 2, c = 3, hw = 5;
  const std::vector<float> x = random_values(n * c * hw, 40, -1, 1);  // (n, c, hw)
  std::vector<float> nhwc(x.size()), back(x.size());
  kernels::cpu::nchw_to_nhwc(cpu(), x.data(), nhwc.data(), n, c, hw);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p) EXPECT_EQ(nhwc[(i * hw + p) * c + ch], x[(i * c + ch) * hw + p]);
  kernels::cpu::nhwc_to_nchw(cpu(), nhwc.data(), back.data(), n, c, hw);
  EXPECT_EQ(back, x);
}

// The NHWC max pool is the NCHW one transposed, bit for bit, NaN included (ResNet's 3x3/2 pad 1 and a 2x2/2).
TEST(MaxPoolNhwc, IsTheTransposedNchwPool) {
  const std::int64_t n = 2, c = 5, h = 9, w = 7;
  std::vector<float> x = random_values(n * c * h * w, 41, -2, 2);  // (n, c, h, w)
  x[17] = std::nanf("");
  std::vector<float> x_nhwc(x.size());
  kernels::cpu::nchw_to_nhwc(cpu(), x.data(), x_nhwc.data(), n, c, h * w);
  for (int window : {3, 2}) {
    const int stride = 2, pad = window == 3 ? 1 : 0;
    SCOPED_TRACE("window " + std::to_string(window));
    const std::int64_t oh = (h + 2 * pad - window) / stride + 1, ow = (w + 2 * pad - window) / stride + 1;
    std::vector<float> y(n * c * oh * ow), expected(y.size()), y_nhwc(y.size());
    std::vector<std::int32_t> argmax(y.size());
    kernels::cpu::maxpool2d_forward(cpu(), x.data(), y.data(), argmax.data(), n, c, h, w, window, stride, pad);
    kernels::cpu::nchw_to_nhwc(cpu(), y.data(), expected.data(), n, c, oh * ow);
    kernels::cpu::maxpool2d_forward_nhwc(cpu(), x_nhwc.data(), y_nhwc.data(), n, c, h, w, window, stride, pad);
    ASSERT_EQ(y_nhwc.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (std::isnan(expected[i])) EXPECT_TRUE(std::isnan(y_nhwc[i])) << i;
      else EXPECT_EQ(y_nhwc[i], expected[i]) << i;
    }
  }
}

// The CPU NHWC convolution (x (N, H, W, C), w (K, R, S, C)) runs the NCHW sums on transposed copies: its fused
// output is the NCHW output transposed, bit for bit. NHWC CPU plans are forward-only.
TEST(NhwcConvolution, CpuIsTheTransposedNchwConvolution) {
  for (const kernels::ConvShape& s : kResNetShapes) {
    SCOPED_TRACE(s.str());
    kernels::ConvOptions options;
    options.forward_only = true;
    const kernels::ConvPlan nchw_plan = kernels::make_conv_plan(cpu(), s, options);
    options.layout = kernels::ConvLayout::nhwc;
    const kernels::ConvPlan nhwc_plan = kernels::make_conv_plan(cpu(), s, options);
    const std::vector<float> x = random_values(x_size(s), 42, -1, 1), w = random_values(w_size(s), 43, -1, 1),
                             bias = random_values(s.k, 44, -1, 1), z = random_values(y_size(s), 45, -1, 1);
    const std::int64_t p = s.out_h() * s.out_w();
    std::vector<float> x_nhwc(x.size()), w_krsc(w.size()), z_nhwc(z.size());
    kernels::cpu::nchw_to_nhwc(cpu(), x.data(), x_nhwc.data(), s.n, s.c, s.h * s.w);
    kernels::cpu::nchw_to_nhwc(cpu(), w.data(), w_krsc.data(), s.k, s.c, s.r * s.s);
    kernels::cpu::nchw_to_nhwc(cpu(), z.data(), z_nhwc.data(), s.n, s.k, p);
    std::vector<float> y(y_size(s)), expected(y.size()), y_nhwc(y.size());
    kernels::cpu::conv2d_bias_activation_forward(cpu(), nchw_plan, x.data(), w.data(), bias.data(), z.data(), 1.0f,
                                                 true, y.data());
    kernels::cpu::nchw_to_nhwc(cpu(), y.data(), expected.data(), s.n, s.k, p);
    kernels::cpu::conv2d_bias_activation_forward(cpu(), nhwc_plan, x_nhwc.data(), w_krsc.data(), bias.data(),
                                                 z_nhwc.data(), 1.0f, true, y_nhwc.data());
    EXPECT_EQ(y_nhwc, expected);
    kernels::cpu::conv2d_forward(cpu(), nchw_plan, x.data(), w.data(), y.data());
    kernels::cpu::nchw_to_nhwc(cpu(), y.data(), expected.data(), s.n, s.k, p);
    kernels::cpu::conv2d_forward(cpu(), nhwc_plan, x_nhwc.data(), w_krsc.data(), y_nhwc.data());
    EXPECT_EQ(y_nhwc, expected);
  }
  kernels::ConvOptions training;
  training.layout = kernels::ConvLayout::nhwc;
  EXPECT_THROW(kernels::make_conv_plan(cpu(), kResNetShapes[0], training), Error);
}

#if ROSETTA_WITH_CUDA
TEST(ResNetLayersCuda, LayoutTransposesAndNhwcMaxPoolAreBitIdentical) {
  ROSETTA_REQUIRE_CUDA();
  const Context& gpu = Context::cuda();
  const std::int64_t n = 2, c = 64, h = 16, w = 12;  // the stem's max pool: 3x3, stride 2, pad 1
  const std::vector<float> x = random_values(n * c * h * w, 46, -3, 3);
  const Tensor dx = testing::to_cuda(x);
  std::vector<float> nhwc(x.size()), nchw(x.size());
  kernels::cpu::nchw_to_nhwc(cpu(), x.data(), nhwc.data(), n, c, h * w);
  kernels::cpu::nhwc_to_nchw(cpu(), x.data(), nchw.data(), n, c, h * w);
  Tensor dnhwc = Tensor::empty({n * c * h * w}, DType::f32, Device::cuda);
  Tensor dnchw = Tensor::empty({n * c * h * w}, DType::f32, Device::cuda);
  kernels::cuda::nchw_to_nhwc(gpu, dx.data<float>(), dnhwc.data<float>(), n, c, h * w);
  kernels::cuda::nhwc_to_nchw(gpu, dx.data<float>(), dnchw.data<float>(), n, c, h * w);
  EXPECT_EQ(dnhwc.to_vector(), nhwc);
  EXPECT_EQ(dnchw.to_vector(), nchw);
  const std::int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
  std::vector<float> pooled(n * c * oh * ow);
  kernels::cpu::maxpool2d_forward_nhwc(cpu(), nhwc.data(), pooled.data(), n, c, h, w, 3, 2, 1);
  Tensor dpooled = Tensor::empty({n * c * oh * ow}, DType::f32, Device::cuda);
  kernels::cuda::maxpool2d_forward_nhwc(gpu, dnhwc.data<float>(), dpooled.data<float>(), n, c, h, w, 3, 2, 1);
  EXPECT_EQ(dpooled.to_vector(), pooled);
}

TEST(ResNetLayersCuda, BatchNormResidualAndPoolAreBitIdentical) {
  ROSETTA_REQUIRE_CUDA();
  const Context& gpu = Context::cuda();
  const std::int64_t n = 3, c = 64, hw = 49;
  const std::vector<float> x = random_values(n * c * hw, 20, -3, 3), gamma = random_values(c, 21, 0.5f, 1.5f),
                           beta = random_values(c, 22, -1, 1), mean = random_values(c, 23, -1, 1),
                           var = random_values(c, 24, 0.1f, 2), z = random_values(n * c * hw, 25, -1, 1);
  const Tensor dx = testing::to_cuda(x), dgamma = testing::to_cuda(gamma), dbeta = testing::to_cuda(beta),
               dmean = testing::to_cuda(mean), dvar = testing::to_cuda(var), dz = testing::to_cuda(z);
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "NHWC view" : "NCHW view");
    const std::int64_t outer = nhwc ? n * hw : n, inner = nhwc ? 1 : hw;
    std::vector<float> y(x.size());
    kernels::cpu::batchnorm_inference_forward(cpu(), x.data(), y.data(), gamma.data(), beta.data(), mean.data(),
                                              var.data(), 1e-5f, outer, c, inner);
    Tensor dy = Tensor::empty({n * c * hw}, DType::f32, Device::cuda);
    kernels::cuda::batchnorm_inference_forward(gpu, dx.data<float>(), dy.data<float>(), dgamma.data<float>(),
                                               dbeta.data<float>(), dmean.data<float>(), dvar.data<float>(), 1e-5f,
                                               outer, c, inner);
    EXPECT_EQ(dy.to_vector(), y);

    kernels::cpu::bias_residual_activation(cpu(), y.data(), beta.data(), z.data(), true, outer, c, inner);
    kernels::cuda::bias_residual_activation(gpu, dy.data<float>(), dbeta.data<float>(), dz.data<float>(), true, outer,
                                            c, inner);
    EXPECT_EQ(dy.to_vector(), y);

    std::vector<float> pooled(n * c);
    kernels::cpu::global_avgpool_forward(cpu(), y.data(), pooled.data(), n, c, hw, nhwc);
    Tensor dpooled = Tensor::empty({n * c}, DType::f32, Device::cuda);
    kernels::cuda::global_avgpool_forward(gpu, dy.data<float>(), dpooled.data<float>(), n, c, hw, nhwc);
    EXPECT_EQ(dpooled.to_vector(), pooled);
  }
}

// The fused cuDNN forward against the CPU twin for each ResNet-50 convolution kind, in NCHW and NHWC (cuDNN NHWC
// descriptors, (K, R, S, C) filter), with and without a residual, ReLU and (where cuDNN supports it) identity. Tolerances per precision, relative to the largest output: fp32 1e-5
// (FMA math, sums of at most 147 terms of O(1) values in other orders), tf32 5e-3 (operands rounded to 10 mantissa
// bits, ~1e-3 relative per product, partly cancelling).
TEST(ResNetLayersCuda, FusedConvolutionMatchesTheCpu) {
  ROSETTA_REQUIRE_CUDA();
  const Context& gpu = Context::cuda();
  for (kernels::ConvLayout layout : {kernels::ConvLayout::nchw, kernels::ConvLayout::nhwc}) {
    for (Precision precision : {Precision::fp32, Precision::tf32})
      for (const kernels::ConvShape& s : kResNetShapes) {
        SCOPED_TRACE(s.str() + " " + precision_name(precision) + " " + kernels::conv_layout_name(layout));
        kernels::ConvOptions options;
        options.precision = precision;
        options.forward_only = true;
        options.layout = layout;  // x, w, z, y hold random values read in this layout by both twins
        const kernels::ConvPlan cpu_plan = kernels::make_conv_plan(cpu(), s, options);
        const kernels::ConvPlan gpu_plan = kernels::make_conv_plan(gpu, s, options);
        const std::vector<float> x = random_values(x_size(s), 30, 0, 1), w = random_values(w_size(s), 31, -1, 1),
                                 bias = random_values(s.k, 32, -1, 1), z = random_values(y_size(s), 33, -1, 1);
        const Tensor dx = testing::to_cuda(x), dw = testing::to_cuda(w), db = testing::to_cuda(bias),
                     dz = testing::to_cuda(z);
        for (bool relu : {false, true}) {
          if (!kernels::conv_bias_activation_supported(gpu_plan, relu)) continue;
          for (bool residual : {false, true}) {
            std::vector<float> expected(y_size(s));
            kernels::cpu::conv2d_bias_activation_forward(cpu(), cpu_plan, x.data(), w.data(), bias.data(),
                                                         residual ? z.data() : expected.data(), residual ? 1.0f : 0.0f,
                                                         relu, expected.data());
            Tensor dy = Tensor::zeros({y_size(s)}, DType::f32, Device::cuda);
            kernels::cuda::conv2d_bias_activation_forward(gpu, gpu_plan, dx.data<float>(), dw.data<float>(),
                                                          db.data<float>(), residual ? dz.data<float>() : dy.data<float>(),
                                                          residual ? 1.0f : 0.0f, relu, dy.data<float>());
            double largest = 0;
            for (float v : expected) largest = std::max(largest, double(std::abs(v)));
            const double tol = precision == Precision::fp32 ? 1e-5 : 5e-3;
            testing::expect_all_close(dy.to_vector(), expected, tol, tol * largest,
                                      std::string(relu ? "relu" : "identity") + (residual ? " + residual" : ""));
          }
        }
      }
  }
}
#endif

}  // namespace
}  // namespace rosetta
