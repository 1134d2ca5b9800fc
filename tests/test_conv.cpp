// Convolution: the double reference (kernels/reference/conv.h) against a hand-computed case, PyTorch (optional
// oracle) and central differences; the fast float CPU twin against the reference; plans and the cuDNN algorithm
// cache (key, file) on the CPU; and on a GPU, cuDNN against the reference in fp32 and tf32, autotune on and off,
// the fp32 mode's freedom from TF32, and the cache's effect on a second plan.
//
// Tolerance rules, used throughout (u = 2^-24, the float unit roundoff):
// - magnitude(e) is the reference evaluated on |x|, |w|, |dy|: the sum of the absolute values of the terms of
//   output element e, computed in double.
// - A float computation that forms each product in float and adds the L terms of an element in some order is
//   off by at most gamma_L * magnitude with gamma_L = L u / (1 - L u) (Higham, Accuracy and Stability, 3.1).
//   The fast CPU twin is such a computation, so it is held to exactly that bound: never flaky, and still far
//   below the size of any single missing or wrong term on the shapes used.
// - cuDNN may use Winograd and FFT algorithms, which round transformed values too; fp32 is held to 1e-4 of the
//   magnitude, well above their errors in practice (~1e-6) and far below a missing term (1/L of the magnitude).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/conv.h"
#include "kernels/reference/conv.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"
#include "tests/support/cli.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"
#include "tests/support/python.h"
#include "tests/support/relayout.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#if ROSETTA_WITH_CUDA
#include <cudnn.h>

#include "kernels/cuda/conv_algorithm_cache.h"
#endif

namespace rosetta {
namespace {

using kernels::ConvOptions;
using kernels::ConvPlan;
using kernels::ConvShape;
using testing::random_floats;
using testing::relaid;

ConvShape make_shape(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k, std::int64_t r,
                     std::int64_t s, int pad_h, int pad_w, int stride_h, int stride_w) {
  ConvShape shape;
  shape.n = n, shape.c = c, shape.h = h, shape.w = w, shape.k = k, shape.r = r, shape.s = s;
  shape.pad_h = pad_h, shape.pad_w = pad_w, shape.stride_h = stride_h, shape.stride_w = stride_w;
  return shape;
}

std::size_t x_count(const ConvShape& s) { return static_cast<std::size_t>(s.n * s.c * s.h * s.w); }
std::size_t w_count(const ConvShape& s) { return static_cast<std::size_t>(s.k * s.c * s.r * s.s); }
std::size_t y_count(const ConvShape& s) { return static_cast<std::size_t>(s.n * s.k * s.out_h() * s.out_w()); }

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }
std::vector<double> absolute(const std::vector<double>& v) {
  std::vector<double> a(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a[i] = std::abs(v[i]);
  return a;
}

// The three passes in double, with each output's magnitude (the reference on absolute values).
struct Reference {
  std::vector<double> y, dx, dw, y_magnitude, dx_magnitude, dw_magnitude;
};

Reference reference_passes(const ConvShape& s, const std::vector<float>& xf, const std::vector<float>& wf,
                           const std::vector<float>& dyf) {
  const std::vector<double> x = to_double(xf), w = to_double(wf), dy = to_double(dyf);
  const std::vector<double> ax = absolute(x), aw = absolute(w), ady = absolute(dy);
  Reference r;
  r.y.resize(y_count(s)), r.y_magnitude.resize(y_count(s));
  r.dx.resize(x_count(s)), r.dx_magnitude.resize(x_count(s));
  r.dw.resize(w_count(s)), r.dw_magnitude.resize(w_count(s));
  kernels::reference::conv2d_forward(s, x.data(), w.data(), r.y.data());
  kernels::reference::conv2d_forward(s, ax.data(), aw.data(), r.y_magnitude.data());
  kernels::reference::conv2d_backward_data(s, dy.data(), w.data(), r.dx.data());
  kernels::reference::conv2d_backward_data(s, ady.data(), aw.data(), r.dx_magnitude.data());
  kernels::reference::conv2d_backward_filter(s, x.data(), dy.data(), r.dw.data());
  kernels::reference::conv2d_backward_filter(s, ax.data(), ady.data(), r.dw_magnitude.data());
  return r;
}

// Every |actual - expected| <= rtol * magnitude (+ the smallest normal float, for all-zero terms); reports the
// first few offenders with the worst relative error seen.
void expect_within(const std::vector<float>& actual, const std::vector<double>& expected,
                   const std::vector<double>& magnitude, double rtol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  double worst = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double error = std::abs(double(actual[i]) - expected[i]);
    const double bound = rtol * magnitude[i] + std::numeric_limits<float>::min();
    if (magnitude[i] > 0) worst = std::max(worst, error / magnitude[i]);
    if (!(error <= bound) && reported++ < 5)
      ADD_FAILURE() << what << " element " << i << ": " << actual[i] << " vs " << expected[i] << " (magnitude "
                    << magnitude[i] << ", bound " << bound << ")";
  }
  if (reported > 0)
    ADD_FAILURE() << what << ": " << reported << " elements out of bounds, worst error/magnitude " << worst;
}

// Terms per output element of each pass (an upper bound for backward-data, whose elements near the border and
// between strides have fewer).
std::int64_t forward_terms(const ConvShape& s) { return s.c * s.r * s.s; }
std::int64_t backward_data_terms(const ConvShape& s) { return s.k * s.r * s.s; }
std::int64_t backward_filter_terms(const ConvShape& s) { return s.n * s.out_h() * s.out_w(); }

// gamma_L for float (see the tolerance rules above).
double float_sum_bound(std::int64_t terms) {
  const double u = std::ldexp(1.0, -24);
  return double(terms) * u / (1.0 - double(terms) * u);
}

TEST(ConvShape, StrSaysInputFilterPadAndStride) {
  EXPECT_EQ(make_shape(64, 3, 32, 32, 50, 3, 3, 1, 1, 1, 1).str(), "x(64, 3, 32, 32) w(50, 3, 3, 3) pad 1 stride 1");
  EXPECT_EQ(make_shape(2, 3, 7, 12, 5, 5, 3, 2, 1, 1, 2).str(),
            "x(2, 3, 7, 12) w(5, 3, 5, 3) pad (2, 1) stride (1, 2)");
  EXPECT_EQ(make_shape(1, 1, 10, 9, 1, 3, 3, 1, 1, 2, 2).out_h(), 5);
  EXPECT_EQ(make_shape(1, 1, 10, 9, 1, 3, 3, 1, 1, 2, 2).out_w(), 5);
}

// x = 1..9 as a 3x3 image, w = [[1, 2], [3, 4]]: every output below is a sum worked out by hand.
TEST(ConvReference, MatchesHandComputedCase) {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4}, ones = {1, 1, 1, 1};
  const ConvShape valid = make_shape(1, 1, 3, 3, 1, 2, 2, 0, 0, 1, 1);
  std::vector<double> y(4), dx(9), dw(4);
  kernels::reference::conv2d_forward(valid, x.data(), w.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{37, 47, 67, 77}));  // e.g. 1*1 + 2*2 + 4*3 + 5*4 = 37
  kernels::reference::conv2d_backward_data(valid, ones.data(), w.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4}));  // taps of w that touch each pixel
  kernels::reference::conv2d_backward_filter(valid, x.data(), ones.data(), dw.data());
  EXPECT_EQ(dw, (std::vector<double>{12, 16, 24, 28}));  // sums of x under each tap's 2x2 shifts

  // Pad 1, stride 2: windows start at (-1, -1), (-1, 1), (1, -1), (1, 1); padding contributes zeros.
  const ConvShape padded = make_shape(1, 1, 3, 3, 1, 2, 2, 1, 1, 2, 2);
  kernels::reference::conv2d_forward(padded, x.data(), w.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{4, 18, 36, 77}));  // 1*4; 2*3 + 3*4; 4*2 + 7*4; 5 + 12 + 24 + 36
}

