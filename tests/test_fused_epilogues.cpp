// The fused ops of the CNN step: kernels/pool.h's max pooling + ReLU + dropout and its gradient with the bias
// gradient, kernels/elementwise.h's linear epilogue (bias + ReLU + dropout) and its gradient. On the CPU twin each is
// exactly the chain of unfused ops it replaces, bit for bit (forward values, arg-max where it matters, gradients and
// bias gradients), in both ReLU orders; the channels-last padded pooling is the NCHW one transposed; the references'
// gradients match central differences in double, with respect to the input and to the bias. (The CUDA twins against
// the CPU twin: the op table, tests/test_ops.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/pool.h"
#include "kernels/reference/elementwise.h"
#include "kernels/reference/pool.h"
#include "runtime/error.h"
#include "runtime/philox.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

using kernels::DropoutDraw;
using kernels::PoolShape;

constexpr PoolShape kShape{2, 3, 8, 8, 2, 2, 0};  // the CNN's 2x2/2 pooling, small

std::size_t inputs(const PoolShape& s) { return static_cast<std::size_t>(s.n * s.c * s.h * s.w); }
std::size_t outputs(const PoolShape& s) { return static_cast<std::size_t>(s.n * s.c * s.out_h() * s.out_w()); }

// Values on a grid of halves in [-2, 2): ties in most windows and windows whose maximum is <= 0.
std::vector<float> tied_values(std::size_t count, std::uint64_t seed) {
  std::vector<float> v = testing::random_floats(count, -2, 2, seed);
  for (float& x : v) x = std::floor(x * 2) / 2;
  return v;
}

struct Unfused {
  std::vector<float> y, dx, dbias;
};

// The seed's chain on the CPU twin: pool -> ReLU -> dropout forward; dropout -> ReLU -> pool backward, then the bias
// gradient. relu_first: ReLU -> pool -> dropout instead (the ReLU moved before the pool).
Unfused unfused_chain(const PoolShape& s, const std::vector<float>& x, const std::vector<float>& dy, float p,
                      const std::uint64_t* step, bool relu_first) {
  const Context& ctx = Context::cpu();
  const std::int64_t in = std::int64_t(inputs(s)), out = std::int64_t(outputs(s));
  std::vector<float> relu_in(in), pooled(out), relu_out(out), y(out), mask(out), g(out), g2(out), dx(in), dx2(in),
      dbias(s.c);
  std::vector<std::int32_t> argmax(out);
  if (relu_first) {
    kernels::relu_forward(ctx, x.data(), relu_in.data(), in);
    kernels::maxpool2d_forward(ctx, s, Layout::nchw, relu_in.data(), pooled.data(), argmax.data());
    relu_out = pooled;
  } else {
    kernels::maxpool2d_forward(ctx, s, Layout::nchw, x.data(), pooled.data(), argmax.data());
    kernels::relu_forward(ctx, pooled.data(), relu_out.data(), out);
  }
  kernels::dropout_forward(ctx, relu_out.data(), y.data(), mask.data(), p, 7, 3, step, 0, out);
  kernels::dropout_backward(ctx, dy.data(), mask.data(), g.data(), out);
  if (relu_first) {
    kernels::maxpool2d_backward(ctx, s, Layout::nchw, g.data(), argmax.data(), dx2.data());
    kernels::relu_backward(ctx, relu_in.data(), dx2.data(), dx.data(), in);
  } else {
    kernels::relu_backward(ctx, relu_out.data(), g.data(), g2.data(), out);
    kernels::maxpool2d_backward(ctx, s, Layout::nchw, g2.data(), argmax.data(), dx.data());
  }
  kernels::bias_backward(ctx, dx.data(), dbias.data(), s.n, s.c, s.h * s.w, false);
  return {y, dx, dbias};
}

