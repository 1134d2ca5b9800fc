// The ResNet-50 layers' kernels: BatchNorm2d inference (kernels/batchnorm.inc), the residual epilogue
// (kernels/residual.inc), global average pooling (kernels/pool.inc), the fused convolution + bias + residual + ReLU
// (kernels/conv.inc) and BN folding (layers/batchnorm2d.h), and the NHWC path: layout transposes
// (kernels/layout.inc), the NHWC max pool and the NHWC convolution (each the transposed NCHW result, bit for bit, on
// the CPU). CPU twins against double-precision definitions and hand cases; on a GPU each CUDA twin against the CPU
// twin (bit for bit where the .inc promises it) for ResNet-50's shapes, strided, 1x1 and 7x7, in NCHW and NHWC
// (skipped without a device). The bf16 inference twins (NHWC convolution, max pool, epilogue, average pool): the CPU
// twins against the float ops on rounded values, the CUDA twins against the CPU twins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
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

// bf16 helpers: vectors of bf16 bits rounded from floats (round to nearest even) and widened back.
std::vector<std::uint16_t> to_bf16(const std::vector<float>& x) {
  std::vector<std::uint16_t> y(x.size());
  kernels::cpu::f32_to_bf16(cpu(), x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  return y;
}
std::vector<float> from_bf16(const std::vector<std::uint16_t>& x) {
  std::vector<float> y(x.size());
  kernels::cpu::bf16_to_f32(cpu(), x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  return y;
}
std::vector<float> rounded(const std::vector<float>& x) { return from_bf16(to_bf16(x)); }
std::vector<float> absolute(std::vector<float> x) {
  for (float& v : x) v = std::abs(v);
  return x;
}

// The bf16 CPU twins are the float ops on bf16-rounded inputs with the output rounded once: the NHWC convolution,
// max pool, epilogue and average pool equal exactly the float twins run on the rounded values (then rounded, where
// the output is bf16). Against the float convolution on the unrounded values, each output is within
//   2^-8 * sum_i |x_i| |w_i|  (x and w rounded: each product off by at most (1 + 2^-9)^2 - 1 < 2^-8 relative)
// + 2^-8 * |y|               (the output rounding, 2^-9 relative, doubled for the float sums' own rounding).
// bf16 plans must be NHWC and forward-only.
TEST(Bf16Kernels, CpuTwinsAreTheFloatOpsOnRoundedValues) {
  for (const kernels::ConvShape& s : kResNetShapes) {
    SCOPED_TRACE(s.str());
    kernels::ConvOptions options;
    options.forward_only = true;
    options.layout = kernels::ConvLayout::nhwc;
    const kernels::ConvPlan f32_plan = kernels::make_conv_plan(cpu(), s, options);
    options.precision = Precision::bf16;
    const kernels::ConvPlan bf16_plan = kernels::make_conv_plan(cpu(), s, options);
    EXPECT_FALSE(kernels::conv_bias_activation_supported(bf16_plan, true));
    const std::vector<float> x = random_values(x_size(s), 50, -1, 1), w = random_values(w_size(s), 51, -1, 1);
    std::vector<float> exact(y_size(s)), on_rounded(y_size(s)), magnitude(y_size(s));
    kernels::cpu::conv2d_forward(cpu(), f32_plan, x.data(), w.data(), exact.data());
    kernels::cpu::conv2d_forward(cpu(), f32_plan, rounded(x).data(), rounded(w).data(), on_rounded.data());
    kernels::cpu::conv2d_forward(cpu(), f32_plan, absolute(x).data(), absolute(w).data(), magnitude.data());
    std::vector<std::uint16_t> y(y_size(s));
    kernels::cpu::conv2d_forward_bf16(cpu(), bf16_plan, to_bf16(x).data(), to_bf16(w).data(), y.data());
    EXPECT_EQ(y, to_bf16(on_rounded));
    const std::vector<float> actual = from_bf16(y);
    for (std::size_t i = 0; i < actual.size(); ++i)
      EXPECT_LE(std::abs(actual[i] - exact[i]), std::ldexp(magnitude[i] + std::abs(exact[i]), -8)) << i;
    EXPECT_THROW(kernels::cpu::conv2d_forward(cpu(), bf16_plan, x.data(), w.data(), exact.data()), Error);
  }
  kernels::ConvOptions nchw;
  nchw.precision = Precision::bf16;
  nchw.forward_only = true;
  EXPECT_THROW(kernels::make_conv_plan(cpu(), kResNetShapes[0], nchw), Error);

  const std::int64_t n = 2, c = 8, h = 9, w = 7, hw = h * w;
  std::vector<float> x = random_values(n * hw * c, 52, -3, 3);  // (n, h, w, c)
  x[11] = std::nanf("");
  const std::vector<float> xr = rounded(x);
  const std::int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
  std::vector<float> pooled(n * oh * ow * c);
  kernels::cpu::maxpool2d_forward_nhwc(cpu(), xr.data(), pooled.data(), n, c, h, w, 3, 2, 1);
  std::vector<std::uint16_t> pooled_bf16(pooled.size());
  kernels::cpu::maxpool2d_forward_nhwc_bf16(cpu(), to_bf16(x).data(), pooled_bf16.data(), n, c, h, w, 3, 2, 1);
  EXPECT_EQ(pooled_bf16, to_bf16(pooled));  // the NaN window included: the same NaN bits

  x[11] = 0.5f;
  const std::vector<float> bias = random_values(c, 53, -1, 1), z = random_values(x.size(), 54, -2, 2);
  for (bool residual : {false, true}) {
    std::vector<float> y = rounded(x);
    kernels::cpu::bias_residual_activation(cpu(), y.data(), bias.data(), residual ? rounded(z).data() : nullptr, true,
                                           n * hw, c, 1);
    std::vector<std::uint16_t> y_bf16 = to_bf16(x);
    kernels::cpu::bias_residual_activation_bf16(cpu(), y_bf16.data(), bias.data(),
                                                residual ? to_bf16(z).data() : nullptr, true, n * hw, c, 1);
    EXPECT_EQ(y_bf16, to_bf16(y)) << (residual ? "residual" : "bias only");
  }
  for (bool channels_last : {false, true}) {
    std::vector<float> mean(n * c), mean_bf16(n * c);
    kernels::cpu::global_avgpool_forward(cpu(), rounded(x).data(), mean.data(), n, c, hw, channels_last);
    kernels::cpu::global_avgpool_forward_bf16(cpu(), to_bf16(x).data(), mean_bf16.data(), n, c, hw, channels_last);
    EXPECT_EQ(mean_bf16, mean);
  }
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
// bf16 bits to and from the device (Tensor::data has no bf16 element type, so through raw()).
Tensor bf16_to_cuda(const std::vector<std::uint16_t>& bits) {
  Tensor host = Tensor::empty({static_cast<std::int64_t>(bits.size())}, DType::bf16);
  std::copy(bits.begin(), bits.end(), static_cast<std::uint16_t*>(host.raw()));
  return host.to(Device::cuda);
}
std::vector<std::uint16_t> bf16_from_cuda(const Tensor& device) {
  const Tensor host = device.to(Device::cpu);
  const std::uint16_t* p = static_cast<const std::uint16_t*>(host.raw());
  return std::vector<std::uint16_t>(p, p + host.numel());
}
std::uint16_t* bf16_ptr(const Tensor& t) { return static_cast<std::uint16_t*>(t.raw()); }

// The bf16 max pool, epilogue and average pool run the CPU twins' float ops in the same order: bit-identical.
TEST(ResNetLayersCuda, Bf16PoolAndEpilogueAreBitIdentical) {
  ROSETTA_REQUIRE_CUDA();
  const Context& gpu = Context::cuda();
  const std::int64_t n = 2, c = 64, h = 16, w = 12, hw = h * w;
  const std::vector<std::uint16_t> x = to_bf16(random_values(n * hw * c, 55, -3, 3));  // (n, h, w, c)
  const Tensor dx = bf16_to_cuda(x);
  const std::int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
  std::vector<std::uint16_t> pooled(n * oh * ow * c);
  kernels::cpu::maxpool2d_forward_nhwc_bf16(cpu(), x.data(), pooled.data(), n, c, h, w, 3, 2, 1);
  Tensor dpooled = Tensor::empty({n * oh * ow * c}, DType::bf16, Device::cuda);
  kernels::cuda::maxpool2d_forward_nhwc_bf16(gpu, bf16_ptr(dx), bf16_ptr(dpooled), n, c, h, w, 3, 2, 1);
  EXPECT_EQ(bf16_from_cuda(dpooled), pooled);

  const std::vector<float> bias = random_values(c, 56, -1, 1);
  const std::vector<std::uint16_t> z = to_bf16(random_values(x.size(), 57, -2, 2));
  const Tensor dbias = testing::to_cuda(bias), dz = bf16_to_cuda(z);
  for (bool residual : {false, true}) {
    std::vector<std::uint16_t> y = x;
    kernels::cpu::bias_residual_activation_bf16(cpu(), y.data(), bias.data(), residual ? z.data() : nullptr, true,
                                                n * hw, c, 1);
    const Tensor dy = bf16_to_cuda(x);
    kernels::cuda::bias_residual_activation_bf16(gpu, bf16_ptr(dy), dbias.data<float>(),
                                                 residual ? bf16_ptr(dz) : nullptr, true, n * hw, c, 1);
    EXPECT_EQ(bf16_from_cuda(dy), y) << (residual ? "residual" : "bias only");
  }
  for (bool channels_last : {false, true}) {
    std::vector<float> mean(n * c);
    kernels::cpu::global_avgpool_forward_bf16(cpu(), x.data(), mean.data(), n, c, hw, channels_last);
    Tensor dmean = Tensor::empty({n * c}, DType::f32, Device::cuda);
    kernels::cuda::global_avgpool_forward_bf16(gpu, bf16_ptr(dx), dmean.data<float>(), n, c, hw, channels_last);
    EXPECT_EQ(dmean.to_vector(), mean);
  }
}

// cuDNN's bf16 NHWC forward (bf16 x, w, y; float accumulation) against the CPU bf16 twin. Products of bf16 values are
// exact in float, so the two differ by the order of the float sums (at most ~1e-3 of sum |x_i w_i|, far more than
// the ~1e-5 expected) and then by the final rounding to bf16, which that can flip by one bf16 step: 2^-8 relative,
// doubled (rtol 2^-7).
TEST(ResNetLayersCuda, Bf16ConvolutionMatchesTheCpu) {
  ROSETTA_REQUIRE_CUDA();
  const Context& gpu = Context::cuda();
  for (const kernels::ConvShape& s : kResNetShapes) {
    SCOPED_TRACE(s.str());
    kernels::ConvOptions options;
    options.precision = Precision::bf16;
    options.forward_only = true;
    options.layout = kernels::ConvLayout::nhwc;
    const kernels::ConvPlan cpu_plan = kernels::make_conv_plan(cpu(), s, options);
    const kernels::ConvPlan gpu_plan = kernels::make_conv_plan(gpu, s, options);
    const std::vector<float> xf = random_values(x_size(s), 58, -1, 1), wf = random_values(w_size(s), 59, -1, 1);
    const std::vector<std::uint16_t> x = to_bf16(xf), w = to_bf16(wf);
    std::vector<std::uint16_t> expected(y_size(s));
    kernels::cpu::conv2d_forward_bf16(cpu(), cpu_plan, x.data(), w.data(), expected.data());
    kernels::ConvOptions f32_options = options;
    f32_options.precision = Precision::fp32;
    std::vector<float> magnitude(y_size(s));  // sum |x_i w_i| per output
    kernels::cpu::conv2d_forward(cpu(), kernels::make_conv_plan(cpu(), s, f32_options), absolute(from_bf16(x)).data(),
                                 absolute(from_bf16(w)).data(), magnitude.data());
    const Tensor dx = bf16_to_cuda(x), dw = bf16_to_cuda(w);
    Tensor dy = Tensor::zeros({y_size(s)}, DType::bf16, Device::cuda);
    kernels::cuda::conv2d_forward_bf16(gpu, gpu_plan, bf16_ptr(dx), bf16_ptr(dw), bf16_ptr(dy));
    const std::vector<float> actual = from_bf16(bf16_from_cuda(dy)), reference = from_bf16(expected);
    double largest = 0;
    for (float v : magnitude) largest = std::max(largest, double(v));
    testing::expect_all_close(actual, reference, std::ldexp(1.0, -7), 1e-3 * largest, "bf16 forward");
  }
}
#endif

}  // namespace
}  // namespace rosetta
