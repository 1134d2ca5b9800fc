// Element-wise kernels: CPU twins against hand-computed values, gradient checks of the references in double,
// and every CUDA twin against its CPU twin (skipped without a device).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/elementwise.h"
#include "kernels/half.h"
#include "kernels/reference/elementwise.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

using testing::check_gradient;
using testing::random_floats;

TEST(Elementwise, ReluForwardAndBackwardByHand) {
  Context& ctx = Context::cpu();
  const std::vector<float> x = {-2, -0.0f, 0, 1.5f, 3};
  std::vector<float> y(5), dx(5);
  const std::vector<float> dy = {1, 2, 3, 4, 5};
  kernels::cpu::relu_forward(ctx, x.data(), y.data(), 5);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 1.5f, 3}));
  kernels::cpu::relu_backward(ctx, y.data(), dy.data(), dx.data(), 5);
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0, 4, 5}));  // PyTorch: gradient 0 at x == 0
}

TEST(Elementwise, ReluGradientInDouble) {
  const std::vector<double> x = testing::random_doubles(64, -1, 1, 3);
  testing::GradCheckOptions options;
  options.kink = 0.0;
  const int checked = check_gradient(
      [](const std::vector<double>& in) {
        std::vector<double> out(in.size());
        kernels::reference::relu_forward(in.data(), out.data(), std::int64_t(in.size()));
        return out;
      },
      [](const std::vector<double>& in, const std::vector<double>& dy) {
        std::vector<double> y(in.size()), dx(in.size());
        kernels::reference::relu_forward(in.data(), y.data(), std::int64_t(in.size()));
        kernels::reference::relu_backward(y.data(), dy.data(), dx.data(), std::int64_t(in.size()));
        return dx;
      },
      x, options);
  EXPECT_GT(checked, 60);
}

TEST(Elementwise, DropoutKeepsAboutOneMinusPAndScales) {
  Context& ctx = Context::cpu();
  const std::int64_t n = 100000;
  std::vector<float> x(n, 2.0f), y(n), mask(n);
  const std::uint64_t step = 3;
  kernels::cpu::dropout_forward(ctx, x.data(), y.data(), mask.data(), 0.25f, 7, 1, &step, n);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(mask[i] == 0.0f || mask[i] == 1.0f / 0.75f);
    EXPECT_EQ(y[i], x[i] * mask[i]);
    kept += mask[i] != 0.0f;
  }
  // Binomial(n, 0.75): standard deviation sqrt(n * 0.75 * 0.25) ~ 137; 5 sigma is never crossed by chance.
  EXPECT_NEAR(double(kept), 0.75 * n, 5 * std::sqrt(n * 0.75 * 0.25));
  std::vector<float> y2(n), mask2(n);
  const std::uint64_t next_step = 4;
  kernels::cpu::dropout_forward(ctx, x.data(), y2.data(), mask2.data(), 0.25f, 7, 1, &next_step, n);
  EXPECT_NE(mask, mask2) << "a new step must draw a new mask";
}

TEST(Elementwise, DropoutGradientWithFixedMaskInDouble) {
  const std::vector<double> x = testing::random_doubles(50, -1, 1, 5);
  const auto forward = [](const std::vector<double>& in) {
    std::vector<double> y(in.size()), mask(in.size());
    kernels::reference::dropout_forward(in.data(), y.data(), mask.data(), 0.5f, 11, 2, std::int64_t(in.size()));
    return y;
  };
  const auto backward = [](const std::vector<double>& in, const std::vector<double>& dy) {
    std::vector<double> y(in.size()), mask(in.size()), dx(in.size());
    kernels::reference::dropout_forward(in.data(), y.data(), mask.data(), 0.5f, 11, 2, std::int64_t(in.size()));
    kernels::reference::dropout_backward(dy.data(), mask.data(), dx.data(), std::int64_t(in.size()));
    return dx;
  };
  EXPECT_EQ(check_gradient(forward, backward, x), 50);
}