TEST(FusedPool, IsTheUnfusedChainBitForBitInBothReluOrders) {
  const std::vector<float> x = tied_values(inputs(kShape), 1), dy = testing::random_floats(outputs(kShape), -1, 1, 2);
  const std::uint64_t step = 4;
  for (float p : {0.0f, 0.25f}) {
    SCOPED_TRACE("p " + std::to_string(p));
    const DropoutDraw draw{p, 7, 3, &step, 0};
    std::vector<float> y(outputs(kShape)), dx(inputs(kShape)), dbias(kShape.c);
    std::vector<std::int32_t> argmax(outputs(kShape));
    kernels::maxpool2d_relu_dropout_forward(Context::cpu(), kShape, Layout::nchw, x.data(), y.data(), argmax.data(),
                                            kShape.c, draw);
    kernels::maxpool2d_relu_dropout_backward(Context::cpu(), kShape, Layout::nchw, dy.data(), y.data(), argmax.data(),
                                             kernels::dropout_scale(p), dx.data(), dbias.data());
    for (bool relu_first : {false, true}) {
      SCOPED_TRACE(relu_first ? "ReLU before the pool" : "ReLU after the pool (the seed's order)");
      const Unfused expected = unfused_chain(kShape, x, dy, p, &step, relu_first);
      EXPECT_EQ(y, expected.y);
      EXPECT_EQ(dx, expected.dx);
      EXPECT_EQ(dbias, expected.dbias);
    }
  }
}

TEST(FusedPool, PaddedChannelsLastIsTheNchwPoolingTransposed) {
  // 3 channels stored as 8 (zero padding), NHWC: the same values, arg-max, gradients and bias gradients, and the
  // padded channels' outputs and gradients are 0.
  const PoolShape padded{kShape.n, 8, kShape.h, kShape.w, 2, 2, 0};
  const std::vector<float> x = tied_values(inputs(kShape), 3), dy = testing::random_floats(outputs(kShape), -1, 1, 4);
  const std::uint64_t step = 9;
  const DropoutDraw draw{0.25f, 7, 3, &step, 11};
  std::vector<float> y(outputs(kShape)), dx(inputs(kShape)), dbias(kShape.c);
  std::vector<std::int32_t> argmax(outputs(kShape));
  kernels::maxpool2d_relu_dropout_forward(Context::cpu(), kShape, Layout::nchw, x.data(), y.data(), argmax.data(),
                                          kShape.c, draw);
  kernels::maxpool2d_relu_dropout_backward(Context::cpu(), kShape, Layout::nchw, dy.data(), y.data(), argmax.data(),
                                           kernels::dropout_scale(0.25f), dx.data(), dbias.data());

  const auto pad_to_nhwc = [](const std::vector<float>& v, std::int64_t n, std::int64_t c, std::int64_t padded_c,
                              std::int64_t hw) {
    std::vector<float> out(std::size_t(n * padded_c * hw), 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t ch = 0; ch < c; ++ch)
        for (std::int64_t q = 0; q < hw; ++q) out[std::size_t((i * hw + q) * padded_c + ch)] = v[std::size_t((i * c + ch) * hw + q)];
    return out;
  };
  const std::int64_t hw = kShape.h * kShape.w, ohw = kShape.out_h() * kShape.out_w();
  const std::vector<float> x_nhwc = pad_to_nhwc(x, kShape.n, kShape.c, 8, hw);
  const std::vector<float> dy_nhwc = pad_to_nhwc(dy, kShape.n, kShape.c, 8, ohw);
  std::vector<float> y_nhwc(std::size_t(kShape.n * 8 * ohw)), dx_nhwc(std::size_t(kShape.n * 8 * hw)), dbias_nhwc(8);
  std::vector<std::int32_t> argmax_nhwc(y_nhwc.size());
  kernels::maxpool2d_relu_dropout_forward(Context::cpu(), padded, Layout::nhwc, x_nhwc.data(), y_nhwc.data(),
                                          argmax_nhwc.data(), kShape.c, draw);
  kernels::maxpool2d_relu_dropout_backward(Context::cpu(), padded, Layout::nhwc, dy_nhwc.data(), y_nhwc.data(),
                                           argmax_nhwc.data(), kernels::dropout_scale(0.25f), dx_nhwc.data(),
                                           dbias_nhwc.data());
  EXPECT_EQ(y_nhwc, pad_to_nhwc(y, kShape.n, kShape.c, 8, ohw));
  EXPECT_EQ(dx_nhwc, pad_to_nhwc(dx, kShape.n, kShape.c, 8, hw));
  EXPECT_EQ(std::vector<float>(dbias_nhwc.begin(), dbias_nhwc.begin() + kShape.c), dbias);
  for (std::int64_t ch = kShape.c; ch < 8; ++ch) EXPECT_EQ(dbias_nhwc[std::size_t(ch)], 0.0f) << "padded channel " << ch;
  // The arg-max of a real channel is the same plane index in both layouts.
  for (std::int64_t i = 0; i < kShape.n; ++i)
    for (std::int64_t ch = 0; ch < kShape.c; ++ch)
      for (std::int64_t q = 0; q < ohw; ++q)
        ASSERT_EQ(argmax_nhwc[std::size_t((i * ohw + q) * 8 + ch)], argmax[std::size_t((i * kShape.c + ch) * ohw + q)]);
}