TEST(ConvCpu, FloatTwinMatchesHandComputedCaseExactly) {
  // Small integers: every product and sum is exact in float, so the twin must match to the bit.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {1, 2, 3, 4}, ones = {1, 1, 1, 1};
  Context& ctx = Context::cpu();
  const ConvPlan plan = kernels::make_conv_plan(ctx, make_shape(1, 1, 3, 3, 1, 2, 2, 0, 0, 1, 1), {});
  std::vector<float> y(4), dx(9), dw(4);
  kernels::cpu::conv2d_forward(ctx, plan, x.data(), w.data(), y.data());
  kernels::cpu::conv2d_backward_data(ctx, plan, ones.data(), w.data(), dx.data());
  kernels::cpu::conv2d_backward_filter(ctx, plan, x.data(), ones.data(), dw.data());
  EXPECT_EQ(y, (std::vector<float>{37, 47, 67, 77}));
  EXPECT_EQ(dx, (std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
  EXPECT_EQ(dw, (std::vector<float>{12, 16, 24, 28}));
}

// Shapes that exercise every path of the CPU twin: full and partial GEMM tiles (K and OH*OW not multiples of
// 4 and 8), stride 1 and 2, pad 0/1/3, 1x1 (the im2col-free path), 3x3, 7x7, non-square inputs, kernels, pads
// and strides, a kernel as large as the input, and the CIFAR CNN's 50->50 layer.
std::vector<ConvShape> cpu_test_shapes() {
  return {make_shape(2, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1),   make_shape(2, 5, 10, 8, 6, 3, 3, 1, 1, 2, 2),
          make_shape(1, 4, 11, 11, 5, 7, 7, 3, 3, 2, 2), make_shape(3, 8, 6, 6, 16, 1, 1, 0, 0, 1, 1),
          make_shape(2, 8, 7, 7, 4, 1, 1, 0, 0, 2, 2),   make_shape(2, 3, 7, 12, 5, 5, 3, 2, 1, 1, 2),
          make_shape(2, 6, 5, 5, 9, 5, 5, 0, 0, 1, 1),   make_shape(2, 50, 32, 32, 50, 3, 3, 1, 1, 1, 1)};
}

TEST(ConvCpu, FloatTwinMatchesDoubleReferenceWithinFloatSumBound) {
  Context& ctx = Context::cpu();
  std::uint64_t seed = 100;
  for (const ConvShape& s : cpu_test_shapes()) {
    const std::vector<float> x = random_floats(x_count(s), -1, 1, ++seed), w = random_floats(w_count(s), -1, 1, ++seed),
                             dy = random_floats(y_count(s), -1, 1, ++seed);
    const Reference ref = reference_passes(s, x, w, dy);
    const ConvPlan plan = kernels::make_conv_plan(ctx, s, {});
    std::vector<float> y(y_count(s)), dx(x_count(s)), dw(w_count(s));
    kernels::cpu::conv2d_forward(ctx, plan, x.data(), w.data(), y.data());
    kernels::cpu::conv2d_backward_data(ctx, plan, dy.data(), w.data(), dx.data());
    kernels::cpu::conv2d_backward_filter(ctx, plan, x.data(), dy.data(), dw.data());
    expect_within(y, ref.y, ref.y_magnitude, float_sum_bound(forward_terms(s)), "forward " + s.str());
    expect_within(dx, ref.dx, ref.dx_magnitude, float_sum_bound(backward_data_terms(s)), "backward-data " + s.str());
    expect_within(dw, ref.dw, ref.dw_magnitude, float_sum_bound(backward_filter_terms(s)),
                  "backward-filter " + s.str());
  }
}

TEST(ConvCpu, FloatTwinIsDeterministicAndWritesEveryOutput) {
  Context& ctx = Context::cpu();
  const ConvShape s = make_shape(3, 7, 9, 10, 6, 3, 3, 1, 1, 2, 1);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 7), w = random_floats(w_count(s), -1, 1, 8),
                           dy = random_floats(y_count(s), -1, 1, 9);
  const ConvPlan plan = kernels::make_conv_plan(ctx, s, {});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> first[3], second[3];
  for (std::vector<float>* out : {first, second}) {
    out[0].assign(y_count(s), nan), out[1].assign(x_count(s), nan), out[2].assign(w_count(s), nan);  // poison
    kernels::cpu::conv2d_forward(ctx, plan, x.data(), w.data(), out[0].data());
    kernels::cpu::conv2d_backward_data(ctx, plan, dy.data(), w.data(), out[1].data());
    kernels::cpu::conv2d_backward_filter(ctx, plan, x.data(), dy.data(), out[2].data());
  }
  for (int pass = 0; pass < 3; ++pass) {
    for (float v : first[pass]) ASSERT_FALSE(std::isnan(v)) << "pass " << pass << " left an output unwritten";
    EXPECT_EQ(first[pass], second[pass]) << "pass " << pass << " differs between two runs";
  }
}

TEST(ConvCpu, PassesAllocateNothingAfterThePlan) {
  Context& ctx = Context::cpu();
  const ConvShape s = make_shape(2, 6, 12, 12, 8, 3, 3, 1, 1, 1, 1);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 1), w = random_floats(w_count(s), -1, 1, 2),
                           dy = random_floats(y_count(s), -1, 1, 3);
  std::vector<float> y(y_count(s)), dx(x_count(s)), dw(w_count(s));
  const ConvPlan plan = kernels::make_conv_plan(ctx, s, {});
  for (const auto& runner : plan.runners) EXPECT_FALSE(runner) << "a CPU plan holds no CUDA runner";
  const std::uint64_t allocations = allocation_count();
  kernels::cpu::conv2d_forward(ctx, plan, x.data(), w.data(), y.data());
  kernels::cpu::conv2d_backward_data(ctx, plan, dy.data(), w.data(), dx.data());
  kernels::cpu::conv2d_backward_filter(ctx, plan, x.data(), dy.data(), dw.data());
  EXPECT_EQ(allocation_count(), allocations);
}

TEST(ConvPlan, RejectsBadShapesWithTheShapeInTheMessage) {
  Context& ctx = Context::cpu();
  const auto expect_rejected = [&](const ConvShape& s, const ConvOptions& options, const std::string& expected) {
    try {
      kernels::make_conv_plan(ctx, s, options);
      ADD_FAILURE() << "accepted " << s.str();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  expect_rejected(make_shape(0, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1), {}, "x(0, 3, 8, 8)");
  expect_rejected(make_shape(1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 1), {}, "stride (0, 1)");
  expect_rejected(make_shape(1, 3, 2, 2, 4, 5, 5, 1, 1, 1, 1), {}, "w(4, 3, 5, 5)");
  ConvOptions declared;  // a declared epilogue is no bad shape, on a training plan too (the calls it refuses:
  declared.epilogue = kernels::ConvEpilogue::bias_relu;  // DeclaredEpilogueTrainingPlanRunsEveryPassAsTheUndeclaredPlan)
  EXPECT_NO_THROW(kernels::make_conv_plan(ctx, make_shape(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1), declared));
}

// The names of backends and epilogues (the CLI's --backend values, the cache file's fields) round-trip, and nothing
// else parses.
TEST(ConvNames, BackendsAndEpiloguesRoundTrip) {
  for (int i = 0; i < kernels::kConvBackendCount; ++i) {
    const auto backend = static_cast<kernels::ConvBackend>(i);
    kernels::ConvBackend parsed{};
    ASSERT_TRUE(kernels::conv_backend_from_name(kernels::conv_backend_name(backend), &parsed));
    EXPECT_EQ(parsed, backend);
  }
  EXPECT_STREQ(kernels::conv_backend_name(kernels::ConvBackend::cudnn_graph), "cudnn-graph");
  EXPECT_STREQ(kernels::conv_backend_name(kernels::ConvBackend::cublaslt), "cublaslt");
  EXPECT_STREQ(kernels::conv_backend_name(kernels::ConvBackend::direct), "direct");
  for (int i = 0; i < kernels::kConvEpilogueCount; ++i) {
    const auto epilogue = static_cast<kernels::ConvEpilogue>(i);
    kernels::ConvEpilogue parsed{};
    ASSERT_TRUE(kernels::conv_epilogue_from_name(kernels::conv_epilogue_name(epilogue), &parsed));
    EXPECT_EQ(parsed, epilogue);
  }
  for (bool residual : {false, true})
    for (bool relu : {false, true}) {
      const kernels::ConvEpilogue e = kernels::conv_epilogue_of(residual, relu);
      EXPECT_EQ(kernels::conv_epilogue_has_residual(e), residual);
      EXPECT_EQ(kernels::conv_epilogue_has_relu(e), relu);
    }
  kernels::ConvBackend backend{};
  kernels::ConvEpilogue epilogue{};
  for (const char* bad : {"", "auto", "CUDNN", "cudnn_graph", "cublas"})
    EXPECT_FALSE(kernels::conv_backend_from_name(bad, &backend)) << bad;
  EXPECT_FALSE(kernels::conv_epilogue_from_name("relu", &epilogue));
  kernels::ConvAlgorithmChoice lt;
  lt.backend = kernels::ConvBackend::cublaslt, lt.algo = 21, lt.variant = 2;
  EXPECT_EQ(kernels::conv_choice_name(kernels::ConvPass::forward, lt), "cublaslt algo 21 #2");
}

// `call` throws one Error whose message holds `expected` and names the shape.
void expect_refused_naming(const std::function<void()>& call, const std::string& expected, const ConvShape& s) {
  try {
    call();
    ADD_FAILURE() << "accepted: " << expected;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(s.str()), std::string::npos) << e.what();
  }
}

// A plan declared for an epilogue takes only that epilogue's calls, on both twins (the same check): not the plain
// forward, not another residual or activation; a plan for `any` takes every call.
TEST(ConvPlan, DeclaredEpilogueTakesOnlyItsOwnCalls) {
  Context& ctx = Context::cpu();
  const ConvShape s = make_shape(2, 4, 6, 6, 5, 1, 1, 0, 0, 1, 1);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 5), w = random_floats(w_count(s), -1, 1, 6),
                           bias = random_floats(std::size_t(s.k), -1, 1, 7), z = random_floats(y_count(s), -1, 1, 8);
  std::vector<float> y(y_count(s)), expected(y_count(s));
  ConvOptions declared;
  declared.forward_only = true;
  declared.epilogue = kernels::ConvEpilogue::bias_residual_relu;
  const ConvPlan plan = kernels::make_conv_plan(ctx, s, declared);
  const auto expect_refused = [&](const std::function<void()>& call, const std::string& expected_text) {
    expect_refused_naming(call, expected_text, s);
  };
  expect_refused([&] { kernels::conv2d_forward(ctx, plan, x.data(), w.data(), y.data()); },
                 "declared for the epilogue bias+residual+relu");
  expect_refused([&] { kernels::conv2d_bias_activation_forward(ctx, plan, x.data(), w.data(), bias.data(), nullptr,
                                                               true, y.data()); },
                 "called with the epilogue bias+relu");
  expect_refused([&] { kernels::conv2d_bias_activation_forward(ctx, plan, x.data(), w.data(), bias.data(), z.data(),
                                                               false, y.data()); },
                 "called with the epilogue bias+residual,");
  kernels::conv2d_bias_activation_forward(ctx, plan, x.data(), w.data(), bias.data(), z.data(), true, y.data());
  ConvOptions any;
  any.forward_only = true;
  const ConvPlan free_plan = kernels::make_conv_plan(ctx, s, any);
  kernels::conv2d_bias_activation_forward(ctx, free_plan, x.data(), w.data(), bias.data(), z.data(), true,
                                          expected.data());
  EXPECT_EQ(y, expected) << "the declared plan runs the same CPU forward";
  kernels::conv2d_forward(ctx, free_plan, x.data(), w.data(), expected.data());
}