TEST(Elementwise, BiasAddAndBackwardByHand) {
  Context& ctx = Context::cpu();
  std::vector<float> y(2 * 3 * 2, 1.0f);  // (outer 2, channels 3, inner 2)
  const std::vector<float> bias = {10, 20, 30};
  kernels::cpu::bias_add(ctx, y.data(), bias.data(), 2, 3, 2);
  EXPECT_EQ(y, (std::vector<float>{11, 11, 21, 21, 31, 31, 11, 11, 21, 21, 31, 31}));
  std::vector<float> db = {100, 100, 100};
  kernels::cpu::bias_backward(ctx, y.data(), db.data(), 2, 3, 2, /*accumulate=*/false);
  EXPECT_EQ(db, (std::vector<float>{44, 84, 124}));
  kernels::cpu::bias_backward(ctx, y.data(), db.data(), 2, 3, 2, /*accumulate=*/true);
  EXPECT_EQ(db, (std::vector<float>{88, 168, 248}));
}

TEST(Elementwise, BiasGradientInDouble) {
  const std::vector<double> b = testing::random_doubles(4, -1, 1, 9);
  const auto forward = [](const std::vector<double>& bias) {
    std::vector<double> y(3 * 4 * 5, 0.5);
    kernels::reference::bias_add(y.data(), bias.data(), 3, 4, 5);
    return y;
  };
  const auto backward = [](const std::vector<double>&, const std::vector<double>& dy) {
    std::vector<double> db(4);
    kernels::reference::bias_backward(dy.data(), db.data(), 3, 4, 5, false);
    return db;
  };
  EXPECT_EQ(check_gradient(forward, backward, b), 4);
}