TEST(FusedPool, RejectsWindowsThatDoNotTileTheInput) {
  std::vector<float> x(100), y(100);
  std::vector<std::int32_t> argmax(100);
  for (const PoolShape& bad : {PoolShape{1, 1, 5, 4, 2, 2, 0},    // H not a multiple of the window
                               PoolShape{1, 1, 6, 6, 3, 2, 1}}) {  // overlapping, padded
    EXPECT_THROW(kernels::maxpool2d_relu_dropout_forward(Context::cpu(), bad, Layout::nchw, x.data(), y.data(),
                                                         argmax.data(), 1, DropoutDraw{}),
                 Error)
        << bad.str();
  }
  EXPECT_THROW(kernels::maxpool2d_relu_dropout_forward(Context::cpu(), PoolShape{1, 2, 4, 4, 2, 2, 0}, Layout::nchw,
                                                       x.data(), y.data(), argmax.data(), 3, DropoutDraw{}),
               Error)
      << "more unpadded channels than stored";
}

// Distinct values 0.01 apart, none within 0.005 of 0: no tie, and a 1e-6 step changes neither a window's arg-max nor
// a ReLU's side, so the central differences are exact away from kinks.
std::vector<double> distinct_values(std::size_t count, std::uint64_t seed) {
  std::vector<double> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = 0.01 * (double(i) - double(count) / 2) + 0.005;
  for (std::size_t i = count; i > 1; --i) std::swap(v[i - 1], v[philox_u32(seed, 0, i) % i]);
  return v;
}

TEST(FusedPool, GradientsMatchCentralDifferencesInDouble) {
  const std::uint64_t step = 2;
  const DropoutDraw draw{0.25f, 5, 3, &step, 0};
  const double scale = kernels::dropout_scale(0.25f);
  const std::vector<double> x0 = distinct_values(inputs(kShape), 5);
  std::vector<std::int32_t> argmax(outputs(kShape));
  const auto pool = [&](const std::vector<double>& x) {
    std::vector<double> y(outputs(kShape));
    kernels::reference::maxpool2d_relu_dropout_forward(kShape, Layout::nchw, x.data(), y.data(), argmax.data(),
                                                       kShape.c, draw);
    return y;
  };
  const auto pool_backward = [&](const std::vector<double>& x, const std::vector<double>& dy, std::vector<double>* dbias) {
    const std::vector<double> y = pool(x);
    std::vector<double> dx(inputs(kShape)), db(kShape.c);
    kernels::reference::maxpool2d_relu_dropout_backward(kShape, Layout::nchw, dy.data(), y.data(), argmax.data(),
                                                        float(scale), dx.data(), db.data());
    if (dbias) *dbias = db;
    return dx;
  };
  // With respect to the input.
  EXPECT_EQ(testing::check_gradient(pool, [&](const std::vector<double>& x, const std::vector<double>& dy) {
              return pool_backward(x, dy, nullptr);
            }, x0),
            int(x0.size()));
  // With respect to the bias of the convolution before it: x + bias[c].
  const auto with_bias = [&](const std::vector<double>& bias) {
    std::vector<double> x = x0;
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += bias[i / std::size_t(kShape.h * kShape.w) % std::size_t(kShape.c)];
    return x;
  };
  const std::vector<double> bias0 = {0.0003, -0.0021, 0.0012};
  EXPECT_EQ(testing::check_gradient([&](const std::vector<double>& b) { return pool(with_bias(b)); },
                                    [&](const std::vector<double>& b, const std::vector<double>& dy) {
                                      std::vector<double> dbias;
                                      pool_backward(with_bias(b), dy, &dbias);
                                      return dbias;
                                    },
                                    bias0),
            kShape.c);
}