// ResNet-50's convolution kinds: the 7x7/2 stem, a 1x1, a strided 3x3, a strided 1x1 downsample.
std::vector<ConvShape> resnet_kinds() {
  return {make_shape(2, 3, 32, 32, 8, 7, 7, 3, 3, 2, 2), make_shape(2, 16, 8, 8, 8, 1, 1, 0, 0, 1, 1),
          make_shape(2, 8, 8, 8, 8, 3, 3, 1, 1, 2, 2), make_shape(2, 16, 8, 8, 32, 1, 1, 0, 0, 2, 2)};
}

// The CPU NHWC convolution (x (N, H, W, C), w (K, R, S, C)) runs the NCHW sums on transposed copies: each pass's
// result is the NCHW result transposed, bit for bit (the forward, and the two gradients of a training plan).
TEST(ConvCpu, NhwcIsTheTransposedNchwConvolution) {
  Context& ctx = Context::cpu();
  for (const ConvShape& s : resnet_kinds()) {
    SCOPED_TRACE(s.str());
    ConvOptions options;
    const ConvPlan nchw_plan = kernels::make_conv_plan(ctx, s, options);
    options.layout = Layout::nhwc;
    const ConvPlan nhwc_plan = kernels::make_conv_plan(ctx, s, options);
    const std::vector<float> x = random_floats(x_count(s), -1, 1, 42), w = random_floats(w_count(s), -1, 1, 43);
    const std::vector<float> dy = random_floats(y_count(s), -1, 1, 44);
    const std::int64_t p = s.out_h() * s.out_w(), hw = s.h * s.w, rs = s.r * s.s;
    const std::vector<float> x_nhwc = relaid(x, Layout::nchw, Layout::nhwc, s.n, s.c, hw);
    const std::vector<float> w_nhwc = relaid(w, Layout::nchw, Layout::nhwc, s.k, s.c, rs);
    const std::vector<float> dy_nhwc = relaid(dy, Layout::nchw, Layout::nhwc, s.n, s.k, p);
    std::vector<float> y(y_count(s)), y_nhwc(y_count(s)), dx(x_count(s)), dx_nhwc(x_count(s)), dw(w_count(s)),
        dw_nhwc(w_count(s));
    kernels::conv2d_forward(ctx, nchw_plan, x.data(), w.data(), y.data());
    kernels::conv2d_forward(ctx, nhwc_plan, x_nhwc.data(), w_nhwc.data(), y_nhwc.data());
    EXPECT_EQ(y_nhwc, relaid(y, Layout::nchw, Layout::nhwc, s.n, s.k, p));
    kernels::conv2d_backward_data(ctx, nchw_plan, dy.data(), w.data(), dx.data());
    kernels::conv2d_backward_data(ctx, nhwc_plan, dy_nhwc.data(), w_nhwc.data(), dx_nhwc.data());
    EXPECT_EQ(dx_nhwc, relaid(dx, Layout::nchw, Layout::nhwc, s.n, s.c, hw));
    kernels::conv2d_backward_filter(ctx, nchw_plan, x.data(), dy.data(), dw.data());
    kernels::conv2d_backward_filter(ctx, nhwc_plan, x_nhwc.data(), dy_nhwc.data(), dw_nhwc.data());
    EXPECT_EQ(dw_nhwc, relaid(dw, Layout::nchw, Layout::nhwc, s.k, s.c, rs));
  }
}

// Values rounded to bf16, and bf16 values widened to float (exactly).
std::vector<bf16> round(const std::vector<float>& v) {
  std::vector<bf16> b(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) b[i] = bf16(v[i]);
  return b;
}
std::vector<float> widen(const std::vector<bf16>& b) { return std::vector<float>(b.begin(), b.end()); }

// `values` in the storage type T (float, or bf16 rounded once).
template <typename T>
std::vector<T> stored_as(const std::vector<float>& values) {
  if constexpr (std::is_same_v<T, bf16>) {
    return round(values);
  } else {
    return values;
  }
}

// A training plan (gradient passes planned) may declare its forward's epilogue (the CNN's fused step does). On the
// CPU twin it plans the same algorithm and workspace for every pass as the plan undeclared, and its three passes give
// the same bits, in float and bf16, NCHW and NHWC, bias and bias + ReLU. What it still refuses, each with one line
// naming the shape: the plain forward and a call with another epilogue; a forward-only plan refuses the gradients.
TEST(ConvPlan, DeclaredEpilogueTrainingPlanRunsEveryPassAsTheUndeclaredPlan) {
  Context& ctx = Context::cpu();
  const ConvShape s = make_shape(2, 8, 6, 6, 16, 3, 3, 1, 1, 1, 1);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 41), w = random_floats(w_count(s), -1, 1, 42),
                           bias = random_floats(std::size_t(s.k), -1, 1, 43),
                           dy = random_floats(y_count(s), -1, 1, 44);
  const auto check = [&](auto type, Precision precision, Layout layout, kernels::ConvEpilogue epilogue) {
    using T = decltype(type);
    SCOPED_TRACE(std::string(precision_name(precision)) + " " + layout_name(layout) + " " +
                 kernels::conv_epilogue_name(epilogue));
    ConvOptions undeclared;
    undeclared.precision = precision, undeclared.layout = layout;
    ConvOptions declared = undeclared;
    declared.epilogue = epilogue;
    const ConvPlan plan = kernels::make_conv_plan(ctx, s, declared);
    const ConvPlan reference = kernels::make_conv_plan(ctx, s, undeclared);
    for (kernels::ConvPass pass :
         {kernels::ConvPass::forward, kernels::ConvPass::backward_data, kernels::ConvPass::backward_filter})
      EXPECT_TRUE(plan.of(pass) == reference.of(pass)) << kernels::conv_pass_name(pass);
    EXPECT_FALSE(plan.fused_relu || plan.fused_identity) << "the CPU twin never fuses";
    const bool relu = kernels::conv_epilogue_has_relu(epilogue);
    const std::vector<T> xt = stored_as<T>(x), wt = stored_as<T>(w), bt = stored_as<T>(bias), dyt = stored_as<T>(dy);
    std::vector<T> y(y_count(s)), y_ref(y_count(s)), dx(x_count(s)), dx_ref(x_count(s)), dw(w_count(s)),
        dw_ref(w_count(s));
    kernels::conv2d_bias_activation_forward(ctx, plan, xt.data(), wt.data(), bt.data(), nullptr, relu, y.data());
    kernels::conv2d_bias_activation_forward(ctx, reference, xt.data(), wt.data(), bt.data(), nullptr, relu,
                                            y_ref.data());
    kernels::conv2d_backward_data(ctx, plan, dyt.data(), wt.data(), dx.data());
    kernels::conv2d_backward_data(ctx, reference, dyt.data(), wt.data(), dx_ref.data());
    kernels::conv2d_backward_filter(ctx, plan, xt.data(), dyt.data(), dw.data());
    kernels::conv2d_backward_filter(ctx, reference, xt.data(), dyt.data(), dw_ref.data());
    const auto same_bits = [](const std::vector<T>& a, const std::vector<T>& b) {
      return std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
    };
    EXPECT_TRUE(same_bits(y, y_ref)) << "forward";
    EXPECT_TRUE(same_bits(dx, dx_ref)) << "data gradient";
    EXPECT_TRUE(same_bits(dw, dw_ref)) << "filter gradient";
    const auto refused = [&](const std::function<void()>& call, const std::string& expected) {
      expect_refused_naming(call, expected, s);
    };
    refused([&] { kernels::conv2d_forward(ctx, plan, xt.data(), wt.data(), y.data()); },
            std::string("declared for the epilogue ") + kernels::conv_epilogue_name(epilogue));
    refused([&] { kernels::conv2d_bias_activation_forward(ctx, plan, xt.data(), wt.data(), bt.data(), nullptr, !relu,
                                                          y.data()); },
            std::string("the plan was declared for ") + kernels::conv_epilogue_name(epilogue));
    declared.forward_only = true;
    const ConvPlan inference = kernels::make_conv_plan(ctx, s, declared);
    refused([&] { kernels::conv2d_backward_data(ctx, inference, dyt.data(), wt.data(), dx.data()); },
            "conv2d_backward_data with a forward-only plan");
  };
  for (kernels::ConvEpilogue e : {kernels::ConvEpilogue::bias, kernels::ConvEpilogue::bias_relu}) {
    check(float{}, Precision::fp32, Layout::nchw, e);
    check(float{}, Precision::tf32, Layout::nhwc, e);
    check(bf16{}, Precision::bf16, Layout::nhwc, e);
  }
}