TEST(Elementwise, HalfConversionsRoundToNearestEven) {
  // bf16: 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7 -> even (1). 1 + 3 * 2^-8 -> 1 + 2^-6.
  EXPECT_EQ(f32_to_bf16_bits(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(f32_to_bf16_bits(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(bf16_bits_to_f32(0x3f80), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
  // f16: exact values, max finite, overflow to inf, smallest subnormal, halfway ties.
  EXPECT_EQ(f32_to_f16_bits(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16_bits(-2.5f), 0xc100);
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);       // tie -> even (0)
  EXPECT_EQ(f32_to_f16_bits(3 * std::ldexp(1.0f, -25)), 0x0002);   // 1.5 ulp -> tie -> even (2)
  EXPECT_EQ(f32_to_f16_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(f16_bits_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_bits_to_f32(0x7bff), 65504.0f);
  // Every f16 value survives f16 -> f32 -> f16 unchanged (NaN payloads aside).
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;
    ASSERT_EQ(f32_to_f16_bits(f16_bits_to_f32(std::uint16_t(h))), h) << "f16 bits " << h;
  }
}

#if ROSETTA_WITH_CUDA  // the CUDA twins exist only in CUDA builds
// ---- CUDA twins against the CPU twins: all are exact (same float operations in the same order), except the
// bias gradient, whose CUDA reduction order differs: rtol 1e-5 covers float re-association over <= 4096 terms.

TEST(ElementwiseCuda, MatchesCpuTwins) {
  ROSETTA_REQUIRE_CUDA();
  Context& cpu = Context::cpu();
  Context& gpu = Context::cuda();
  const std::int64_t n = 70001;
  const std::vector<float> x = random_floats(n, -2, 2, 1), dy = random_floats(n, -1, 1, 2);
  Tensor xd = testing::to_cuda(x), dyd = testing::to_cuda(dy), yd = testing::to_cuda(x), dxd = testing::to_cuda(x);
  std::vector<float> y(n), dx(n);

  kernels::cpu::relu_forward(cpu, x.data(), y.data(), n);
  kernels::cuda::relu_forward(gpu, xd.data<float>(), yd.data<float>(), n);
  kernels::cpu::relu_backward(cpu, y.data(), dy.data(), dx.data(), n);
  kernels::cuda::relu_backward(gpu, yd.data<float>(), dyd.data<float>(), dxd.data<float>(), n);
  EXPECT_EQ(yd.to_vector(), y);
  EXPECT_EQ(dxd.to_vector(), dx);

  kernels::cpu::fill(cpu, y.data(), 0.5f, n);
  kernels::cuda::fill(gpu, yd.data<float>(), 0.5f, n);
  EXPECT_EQ(yd.to_vector(), y);
  kernels::cpu::copy(cpu, x.data(), y.data(), n);
  kernels::cuda::copy(gpu, xd.data<float>(), yd.data<float>(), n);
  EXPECT_EQ(yd.to_vector(), y);

  std::vector<float> mask(n);
  Tensor maskd = testing::to_cuda(x);
  Tensor step = Tensor::zeros({1}, DType::u64);
  Tensor stepd = step.to(Device::cuda);
  kernels::cuda::increment_counter(gpu, stepd.data<std::uint64_t>());
  kernels::cpu::increment_counter(cpu, step.data<std::uint64_t>());
  kernels::cpu::dropout_forward(cpu, x.data(), y.data(), mask.data(), 0.5f, 3, 4, step.data<std::uint64_t>(), n);
  kernels::cuda::dropout_forward(gpu, xd.data<float>(), yd.data<float>(), maskd.data<float>(), 0.5f, 3, 4,
                                 stepd.data<std::uint64_t>(), n);
  EXPECT_EQ(maskd.to_vector(), mask);
  EXPECT_EQ(yd.to_vector(), y);
  kernels::cpu::dropout_backward(cpu, dy.data(), mask.data(), dx.data(), n);
  kernels::cuda::dropout_backward(gpu, dyd.data<float>(), maskd.data<float>(), dxd.data<float>(), n);
  EXPECT_EQ(dxd.to_vector(), dx);
}

TEST(ElementwiseCuda, BiasAndConversionsMatchCpuTwins) {
  ROSETTA_REQUIRE_CUDA();
  Context& cpu = Context::cpu();
  Context& gpu = Context::cuda();
  const std::int64_t outer = 64, channels = 50, inner = 1024, n = outer * channels * inner;
  const std::vector<float> bias = random_floats(channels, -1, 1, 5), dy = random_floats(n, -1, 1, 6);
  std::vector<float> y = random_floats(n, -1, 1, 7);
  Tensor yd = testing::to_cuda(y), biasd = testing::to_cuda(bias), dyd = testing::to_cuda(dy);
  kernels::cpu::bias_add(cpu, y.data(), bias.data(), outer, channels, inner);
  kernels::cuda::bias_add(gpu, yd.data<float>(), biasd.data<float>(), outer, channels, inner);
  EXPECT_EQ(yd.to_vector(), y);

  std::vector<float> db(channels);
  Tensor dbd = testing::to_cuda(db);
  kernels::cpu::bias_backward(cpu, dy.data(), db.data(), outer, channels, inner, false);
  kernels::cuda::bias_backward(gpu, dyd.data<float>(), dbd.data<float>(), outer, channels, inner, false);
  testing::expect_all_close(dbd.to_vector(), db, 1e-5, 1e-4, "bias gradient");

  std::vector<float> x = random_floats(n, -70000, 70000, 8);
  x[0] = std::numeric_limits<float>::infinity();
  x[1] = 1e-8f;  // f16 subnormal range
  Tensor xd = testing::to_cuda(x);
  Tensor halfd = Tensor::empty({n}, DType::f16, Device::cuda), backd = Tensor::empty({n}, DType::f32, Device::cuda);
  std::vector<std::uint16_t> half(n);
  std::vector<float> back(n);
  kernels::cpu::f32_to_f16(cpu, x.data(), half.data(), n);
  kernels::cpu::f16_to_f32(cpu, half.data(), back.data(), n);
  kernels::cuda::f32_to_f16(gpu, xd.data<float>(), static_cast<std::uint16_t*>(halfd.raw()), n);
  kernels::cuda::f16_to_f32(gpu, static_cast<std::uint16_t*>(halfd.raw()), backd.data<float>(), n);
  EXPECT_EQ(backd.to_vector(), back);
  kernels::cpu::f32_to_bf16(cpu, x.data(), half.data(), n);
  kernels::cpu::bf16_to_f32(cpu, half.data(), back.data(), n);
  kernels::cuda::f32_to_bf16(gpu, xd.data<float>(), static_cast<std::uint16_t*>(halfd.raw()), n);
  kernels::cuda::bf16_to_f32(gpu, static_cast<std::uint16_t*>(halfd.raw()), backd.data<float>(), n);
  EXPECT_EQ(backd.to_vector(), back);
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