TEST(FusedLinearEpilogue, IsBiasAddReluDropoutAndTheirGradientsBitForBit) {
  const Context& ctx = Context::cpu();
  const std::int64_t rows = 16, features = 24, n = rows * features;
  const std::vector<float> z = testing::random_floats(static_cast<std::size_t>(n), -2, 2, 6), bias = testing::random_floats(24, -1, 1, 7);
  const std::vector<float> dy = testing::random_floats(static_cast<std::size_t>(n), -1, 1, 8);
  const std::uint64_t step = 3;
  for (bool relu : {true, false}) {
    SCOPED_TRACE(relu ? "ReLU" : "no ReLU");
    const float p = relu ? 0.5f : 0.0f;
    const DropoutDraw draw{p, 9, 5, &step, 40};
    std::vector<float> y(static_cast<std::size_t>(n)), dz(static_cast<std::size_t>(n)), dbias(static_cast<std::size_t>(features));
    kernels::bias_relu_dropout_forward(ctx, z.data(), bias.data(), y.data(), relu, draw, rows, features, 1);
    kernels::bias_relu_dropout_backward(ctx, relu ? y.data() : nullptr, dy.data(), kernels::dropout_scale(p), dz.data(),
                                        dbias.data(), rows, features, 1);
    // The unfused chain: bias_add, relu, dropout; dropout, relu and bias gradients.
    std::vector<float> a = z, r(static_cast<std::size_t>(n)), out(static_cast<std::size_t>(n)), mask(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n)),
                       g2(static_cast<std::size_t>(n)), db(static_cast<std::size_t>(features));
    kernels::bias_add(ctx, a.data(), bias.data(), rows, features, 1);
    if (relu) kernels::relu_forward(ctx, a.data(), r.data(), n); else r = a;
    kernels::dropout_forward(ctx, r.data(), out.data(), mask.data(), p, 9, 5, &step, 40, n);
    kernels::dropout_backward(ctx, dy.data(), mask.data(), g.data(), n);
    if (relu) kernels::relu_backward(ctx, r.data(), g.data(), g2.data(), n); else g2 = g;
    kernels::bias_backward(ctx, g2.data(), db.data(), rows, features, 1, false);
    EXPECT_EQ(y, out);
    EXPECT_EQ(dz, g2);
    EXPECT_EQ(dbias, db);
  }
}

TEST(FusedLinearEpilogue, GradientsMatchCentralDifferencesInDouble) {
  const std::int64_t rows = 4, features = 6, n = rows * features;
  const std::uint64_t step = 1;
  const DropoutDraw draw{0.5f, 3, 2, &step, 0};
  const float scale = kernels::dropout_scale(0.5f);
  // z is 0.005 off a multiple of 0.01 and |bias| < 0.005: z + bias stays >= 0.0008 from the ReLU's kink.
  const std::vector<double> z0 = distinct_values(static_cast<std::size_t>(n), 9);
  const std::vector<double> bias0 = {0.0013, -0.0027, 0.0031, -0.0042, 0.0007, 0.0019};
  const auto forward = [&](const std::vector<double>& z, const std::vector<double>& bias) {
    std::vector<double> y(static_cast<std::size_t>(n));
    kernels::reference::bias_relu_dropout_forward(z.data(), bias.data(), y.data(), true, draw, rows, features, 1);
    return y;
  };
  const auto backward = [&](const std::vector<double>& z, const std::vector<double>& bias, const std::vector<double>& dy,
                            bool want_bias) {
    const std::vector<double> y = forward(z, bias);
    std::vector<double> dz(static_cast<std::size_t>(n)), dbias(static_cast<std::size_t>(features));
    kernels::reference::bias_relu_dropout_backward(y.data(), dy.data(), scale, dz.data(), dbias.data(), rows, features, 1);
    return want_bias ? dbias : dz;
  };
  EXPECT_EQ(testing::check_gradient([&](const std::vector<double>& z) { return forward(z, bias0); },
                                    [&](const std::vector<double>& z, const std::vector<double>& dy) {
                                      return backward(z, bias0, dy, false);
                                    },
                                    z0),
            int(n));
  EXPECT_EQ(testing::check_gradient([&](const std::vector<double>& b) { return forward(z0, b); },
                                    [&](const std::vector<double>& b, const std::vector<double>& dy) {
                                      return backward(z0, b, dy, true);
                                    },
                                    bias0),
            int(features));
}

}  // namespace
}  // namespace rosetta