// Zero-padded channels (ResNet-50's stem: 3 -> 4 or 8 in NHWC, zero inputs there and zero weights) give the
// unpadded convolution bit for bit on the CPU twin, float and bf16: the extra terms are exact zeros at the end of
// every FMA chain.
TEST(ConvCpu, ZeroPaddedChannelsAreExact) {
  Context& ctx = Context::cpu();
  const ConvShape s = make_shape(2, 3, 19, 19, 8, 7, 7, 3, 3, 2, 2);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 44), w = random_floats(w_count(s), -1, 1, 45);
  const std::vector<float> bias = random_floats(std::size_t(s.k), -1, 1, 46);
  for (std::int64_t padded_c : {4, 8}) {
    ConvShape p = s;
    p.c = padded_c;
    // x (N, H, W, C') and w (K, R, S, C'), zero past channel 3.
    std::vector<float> xp(x_count(p), 0.0f), wp(w_count(p), 0.0f);
    const std::vector<float> x_nhwc = relaid(x, Layout::nchw, Layout::nhwc, s.n, s.c, s.h * s.w);
    const std::vector<float> w_nhwc = relaid(w, Layout::nchw, Layout::nhwc, s.k, s.c, s.r * s.s);
    for (std::size_t i = 0; i < x_nhwc.size(); ++i) xp[i / 3 * std::size_t(padded_c) + i % 3] = x_nhwc[i];
    for (std::size_t i = 0; i < w_nhwc.size(); ++i) wp[i / 3 * std::size_t(padded_c) + i % 3] = w_nhwc[i];
    for (Precision precision : {Precision::fp32, Precision::bf16}) {
      SCOPED_TRACE(std::to_string(padded_c) + " channels, " + precision_name(precision));
      ConvOptions options;
      options.forward_only = true, options.layout = Layout::nhwc, options.precision = precision;
      options.epilogue = kernels::ConvEpilogue::bias_relu;
      const ConvPlan plain = kernels::make_conv_plan(ctx, s, options), pad = kernels::make_conv_plan(ctx, p, options);
      if (precision == Precision::fp32) {
        std::vector<float> y(y_count(s)), yp(y_count(s));
        kernels::conv2d_bias_activation_forward(ctx, plain, x_nhwc.data(), w_nhwc.data(), bias.data(), nullptr, true,
                                                y.data());
        kernels::conv2d_bias_activation_forward(ctx, pad, xp.data(), wp.data(), bias.data(), nullptr, true, yp.data());
        EXPECT_EQ(yp, y);
      } else {
        std::vector<bf16> y(y_count(s)), yp(y_count(s));
        const std::vector<bf16> bias16 = round(bias);
        kernels::conv2d_bias_activation_forward(ctx, plain, round(x_nhwc).data(), round(w_nhwc).data(),
                                                bias16.data(), nullptr, true, y.data());
        kernels::conv2d_bias_activation_forward(ctx, pad, round(xp).data(), round(wp).data(), bias16.data(),
                                                nullptr, true, yp.data());
        for (std::size_t i = 0; i < y.size(); ++i) ASSERT_EQ(yp[i].bits, y[i].bits) << i;
      }
    }
  }
}

// The bf16 CPU forward is the float forward on the bf16 values with the output rounded once. Against the float
// convolution on the unrounded values, each output is within
//   2^-8 * sum_i |x_i| |w_i|  (x and w rounded: each product off by at most (1 + 2^-9)^2 - 1 < 2^-8 relative)
// + 2^-8 * |y|               (the output rounding, 2^-9 relative, doubled for the float sums' own rounding).
TEST(ConvCpu, Bf16IsTheFloatConvolutionOfTheRoundedValues) {
  Context& ctx = Context::cpu();
  const auto absolute_floats = [](std::vector<float> v) {
    for (float& x : v) x = std::abs(x);
    return v;
  };
  for (const ConvShape& s : resnet_kinds()) {
    SCOPED_TRACE(s.str());
    ConvOptions options;
    options.forward_only = true;
    options.layout = Layout::nhwc;
    const ConvPlan f32_plan = kernels::make_conv_plan(ctx, s, options);
    options.precision = Precision::bf16;
    const ConvPlan bf16_plan = kernels::make_conv_plan(ctx, s, options);
    EXPECT_FALSE(kernels::conv_epilogue_fused(bf16_plan, true));
    const std::vector<float> x = random_floats(x_count(s), -1, 1, 50), w = random_floats(w_count(s), -1, 1, 51);
    const std::vector<bf16> xb = round(x), wb = round(w);
    std::vector<float> exact(y_count(s)), on_rounded(y_count(s)), magnitude(y_count(s));
    kernels::conv2d_forward(ctx, f32_plan, x.data(), w.data(), exact.data());
    kernels::conv2d_forward(ctx, f32_plan, widen(xb).data(), widen(wb).data(), on_rounded.data());
    kernels::conv2d_forward(ctx, f32_plan, absolute_floats(x).data(), absolute_floats(w).data(), magnitude.data());
    std::vector<bf16> y(y_count(s));
    kernels::conv2d_forward(ctx, bf16_plan, xb.data(), wb.data(), y.data());
    for (std::size_t i = 0; i < y.size(); ++i) {
      EXPECT_EQ(y[i].bits, bf16(on_rounded[i]).bits) << i;
      EXPECT_LE(std::abs(float(y[i]) - exact[i]), std::ldexp(magnitude[i] + std::abs(exact[i]), -8)) << i;
    }
    EXPECT_THROW(kernels::conv2d_forward(ctx, bf16_plan, x.data(), w.data(), exact.data()), Error);
  }
}

// The bf16 gradients (a bf16 training plan, NHWC) are the float gradients of the bf16 values, rounded once.
TEST(ConvCpu, Bf16GradientsAreTheFloatGradientsOfTheRoundedValuesRounded) {
  Context& ctx = Context::cpu();
  for (const ConvShape& s : resnet_kinds()) {
    SCOPED_TRACE(s.str());
    ConvOptions options;
    options.layout = Layout::nhwc;
    const ConvPlan f32_plan = kernels::make_conv_plan(ctx, s, options);
    options.precision = Precision::bf16;
    const ConvPlan bf16_plan = kernels::make_conv_plan(ctx, s, options);
    const std::vector<bf16> x = round(random_floats(x_count(s), -1, 1, 52)), w = round(random_floats(w_count(s), -1, 1, 53));
    const std::vector<bf16> dy = round(random_floats(y_count(s), -1, 1, 54));
    std::vector<float> dx(x_count(s)), dw(w_count(s));
    kernels::conv2d_backward_data(ctx, f32_plan, widen(dy).data(), widen(w).data(), dx.data());
    kernels::conv2d_backward_filter(ctx, f32_plan, widen(x).data(), widen(dy).data(), dw.data());
    std::vector<bf16> dx_b(x_count(s)), dw_b(w_count(s));
    kernels::conv2d_backward_data(ctx, bf16_plan, dy.data(), w.data(), dx_b.data());
    kernels::conv2d_backward_filter(ctx, bf16_plan, x.data(), dy.data(), dw_b.data());
    for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_EQ(dx_b[i].bits, bf16(dx[i]).bits) << "dx " << i;
    for (std::size_t i = 0; i < dw.size(); ++i) ASSERT_EQ(dw_b[i].bits, bf16(dw[i]).bits) << "dw " << i;
    std::vector<float> wrong(x_count(s));
    EXPECT_THROW(kernels::conv2d_backward_data(ctx, bf16_plan, widen(dy).data(), widen(w).data(), wrong.data()), Error)
        << "float data with a bf16 plan";
  }
}

