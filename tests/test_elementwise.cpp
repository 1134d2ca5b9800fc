// Element-wise kernels (kernels/elementwise.h): CPU twins against hand-computed values and gradient checks of the
// references in double. (The CUDA twins: the op table, tests/test_ops.cpp; the conversions: tests/test_half.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/elementwise.h"
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
  kernels::cpu::dropout_forward(ctx, x.data(), y.data(), mask.data(), 0.25f, 7, 1, &step, 0, n);
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
  kernels::cpu::dropout_forward(ctx, x.data(), y2.data(), mask2.data(), 0.25f, 7, 1, &next_step, 0, n);
  EXPECT_NE(mask, mask2) << "a new step must draw a new mask";
}

// A data-parallel rank holds rows [r n/N, (r+1) n/N) of the global batch: with `first` at its offset it must draw
// exactly that slice of the mask one process draws for the whole batch (docs/distributed.md).
TEST(Elementwise, DropoutOfAShareDrawsTheSliceOfTheWholeBatchMask) {
  Context& ctx = Context::cpu();
  const std::int64_t n = 1000, share = 400, first = 600;
  const std::vector<float> x = random_floats(n, -1, 1, 9);
  std::vector<float> y(n), mask(n), y_share(share), mask_share(share);
  const std::uint64_t step = 2;
  kernels::cpu::dropout_forward(ctx, x.data(), y.data(), mask.data(), 0.25f, 7, 1, &step, 0, n);
  kernels::cpu::dropout_forward(ctx, x.data() + first, y_share.data(), mask_share.data(), 0.25f, 7, 1, &step, first,
                                share);
  EXPECT_EQ(mask_share, std::vector<float>(mask.begin() + first, mask.end()));
  EXPECT_EQ(y_share, std::vector<float>(y.begin() + first, y.end()));
  EXPECT_NE(mask_share, std::vector<float>(mask.begin(), mask.begin() + share)) << "the offset must move the draws";
}

TEST(Elementwise, DropoutGradientWithFixedMaskInDouble) {
  const std::vector<double> x = testing::random_doubles(50, -1, 1, 5);
  const auto forward = [](const std::vector<double>& in) {
    std::vector<double> y(in.size()), mask(in.size());
    kernels::reference::dropout_forward(in.data(), y.data(), mask.data(), 0.5f, 11, 2, 0, std::int64_t(in.size()));
    return y;
  };
  const auto backward = [](const std::vector<double>& in, const std::vector<double>& dy) {
    std::vector<double> y(in.size()), mask(in.size()), dx(in.size());
    kernels::reference::dropout_forward(in.data(), y.data(), mask.data(), 0.5f, 11, 2, 0, std::int64_t(in.size()));
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


}  // namespace
}  // namespace rosetta
