// The bottleneck epilogue (kernels/residual.h) by hand (the order (y + z) + bias, the ReLU passing NaN, absent terms,
// the NHWC per-channel view), its bf16 variant as the float one on rounded values, and the convolution's fused
// forward as the convolution followed by this epilogue. (The CUDA twins: the op table, tests/test_ops.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/conv.h"
#include "kernels/residual.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

const Context& cpu() { return Context::cpu(); }

TEST(ResidualEpilogue, HandCases) {
  // (outer 1, channels 2, inner 2): y = act((y + z) + bias[c])
  const std::vector<float> bias{1.0f, -3.0f}, z{0.5f, -4.0f, 1.0f, 2.0f};
  std::vector<float> y{1.0f, 2.0f, 1.0f, std::nanf("")};
  kernels::bias_residual_activation(cpu(), y.data(), bias.data(), z.data(), true, 1, 2, 2);
  EXPECT_EQ(y[0], 2.5f);
  EXPECT_EQ(y[1], 0.0f);          // 2 - 4 + 1 < 0
  EXPECT_EQ(y[2], 0.0f);          // 1 + 1 - 3 < 0
  EXPECT_TRUE(std::isnan(y[3]));  // NaN passes the ReLU, as cuDNN's NaN-propagating activation
  std::vector<float> only_residual{-1.0f, 2.0f};
  const std::vector<float> r{0.5f, -0.5f};
  kernels::bias_residual_activation(cpu(), only_residual.data(), nullptr, r.data(), false, 2, 1, 1);
  EXPECT_EQ(only_residual, (std::vector<float>{-0.5f, 1.5f}));
  std::vector<float> nhwc{1.0f, 1.0f, 1.0f, 1.0f};  // (outer 2, channels 2, inner 1): NHWC bias per channel
  kernels::bias_residual_activation(cpu(), nhwc.data(), bias.data(), nullptr, false, 2, 2, 1);
  EXPECT_EQ(nhwc, (std::vector<float>{2.0f, -2.0f, 2.0f, -2.0f}));
  // The order: (y + z) + bias, not (y + bias) + z (the two differ in float here).
  std::vector<float> order{1e8f};
  const std::vector<float> big_z{-1e8f}, small_bias{1.0f};
  kernels::bias_residual_activation(cpu(), order.data(), small_bias.data(), big_z.data(), false, 1, 1, 1);
  EXPECT_EQ(order[0], 1.0f);
}

TEST(ResidualEpilogue, Bf16IsTheFloatEpilogueOnRoundedValuesRoundedOnce) {
  const std::int64_t outer = 6, c = 8;
  const std::vector<float> x = testing::random_floats(outer * c, -3, 3, 52), z = testing::random_floats(outer * c, -2, 2, 54);
  std::vector<float> bias = testing::random_floats(c, -1, 1, 53);
  std::vector<bf16> bias_b(bias.size());
  for (std::size_t i = 0; i < bias.size(); ++i) bias_b[i] = bf16(bias[i]), bias[i] = float(bias_b[i]);
  for (bool residual : {false, true}) {
    std::vector<float> y(x.size()), zr(z.size());
    std::vector<bf16> yb(x.size()), zb(z.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      yb[i] = bf16(x[i]), zb[i] = bf16(z[i]);
      y[i] = float(yb[i]), zr[i] = float(zb[i]);
    }
    kernels::bias_residual_activation(cpu(), y.data(), bias.data(), residual ? zr.data() : nullptr, true, outer, c, 1);
    kernels::bias_residual_activation(cpu(), yb.data(), bias_b.data(), residual ? zb.data() : nullptr, true, outer, c, 1);
    for (std::size_t i = 0; i < y.size(); ++i) EXPECT_EQ(yb[i].bits, bf16(y[i]).bits) << i;
  }
}

// On the CPU the fused forward is conv2d_forward followed by the epilogue, bit for bit, for ResNet-50's kinds of
// convolution (the 7x7/2 stem, a 1x1, a strided 3x3, a strided 1x1), with and without residual and ReLU, in both
// layouts; and it never claims a fused library call.
TEST(FusedConvolution, CpuTwinIsConvThenEpilogue) {
  const auto shape = [](std::int64_t n, std::int64_t c, std::int64_t size, std::int64_t k, int r, int stride, int pad) {
    kernels::ConvShape s;
    s.n = n, s.c = c, s.h = s.w = size, s.k = k, s.r = s.s = r, s.stride_h = s.stride_w = stride, s.pad_h = s.pad_w = pad;
    return s;
  };
  for (const kernels::ConvShape& s : {shape(2, 3, 32, 8, 7, 2, 3), shape(2, 16, 8, 8, 1, 1, 0), shape(2, 8, 8, 8, 3, 2, 1),
                                      shape(2, 16, 8, 32, 1, 2, 0)}) {
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      SCOPED_TRACE(s.str() + " " + layout_name(layout));
      kernels::ConvOptions options;
      options.forward_only = true;
      options.layout = layout;
      const kernels::ConvPlan plan = kernels::make_conv_plan(cpu(), s, options);
      EXPECT_FALSE(kernels::conv_epilogue_fused(plan, true));
      const std::int64_t x_size = s.n * s.c * s.h * s.w, w_size = s.k * s.c * s.r * s.s;
      const std::int64_t y_size = s.n * s.k * s.out_h() * s.out_w();
      const std::vector<float> x = testing::random_floats(x_size, -1, 1, 7), w = testing::random_floats(w_size, -1, 1, 8),
                               bias = testing::random_floats(s.k, -1, 1, 9), z = testing::random_floats(y_size, -1, 1, 10);
      const ChannelView v = channel_view(layout, s.n, s.k, s.out_h() * s.out_w());
      for (bool relu : {false, true})
        for (bool residual : {false, true}) {
          std::vector<float> fused(y_size, 0.0f), unfused(y_size);
          kernels::conv2d_bias_activation_forward(cpu(), plan, x.data(), w.data(), bias.data(),
                                                  residual ? z.data() : nullptr, relu, fused.data());
          kernels::conv2d_forward(cpu(), plan, x.data(), w.data(), unfused.data());
          kernels::bias_residual_activation(cpu(), unfused.data(), bias.data(), residual ? z.data() : nullptr, relu,
                                            v.outer, v.channels, v.inner);
          EXPECT_EQ(fused, unfused) << (relu ? "relu" : "identity") << (residual ? " + residual" : "");
        }
    }
  }
}

}  // namespace
}  // namespace rosetta