// Gradient checks of both backward passes in double: conv is linear, so the central difference is exact up to
// rounding and the checker's default tolerance (1e-6 of max(1, |gradient|)) applies as stated there.
std::vector<ConvShape> gradcheck_shapes() {
  return {make_shape(2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1), make_shape(1, 2, 7, 5, 3, 3, 2, 1, 0, 2, 1),
          make_shape(2, 2, 6, 6, 3, 1, 1, 0, 0, 2, 2)};
}

TEST(ConvReference, BackwardDataMatchesCentralDifferences) {
  for (const ConvShape& s : gradcheck_shapes()) {
    SCOPED_TRACE(s.str());
    const std::vector<double> x = testing::random_doubles(x_count(s), -1, 1, 21);
    const std::vector<double> w = testing::random_doubles(w_count(s), -1, 1, 22);
    const testing::Forward forward = [&](const std::vector<double>& xv) {
      std::vector<double> y(y_count(s));
      kernels::reference::conv2d_forward(s, xv.data(), w.data(), y.data());
      return y;
    };
    const testing::Backward backward = [&](const std::vector<double>&, const std::vector<double>& dy) {
      std::vector<double> dx(x_count(s));
      kernels::reference::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
      return dx;
    };
    EXPECT_EQ(testing::check_gradient(forward, backward, x), static_cast<int>(x.size()));
  }
}

TEST(ConvReference, BackwardFilterMatchesCentralDifferences) {
  for (const ConvShape& s : gradcheck_shapes()) {
    SCOPED_TRACE(s.str());
    const std::vector<double> x = testing::random_doubles(x_count(s), -1, 1, 31);
    const std::vector<double> w = testing::random_doubles(w_count(s), -1, 1, 32);
    const testing::Forward forward = [&](const std::vector<double>& wv) {
      std::vector<double> y(y_count(s));
      kernels::reference::conv2d_forward(s, x.data(), wv.data(), y.data());
      return y;
    };
    const testing::Backward backward = [&](const std::vector<double>&, const std::vector<double>& dy) {
      std::vector<double> dw(w_count(s));
      kernels::reference::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
      return dw;
    };
    EXPECT_EQ(testing::check_gradient(forward, backward, w), static_cast<int>(w.size()));
  }
}

// PyTorch as an independent oracle for all three passes (float64, CPU), when the oracle interpreter has torch.
// Both sides compute in double; 1e-12 of the magnitude covers the different summation orders.
constexpr const char* kTorchScript = R"(
import sys, numpy as np, torch
d = sys.argv[1]
n, c, h, w, k, r, s, ph, pw, sh, sw = map(int, sys.argv[2:])
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float64).reshape(n, c, h, w)).requires_grad_(True)
wt = torch.from_numpy(np.fromfile(d + '/w.bin', dtype=np.float64).reshape(k, c, r, s)).requires_grad_(True)
y = torch.nn.functional.conv2d(x, wt, stride=(sh, sw), padding=(ph, pw))
dy = torch.from_numpy(np.fromfile(d + '/dy.bin', dtype=np.float64).reshape(y.shape))
y.backward(dy)
y.detach().numpy().tofile(d + '/y.bin')
x.grad.numpy().tofile(d + '/dx.bin')
wt.grad.numpy().tofile(d + '/dw.bin')
)";

void write_doubles(const std::filesystem::path& path, const std::vector<double>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
}

std::vector<double> read_doubles(const std::filesystem::path& path, std::size_t count) {
  std::vector<double> v(count);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(double)));
  EXPECT_EQ(static_cast<std::size_t>(in.gcount()), count * sizeof(double)) << path;
  return v;
}

TEST(ConvReference, MatchesPyTorchWhereAvailable) {
  if (!testing::torch_unavailable_reason().empty()) GTEST_SKIP() << testing::torch_unavailable_reason();
  const std::string python = testing::python_interpreter();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rosetta_conv_oracle_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "oracle.py") << kTorchScript;
  for (const ConvShape& s : {make_shape(2, 3, 7, 6, 4, 3, 2, 1, 0, 2, 1), make_shape(1, 4, 11, 11, 5, 7, 7, 3, 3, 2, 2),
                             make_shape(3, 5, 6, 6, 2, 1, 1, 0, 0, 1, 1)}) {
    SCOPED_TRACE(s.str());
    const std::vector<double> x = testing::random_doubles(x_count(s), -1, 1, 41);
    const std::vector<double> w = testing::random_doubles(w_count(s), -1, 1, 42);
    const std::vector<double> dy = testing::random_doubles(y_count(s), -1, 1, 43);
    write_doubles(dir / "x.bin", x), write_doubles(dir / "w.bin", w), write_doubles(dir / "dy.bin", dy);
    std::string command = std::string(python) + " " + (dir / "oracle.py").string() + " " + dir.string();
    for (std::int64_t v : {s.n, s.c, s.h, s.w, s.k, s.r, s.s, std::int64_t(s.pad_h), std::int64_t(s.pad_w),
                           std::int64_t(s.stride_h), std::int64_t(s.stride_w)})
      command += " " + std::to_string(v);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::vector<double> y(y_count(s)), dx(x_count(s)), dw(w_count(s)), my(y.size()), mdx(dx.size()), mdw(dw.size());
    const std::vector<double> ax = absolute(x), aw = absolute(w), ady = absolute(dy);
    kernels::reference::conv2d_forward(s, x.data(), w.data(), y.data());
    kernels::reference::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
    kernels::reference::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
    kernels::reference::conv2d_forward(s, ax.data(), aw.data(), my.data());
    kernels::reference::conv2d_backward_data(s, ady.data(), aw.data(), mdx.data());
    kernels::reference::conv2d_backward_filter(s, ax.data(), ady.data(), mdw.data());
    const std::vector<double> ty = read_doubles(dir / "y.bin", y.size()), tdx = read_doubles(dir / "dx.bin", dx.size()),
                              tdw = read_doubles(dir / "dw.bin", dw.size());
    for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ty[i], 1e-12 * my[i]) << "y " << i;
    for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], tdx[i], 1e-12 * mdx[i]) << "dx " << i;
    for (std::size_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw[i], tdw[i], 1e-12 * mdw[i]) << "dw " << i;
  }
  std::filesystem::remove_all(dir);
}

#if ROSETTA_WITH_CUDA
using kernels::cuda::ConvAlgorithmCache;
using kernels::ConvAlgorithmChoice;
using kernels::ConvBackend;
using kernels::cuda::CachedConvChoice;
using kernels::cuda::ConvAlgorithmKey;
using kernels::cuda::ConvCacheIdentity;
using kernels::ConvPass;
using kernels::cuda::make_conv_algorithm_key;

