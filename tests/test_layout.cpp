// Layout transposes (kernels/layout.h) on the CPU: NCHW <-> NHWC follows its definition element by element and
// inverts, in float and bf16; swap_leading_axes is the (a, b, c) -> (b, a, c) transpose; a layout to itself copies.
// The per-channel view of each layout, and its check. (The CUDA twins: the op table, tests/test_ops.cpp.)
#include <gtest/gtest.h>

#include <vector>

#include "kernels/layout.h"
#include "runtime/error.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

const Context& cpu() { return Context::cpu(); }

TEST(ChangeLayout, FollowsTheDefinitionAndInverts) {
  const std::int64_t n = 2, c = 3, hw = 5;
  const std::vector<float> x = testing::random_floats(n * c * hw, -1, 1, 40);  // (n, c, hw)
  std::vector<float> nhwc(x.size()), back(x.size()), same(x.size());
  kernels::change_layout(cpu(), x.data(), Layout::nchw, nhwc.data(), Layout::nhwc, n, c, hw);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p) EXPECT_EQ(nhwc[(i * hw + p) * c + ch], x[(i * c + ch) * hw + p]);
  kernels::change_layout(cpu(), nhwc.data(), Layout::nhwc, back.data(), Layout::nchw, n, c, hw);
  EXPECT_EQ(back, x);
  kernels::change_layout(cpu(), x.data(), Layout::nchw, same.data(), Layout::nchw, n, c, hw);
  EXPECT_EQ(same, x);
}

TEST(ChangeLayout, Bf16MovesTheSameBits) {
  const std::int64_t n = 2, c = 4, hw = 6;
  const std::vector<float> x = testing::random_floats(n * c * hw, -3, 3, 41);
  std::vector<bf16> xb(x.size()), yb(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) xb[i] = bf16(x[i]);
  std::vector<float> rounded(x.size()), expected(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) rounded[i] = float(xb[i]);
  kernels::change_layout(cpu(), rounded.data(), Layout::nchw, expected.data(), Layout::nhwc, n, c, hw);
  kernels::change_layout(cpu(), xb.data(), Layout::nchw, yb.data(), Layout::nhwc, n, c, hw);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(float(yb[i]), expected[i]) << i;
}

TEST(SwapLeadingAxes, TransposesTheFirstTwoAxes) {
  const std::vector<float> x = {0, 1, 2, 3, 4, 5};  // (a 2, b 3, c 1)
  std::vector<float> y(6);
  kernels::swap_leading_axes(cpu(), x.data(), y.data(), 2, 3, 1);
  EXPECT_EQ(y, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  std::vector<float> rows(6);  // (a 1, b 2, c 3): one row of two vectors, unchanged
  kernels::swap_leading_axes(cpu(), x.data(), rows.data(), 1, 2, 3);
  EXPECT_EQ(rows, x);
}

TEST(ChannelView, NchwIsPlanesAndNhwcIsRowsOfChannels) {
  const ChannelView nchw = channel_view(Layout::nchw, 2, 3, 5), nhwc = channel_view(Layout::nhwc, 2, 3, 5);
  EXPECT_EQ((std::vector<std::int64_t>{nchw.outer, nchw.channels, nchw.inner}), (std::vector<std::int64_t>{2, 3, 5}));
  EXPECT_EQ((std::vector<std::int64_t>{nhwc.outer, nhwc.channels, nhwc.inner}), (std::vector<std::int64_t>{10, 3, 1}));
  EXPECT_EQ(element_offset(Layout::nchw, 1, 2, 3, 4, 3, 5, 6), ((1 * 3 + 2) * 5 + 3) * 6 + 4);
  EXPECT_EQ(element_offset(Layout::nhwc, 1, 2, 3, 4, 3, 5, 6), ((1 * 5 + 3) * 6 + 4) * 3 + 2);
  EXPECT_THROW(kernels::check_channel_view("test", 1, 0, 1), Error);
  Layout parsed = Layout::nchw;
  EXPECT_TRUE(layout_from_name("nhwc", &parsed));
  EXPECT_EQ(parsed, Layout::nhwc);
  EXPECT_FALSE(layout_from_name("NHWC", &parsed));
}

}  // namespace
}  // namespace rosetta