// The algorithm cache's key and file need no GPU: they run wherever CUDA code is built.
TEST(ConvAlgorithmKey, EqualForEqualInputsAndDifferentForEveryField) {
  const ConvShape base = make_shape(64, 3, 32, 32, 50, 3, 3, 1, 1, 1, 1);
  const ConvOptions options;
  const ConvAlgorithmKey key = make_conv_algorithm_key(0, base, options, ConvPass::forward);
  EXPECT_EQ(key, make_conv_algorithm_key(0, base, options, ConvPass::forward));
  EXPECT_EQ(kernels::cuda::ConvAlgorithmKeyHash{}(key),
            kernels::cuda::ConvAlgorithmKeyHash{}(make_conv_algorithm_key(0, base, options, ConvPass::forward)));

  std::vector<ConvAlgorithmKey> variants;
  variants.push_back(make_conv_algorithm_key(1, base, options, ConvPass::forward));
  variants.push_back(make_conv_algorithm_key(0, base, options, ConvPass::backward_data));
  variants.push_back(make_conv_algorithm_key(0, base, options, ConvPass::backward_filter));
  const auto with = [&](auto change) {
    ConvShape s = base;
    change(s);
    variants.push_back(make_conv_algorithm_key(0, s, options, ConvPass::forward));
  };
  with([](ConvShape& s) { s.n = 32; });
  with([](ConvShape& s) { s.c = 4; });
  with([](ConvShape& s) { s.h = 31; });
  with([](ConvShape& s) { s.w = 31; });
  with([](ConvShape& s) { s.k = 51; });
  with([](ConvShape& s) { s.r = 1; });
  with([](ConvShape& s) { s.s = 1; });
  with([](ConvShape& s) { s.pad_h = 0; });
  with([](ConvShape& s) { s.pad_w = 0; });
  with([](ConvShape& s) { s.stride_h = 2; });
  with([](ConvShape& s) { s.stride_w = 2; });
  ConvOptions tf32;
  tf32.precision = Precision::tf32;
  variants.push_back(make_conv_algorithm_key(0, base, tf32, ConvPass::forward));
  ConvOptions bf16;  // bf16 data (data_type) and precision both change
  bf16.precision = Precision::bf16;
  bf16.layout = Layout::nhwc;
  ConvOptions nhwc;
  nhwc.layout = Layout::nhwc;
  EXPECT_NE(make_conv_algorithm_key(0, base, bf16, ConvPass::forward).data_type,
            make_conv_algorithm_key(0, base, nhwc, ConvPass::forward).data_type);
  variants.push_back(make_conv_algorithm_key(0, base, bf16, ConvPass::forward));
  ConvOptions deterministic;
  deterministic.deterministic = true;
  variants.push_back(make_conv_algorithm_key(0, base, deterministic, ConvPass::forward));
  for (int e = 1; e < kernels::kConvEpilogueCount; ++e) {  // each declared epilogue builds another fused kernel
    ConvOptions declared;
    declared.epilogue = static_cast<kernels::ConvEpilogue>(e);
    variants.push_back(make_conv_algorithm_key(0, base, declared, ConvPass::forward));
    // The epilogue is the forward's: a training plan's gradient passes share the undeclared plan's entries.
    for (ConvPass pass : {ConvPass::backward_data, ConvPass::backward_filter})
      EXPECT_EQ(make_conv_algorithm_key(0, base, declared, pass), make_conv_algorithm_key(0, base, ConvOptions{}, pass))
          << kernels::conv_epilogue_name(declared.epilogue) << " " << kernels::conv_pass_name(pass);
  }
  for (ConvBackend forced : {ConvBackend::cudnn, ConvBackend::cudnn_graph, ConvBackend::cublaslt}) {
    ConvOptions request;  // a forced backend (the ablation) is searched and cached apart from the free choice
    request.backend = forced;
    variants.push_back(make_conv_algorithm_key(0, base, request, ConvPass::forward));
  }
  ConvOptions heuristics;  // autotune is not part of the key: only searched choices are cached
  heuristics.autotune = false;
  EXPECT_EQ(key, make_conv_algorithm_key(0, base, heuristics, ConvPass::forward));
  ConvOptions forward_only;  // nor is forward_only: the pass is
  forward_only.forward_only = true;
  EXPECT_EQ(key, make_conv_algorithm_key(0, base, forward_only, ConvPass::forward));

  for (std::size_t i = 0; i < variants.size(); ++i) {
    EXPECT_NE(key, variants[i]) << "variant " << i;
    for (std::size_t j = i + 1; j < variants.size(); ++j) EXPECT_NE(variants[i], variants[j]) << i << " vs " << j;
  }
}

// A fresh temporary file path per test, removed afterwards.
class ConvCacheFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("rosetta_conv_cache_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "nested" / "conv-algos.json").string(); }
  void write(const std::string& text) const {
    std::filesystem::create_directories(dir_ / "nested");
    std::ofstream(path()) << text;
  }
  std::filesystem::path dir_;
};

const ConvCacheIdentity kH100{"NVIDIA H100 80GB HBM3", "9.19.0"};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Three entries: an fp32 legacy cuDNN forward with its Find-ranked candidates, a tf32 filter gradient, and a bf16
// NHWC forward declared for its epilogue whose choice is cuBLASLt's, beside a graph-API and a legacy candidate.
void fill_three_entries(ConvAlgorithmCache& cache) {
  ConvOptions tf32;
  tf32.precision = Precision::tf32;
  ConvAlgorithmChoice a;
  a.backend = ConvBackend::cudnn, a.algo = 1, a.math_type = 3, a.workspace_bytes = 0, a.time_ms = 0.125f;
  a.find_time_ms = 0.25f, a.deterministic = true;
  ConvAlgorithmChoice a2 = a;
  a2.algo = 0, a2.time_ms = 0.5f, a2.find_time_ms = 0.2f;
  ConvAlgorithmChoice b;
  b.backend = ConvBackend::cudnn, b.algo = 5, b.math_type = 1, b.workspace_bytes = 123456789012ULL, b.time_ms = 1.5f;
  b.deterministic = false;
  cache.insert(make_conv_algorithm_key(0, make_shape(64, 3, 32, 32, 50, 3, 3, 1, 1, 1, 1), {}, ConvPass::forward),
               CachedConvChoice{a, {a, a2}});
  cache.insert(
      make_conv_algorithm_key(0, make_shape(32, 64, 56, 56, 64, 7, 5, 3, 2, 2, 1), tf32, ConvPass::backward_filter),
      CachedConvChoice{b, {}});
  ConvOptions bf16;
  bf16.precision = Precision::bf16, bf16.layout = Layout::nhwc, bf16.forward_only = true;
  bf16.epilogue = kernels::ConvEpilogue::bias_residual_relu;
  ConvAlgorithmChoice lt, graph, legacy;
  lt.backend = ConvBackend::cublaslt, lt.algo = 21, lt.variant = 2, lt.time_ms = 0.041f;
  graph.backend = ConvBackend::cudnn_graph, graph.algo = 12, graph.variant = 0, graph.workspace_bytes = 4096;
  graph.time_ms = 0.05f;
  legacy.backend = ConvBackend::cudnn, legacy.algo = 1, legacy.math_type = 1, legacy.time_ms = 0.09f;
  legacy.find_time_ms = 0.2f;
  cache.insert(make_conv_algorithm_key(0, make_shape(32, 64, 56, 56, 256, 1, 1, 0, 0, 1, 1), bf16, ConvPass::forward),
               CachedConvChoice{lt, {lt, graph, legacy}});
}

TEST_F(ConvCacheFile, RoundTripsEveryEntryAndCreatesTheFolder) {
  ConvAlgorithmCache written, read;
  fill_three_entries(written);
  written.save(path(), kH100);
  EXPECT_TRUE(std::filesystem::exists(path()));
  EXPECT_FALSE(std::filesystem::exists(path() + ".tmp"));
  const kernels::ConvCacheLoad load = read.load(path(), kH100);
  EXPECT_EQ(load.entries, 3u);
  EXPECT_EQ(load.note, "");
  EXPECT_FALSE(load.rejected);
  EXPECT_EQ(read.entries(), written.entries());
  const std::string text = read_text(path());
  for (const char* named : {"\"backend\": \"cublaslt\"", "\"backend\": \"cudnn-graph\"", "\"find_time_ms\": 0.25",
                            "\"epilogue\": \"bias+residual+relu\"", "\"version\": 2"})
    EXPECT_NE(text.find(named), std::string::npos) << named;
  // Saving again replaces the file (the rename path when the target exists).
  written.save(path(), kH100);
  EXPECT_EQ(ConvAlgorithmCache().load(path(), kH100).entries, 3u);
}

TEST_F(ConvCacheFile, FileOfAnotherGpuOrCudnnIsRejectedWithANote) {
  ConvAlgorithmCache written;
  fill_three_entries(written);
  written.save(path(), kH100);
  for (const ConvCacheIdentity& other :
       {ConvCacheIdentity{"NVIDIA H200", "9.19.0"}, ConvCacheIdentity{"NVIDIA H100 80GB HBM3", "9.20.0"}}) {
    ConvAlgorithmCache read;
    const kernels::ConvCacheLoad load = read.load(path(), other);
    EXPECT_EQ(load.entries, 0u);
    EXPECT_TRUE(load.rejected);
    EXPECT_EQ(read.size(), 0u);
    EXPECT_NE(load.note.find("ignored"), std::string::npos) << load.note;
    EXPECT_NE(load.note.find(other.gpu), std::string::npos) << load.note;
    EXPECT_NE(load.note.find(other.cudnn), std::string::npos) << load.note;
    EXPECT_NE(load.note.find("searching afresh"), std::string::npos) << load.note;
  }
}

TEST_F(ConvCacheFile, MissingFileLoadsNothingWithoutError) {
  ConvAlgorithmCache read;
  const kernels::ConvCacheLoad load = read.load(path(), kH100);
  EXPECT_EQ(load.entries, 0u);
  EXPECT_FALSE(load.rejected);
  EXPECT_NE(load.note.find(path()), std::string::npos) << load.note;
}

// A corrupt file, or one of format version 1 (before backends and candidates), is rejected with one line naming the
// file and why, adds nothing and throws nothing: the search starts afresh and the save overwrites it.
TEST_F(ConvCacheFile, CorruptOrOldVersionFileIsRejectedWithOneLine) {
  ConvAlgorithmCache good;
  fill_three_entries(good);
  good.save(path(), kH100);
  const std::string valid = read_text(path());
  const auto expect_rejected = [&](const std::string& text, const std::string& expected) {
    write(text);
    ConvAlgorithmCache read;
    const kernels::ConvCacheLoad load = read.load(path(), kH100);
    EXPECT_TRUE(load.rejected) << text;
    EXPECT_EQ(load.entries, 0u);
    EXPECT_EQ(read.size(), 0u) << "a bad file must add nothing";
    EXPECT_NE(load.note.find(path()), std::string::npos) << load.note;
    EXPECT_NE(load.note.find(expected), std::string::npos) << load.note;
    EXPECT_EQ(load.note.find('\n'), std::string::npos) << load.note;
  };
  expect_rejected("{\"format\": \"rosetta-conv-algorithms\", \"version\": 2, ", "not valid JSON");
  expect_rejected("[1, 2, 3]", "not a rosetta conv algorithm cache");
  expect_rejected(std::string("\0\x01\xff garbage", 11), "not valid JSON");
  std::string version1 = valid;
  version1.replace(version1.find("\"version\": 2"), 12, "\"version\": 1");
  expect_rejected(version1, "format version 1, this rosetta reads version 2");
  std::string bad_n = valid;
  bad_n.replace(bad_n.find("\"n\": 64"), 7, "\"n\": \"64\"");  // sorted by key bytes: the fp32 forward is first
  expect_rejected(bad_n, "entries[0].n");
  std::string tf32_math_in_fp32 = valid;  // the first entry is fp32: only CUDNN_FMA_MATH (3) may run it
  tf32_math_in_fp32.replace(tf32_math_in_fp32.find("\"math_type\": 3"), 14, "\"math_type\": 1");
  expect_rejected(tf32_math_in_fp32, "math_type");
  // Loading a good file afterwards still works: a rejection leaves nothing behind.
  write(valid);
  EXPECT_EQ(ConvAlgorithmCache().load(path(), kH100).entries, 3u);
}

// The GPU check's summary of the candidates (bench/report/conv_candidates.py) reads the file the cache writes: Find's
// figure beside the event-timed one, the backends chosen.
TEST_F(ConvCacheFile, TheCandidatesReportReadsTheFile) {
  ConvAlgorithmCache written;
  fill_three_entries(written);
  written.save(path(), kH100);
  const std::string log = (dir_ / "report.log").string();
  ASSERT_EQ(testing::run_command(testing::python_interpreter() + " '" + testing::source_dir() +
                                     "/bench/report/conv_candidates.py' '" + path() + "'",
                                 log),
            0)
      << testing::read_file(log);
  const std::string text = testing::read_file(log);
  for (const char* expected : {"cublaslt 21 #2", "cudnn-graph 12 #0", "Find's fastest legacy algorithm was also the "
                                                                      "fastest by CUDA events in 0 of 1 entries",
                               "| fp32 | NCHW | 64 | auto | cudnn 1 |", "| bf16 | NHWC | 32 | auto | cublaslt 1 |"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
}

TEST(ConvCuda, PassWithACpuContextNamesTheShape) {
  const ConvShape s = make_shape(2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1);
  const ConvPlan plan = kernels::make_conv_plan(Context::cpu(), s, {});
  try {
    kernels::cuda::conv2d_forward(Context::cpu(), plan, static_cast<const float*>(nullptr), nullptr,
                                  static_cast<float*>(nullptr));
    ADD_FAILURE() << "a CPU plan ran on the CUDA twin";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(s.str()), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// GPU cases.

struct GpuResult {
  std::vector<float> y, dx, dw;
};

// Runs the three cuDNN passes of `plan` on the inputs; outputs are poisoned with NaN first, so an unwritten
// element fails every comparison.
GpuResult run_cudnn(const ConvPlan& plan, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& dy) {
  const ConvShape& s = plan.shape;
  Context& gpu = Context::cuda();
  const Tensor xd = Tensor::from_vector({std::int64_t(x.size())}, x).to(Device::cuda);
  const Tensor wd = Tensor::from_vector({std::int64_t(w.size())}, w).to(Device::cuda);
  const Tensor dyd = Tensor::from_vector({std::int64_t(dy.size())}, dy).to(Device::cuda);
  Tensor yd = Tensor::empty({std::int64_t(y_count(s))}, DType::f32, Device::cuda);
  Tensor dxd = Tensor::empty({std::int64_t(x_count(s))}, DType::f32, Device::cuda);
  Tensor dwd = Tensor::empty({std::int64_t(w_count(s))}, DType::f32, Device::cuda);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Tensor* t : {&yd, &dxd, &dwd}) kernels::fill(gpu, t->data<float>(), nan, t->numel());
  kernels::conv2d_forward(gpu, plan, xd.data<float>(), wd.data<float>(), yd.data<float>());
  kernels::conv2d_backward_data(gpu, plan, dyd.data<float>(), wd.data<float>(), dxd.data<float>());
  kernels::conv2d_backward_filter(gpu, plan, xd.data<float>(), dyd.data<float>(), dwd.data<float>());
  gpu.synchronize();
  return GpuResult{yd.to_vector(), dxd.to_vector(), dwd.to_vector()};
}

ConvOptions options_of(Precision precision, bool autotune) {
  ConvOptions options;
  options.precision = precision;
  options.autotune = autotune;
  return options;
}

// The CIFAR CNN's four layers at batch 2 (batch only scales the GEMM; the CPU reference stays quick), and
// ResNet-50-like strided, 7x7, 1x1 and non-square shapes.
std::vector<ConvShape> gpu_test_shapes() {
  return {make_shape(2, 3, 32, 32, 50, 3, 3, 1, 1, 1, 1),   make_shape(2, 50, 32, 32, 50, 3, 3, 1, 1, 1, 1),
          make_shape(2, 50, 16, 16, 100, 3, 3, 1, 1, 1, 1), make_shape(2, 100, 16, 16, 100, 3, 3, 1, 1, 1, 1),
          make_shape(2, 3, 56, 56, 16, 7, 7, 3, 3, 2, 2),   make_shape(2, 32, 14, 14, 64, 1, 1, 0, 0, 2, 2),
          make_shape(2, 16, 14, 14, 24, 3, 3, 1, 1, 2, 2),  make_shape(2, 5, 9, 13, 7, 5, 3, 2, 1, 1, 2)};
}

void check_against_reference(Precision precision, double rtol) {
  ROSETTA_REQUIRE_CUDA();
  std::uint64_t seed = 500;
  for (const ConvShape& s : gpu_test_shapes()) {
    const std::vector<float> x = random_floats(x_count(s), -1, 1, ++seed), w = random_floats(w_count(s), -1, 1, ++seed),
                             dy = random_floats(y_count(s), -1, 1, ++seed);
    const Reference ref = reference_passes(s, x, w, dy);
    for (bool autotune : {true, false}) {
      const ConvPlan plan = kernels::make_conv_plan(Context::cuda(), s, options_of(precision, autotune));
      const GpuResult got = run_cudnn(plan, x, w, dy);
      const std::string what =
          std::string(precision_name(precision)) + (autotune ? " autotune " : " heuristics ") + s.str();
      expect_within(got.y, ref.y, ref.y_magnitude, rtol, "forward " + what);
      expect_within(got.dx, ref.dx, ref.dx_magnitude, rtol, "backward-data " + what);
      expect_within(got.dw, ref.dw, ref.dw_magnitude, rtol, "backward-filter " + what);
    }
  }
}

TEST(ConvCuda, Fp32MatchesReference) {
  // 1e-4 of the magnitude: see the tolerance rules at the top of this file.
  check_against_reference(Precision::fp32, 1e-4);
}

TEST(ConvCuda, Tf32MatchesReference) {
  // TF32 keeps 10 mantissa bits and may truncate: each input is off by up to 2^-10 relative, each product by
  // 2^-9 (about 2e-3) of its magnitude. 5e-3 of the magnitude covers that plus FP32 accumulation and transform
  // rounding; fp32 mode (same descriptors and passes) carries the tight check.
  check_against_reference(Precision::tf32, 5e-3);
}

// Inputs 1 + 2^-12 + j * 2^-10 (j = 0..63): exact in FP32, but TF32 (10 mantissa bits) drops the 2^-12, so every
// product loses about 4.5e-4 of itself, all in the same direction. With all terms positive the magnitude is the
// result itself. Strict FP32 algorithms stay near 1e-6 of it; a TF32 kernel would be off by ~4.5e-4; 1e-4 lies
// between with margin both ways.
std::vector<float> tf32_unrepresentable(std::size_t n, std::uint32_t stream) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = 1.0f + std::ldexp(1.0f, -12) + std::ldexp(float(philox_u32(77, stream, i) % 64), -10);
  return v;
}

TEST(ConvCuda, Fp32ModeNeverUsesTf32) {
  ROSETTA_REQUIRE_CUDA();
  std::vector<ConvShape> cnn_shapes = gpu_test_shapes();
  cnn_shapes.resize(4);  // the CIFAR CNN's layers
  for (const ConvShape& s : cnn_shapes) {
    const std::vector<float> x = tf32_unrepresentable(x_count(s), 1), w = tf32_unrepresentable(w_count(s), 2),
                             dy = tf32_unrepresentable(y_count(s), 3);
    const Reference ref = reference_passes(s, x, w, dy);
    for (bool autotune : {true, false}) {
      const ConvPlan plan = kernels::make_conv_plan(Context::cuda(), s, options_of(Precision::fp32, autotune));
      for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
        EXPECT_EQ(plan.of(pass).math_type, std::int32_t(CUDNN_FMA_MATH))
            << kernels::conv_pass_name(pass) << " " << s.str();
      const GpuResult got = run_cudnn(plan, x, w, dy);
      const std::string what = (autotune ? "autotune " : "heuristics ") + s.str();
      expect_within(got.y, ref.y, ref.y_magnitude, 1e-4, "forward " + what);
      expect_within(got.dx, ref.dx, ref.dx_magnitude, 1e-4, "backward-data " + what);
      expect_within(got.dw, ref.dw, ref.dw_magnitude, 1e-4, "backward-filter " + what);
    }
  }
}

TEST(ConvCuda, EveryAlgorithmCudnnFindOffersIsCorrect) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  const ConvShape s = make_shape(2, 50, 16, 16, 50, 3, 3, 1, 1, 1, 1);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 61), w = random_floats(w_count(s), -1, 1, 62),
                           dy = random_floats(y_count(s), -1, 1, 63);
  const Reference ref = reference_passes(s, x, w, dy);
  for (Precision precision : {Precision::fp32, Precision::tf32}) {
    const ConvPlan plan = kernels::make_conv_plan(gpu, s, options_of(precision, true));
    const double rtol = precision == Precision::fp32 ? 1e-4 : 5e-3;  // as in the two tests above
    for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
      const std::vector<ConvAlgorithmChoice> found = kernels::find_conv_algorithms(gpu, plan, pass);
      ASSERT_FALSE(found.empty());
      for (const ConvAlgorithmChoice& choice : found) {
        if (precision == Precision::fp32) {
          EXPECT_EQ(choice.math_type, std::int32_t(CUDNN_FMA_MATH));
        }
        const ConvPlan variant = kernels::conv_plan_with_choice(gpu, plan, pass, choice);
        const GpuResult got = run_cudnn(variant, x, w, dy);
        const std::string what = std::string(precision_name(precision)) + " " + kernels::conv_choice_name(pass, choice);
        if (pass == ConvPass::forward) expect_within(got.y, ref.y, ref.y_magnitude, rtol, "forward " + what);
        if (pass == ConvPass::backward_data)
          expect_within(got.dx, ref.dx, ref.dx_magnitude, rtol, "backward-data " + what);
        if (pass == ConvPass::backward_filter)
          expect_within(got.dw, ref.dw, ref.dw_magnitude, rtol, "backward-filter " + what);
      }
    }
  }
}

TEST(ConvCuda, SecondPlanForSameShapeHitsTheCacheAndAllocatesNothing) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  ConvAlgorithmCache& cache = kernels::cuda::conv_algorithm_cache();
  cache.clear();
  const ConvShape s = make_shape(3, 7, 13, 11, 5, 3, 3, 1, 1, 1, 1);
  const ConvPlan first = kernels::make_conv_plan(gpu, s, options_of(Precision::fp32, true));
  EXPECT_EQ(cache.stats().searched, 1);
  EXPECT_EQ(cache.stats().from_cache, 0);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_GE(gpu.workspace_bytes(), first.workspace_bytes());

  const std::uint64_t allocations = allocation_count();
  const ConvPlan second = kernels::make_conv_plan(gpu, s, options_of(Precision::fp32, true));
  EXPECT_EQ(allocation_count(), allocations) << "a cached plan must not allocate search buffers or workspace";
  EXPECT_EQ(cache.stats().searched, 1);
  EXPECT_EQ(cache.stats().from_cache, 1);
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
    EXPECT_EQ(second.of(pass), first.of(pass)) << kernels::conv_pass_name(pass);

  // The steps themselves allocate nothing either.
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 71), w = random_floats(w_count(s), -1, 1, 72),
                           dy = random_floats(y_count(s), -1, 1, 73);
  const Tensor xd = Tensor::from_vector({std::int64_t(x.size())}, x).to(Device::cuda);
  const Tensor wd = Tensor::from_vector({std::int64_t(w.size())}, w).to(Device::cuda);
  const Tensor dyd = Tensor::from_vector({std::int64_t(dy.size())}, dy).to(Device::cuda);
  Tensor yd = Tensor::empty({std::int64_t(y_count(s))}, DType::f32, Device::cuda);
  Tensor dxd = Tensor::empty({std::int64_t(x_count(s))}, DType::f32, Device::cuda);
  Tensor dwd = Tensor::empty({std::int64_t(w_count(s))}, DType::f32, Device::cuda);
  const std::uint64_t before_steps = allocation_count();
  for (int step = 0; step < 3; ++step) {
    kernels::conv2d_forward(gpu, second, xd.data<float>(), wd.data<float>(), yd.data<float>());
    kernels::conv2d_backward_data(gpu, second, dyd.data<float>(), wd.data<float>(), dxd.data<float>());
    kernels::conv2d_backward_filter(gpu, second, xd.data<float>(), dyd.data<float>(), dwd.data<float>());
  }
  gpu.synchronize();
  EXPECT_EQ(allocation_count(), before_steps);

  // Heuristic plans are not cached and do not count as autotuned.
  kernels::make_conv_plan(gpu, s, options_of(Precision::fp32, false));
  EXPECT_EQ(cache.stats().searched + cache.stats().from_cache, 2);
}

TEST(ConvCuda, SavedCacheFileSkipsTheSearchInALaterRun) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  ConvAlgorithmCache& cache = kernels::cuda::conv_algorithm_cache();
  cache.clear();
  const std::string path =
      (std::filesystem::temp_directory_path() / ("rosetta_conv_algos_" + std::to_string(::getpid()) + ".json"))
          .string();
  const ConvShape s = make_shape(2, 9, 10, 10, 6, 3, 3, 1, 1, 2, 2);
  const ConvPlan searched = kernels::make_conv_plan(gpu, s, options_of(Precision::tf32, true));
  kernels::save_conv_algorithm_cache(gpu, path);

  cache.clear();  // as a new process would start
  const kernels::ConvCacheLoad load = kernels::load_conv_algorithm_cache(gpu, path);
  EXPECT_EQ(load.entries, 3u) << load.note;
  const ConvPlan loaded = kernels::make_conv_plan(gpu, s, options_of(Precision::tf32, true));
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).searched, 0);
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).from_cache, 1);
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    EXPECT_EQ(loaded.of(pass).algo, searched.of(pass).algo);
    EXPECT_EQ(loaded.of(pass).math_type, searched.of(pass).math_type);
  }
  std::filesystem::remove(path);
}

TEST(ConvCuda, DeterministicOptionGivesRepeatableGradients) {
  ROSETTA_REQUIRE_CUDA();
  const ConvShape s = make_shape(8, 50, 16, 16, 50, 3, 3, 1, 1, 1, 1);
  ConvOptions options = options_of(Precision::fp32, true);
  options.deterministic = true;
  const ConvPlan plan = kernels::make_conv_plan(Context::cuda(), s, options);
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter})
    EXPECT_TRUE(plan.of(pass).deterministic) << kernels::conv_pass_name(pass);
  const std::vector<float> x = random_floats(x_count(s), -1, 1, 81), w = random_floats(w_count(s), -1, 1, 82),
                           dy = random_floats(y_count(s), -1, 1, 83);
  const GpuResult a = run_cudnn(plan, x, w, dy), b = run_cudnn(plan, x, w, dy);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.dx, b.dx);
  EXPECT_EQ(a.dw, b.dw);
}
#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
