// The matrix product with its epilogue (kernels/matmul.h): the plain-loop reference against a hand-computed case;
// the CPU twin against the reference in double within the float sum bound, over transposes, padded rows, strided
// batches (ResNet-50's stride-2 1x1 layout), shared operands, each epilogue and the residual; strided gaps in y left
// untouched; bf16 as the float product of the rounded values rounded once; bad shapes refused with the shape in the
// message. On a GPU: every cuBLASLt algorithm the heuristics offer against the CPU twin, a choice remade from its
// position, and misaligned pointers refused (CUDA cases skip without a device; the op table, tests/ops/
// matmul_cases.cpp, checks the planned CUDA product against the CPU twin).
//
// Tolerance rule (as tests/test_gemm.cpp): a float product whose every element is one k-term sum, formed in some
// order, is off by at most gamma_{k+2} * magnitude, gamma_L = L u / (1 - L u), u = 2^-24, magnitude the sum of the
// absolute values of the element's terms (the k products, z and the bias: two more additions).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/reference/matmul.h"
#include "runtime/half.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

using kernels::MatmulEpilogue;
using kernels::MatmulOptions;
using kernels::MatmulPlan;
using kernels::MatmulShape;
using testing::random_floats;

MatmulShape shape_of(std::int64_t m, std::int64_t n, std::int64_t k, bool trans_a, bool trans_b) {
  MatmulShape s;
  s.m = m, s.n = n, s.k = k, s.trans_a = trans_a, s.trans_b = trans_b;
  return s;
}

struct Spans {
  std::int64_t a, b, y;
};
Spans spans(const MatmulShape& s) { return {s.span_a(), s.span_b(), s.span_y()}; }

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

double gamma(std::int64_t terms) {
  const double u = std::ldexp(1.0, -24);
  return double(terms) * u / (1.0 - double(terms) * u);
}

// The positions of y's elements (the others are strided gaps).
std::vector<bool> written(const MatmulShape& s) {
  std::vector<bool> mask(static_cast<std::size_t>(spans(s).y), false);
  for (std::int64_t p = 0; p < s.batch; ++p)
    for (std::int64_t i = 0; i < s.m; ++i)
      for (std::int64_t j = 0; j < s.n; ++j) mask[static_cast<std::size_t>(p * s.batch_stride_y + i * s.row_y() + j)] = true;
  return mask;
}

// a (1..6 as (2, 3)) b (2, 3) as Linear's weight, bias, z: y = relu(a b^T + z + bias) worked out by hand.
TEST(MatmulReference, MatchesHandComputedCase) {
  const MatmulShape s = shape_of(2, 2, 3, false, true);
  const std::vector<double> a{1, 2, 3, 4, 5, 6}, b{1, 0, -1, 2, 1, 0}, bias{0.5, -20}, z{1, 2, 3, 4};
  std::vector<double> y(4);
  kernels::reference::matmul(s, MatmulEpilogue::bias_relu, a.data(), b.data(), bias.data(), z.data(), y.data());
  // a b^T = [[1 - 3, 2 + 2], [4 - 6, 8 + 5]] = [[-2, 4], [-2, 13]]; + z, + bias, relu.
  EXPECT_EQ(y, (std::vector<double>{0.0 /* -2 + 1 + 0.5 < 0 */, 0.0 /* 4 + 2 - 20 */, 1.5, 0.0 /* 13 + 4 - 20 */}));
  kernels::reference::matmul(s, MatmulEpilogue::none, a.data(), b.data(), bias.data(), static_cast<const double*>(nullptr),
                             y.data());
  EXPECT_EQ(y, (std::vector<double>{-2, 4, -2, 13}));
}

struct TwinCase {
  std::string what;
  MatmulShape shape;
  MatmulEpilogue epilogue;
  bool residual;
};

std::vector<TwinCase> twin_cases() {
  std::vector<TwinCase> cases;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      cases.push_back({"transposes", shape_of(37, 29, 45, ta, tb), MatmulEpilogue::bias_relu, true});
  MatmulShape padded = shape_of(13, 17, 19, false, true);
  padded.lda = 24, padded.ldb = 21, padded.ldy = 20;
  cases.push_back({"padded rows", padded, MatmulEpilogue::bias, true});
  // ResNet-50's stride-2 1x1 in NHWC: x (2, 6, 6, 8) to (2, 3, 3, 16): batch (image, output row), every other pixel.
  MatmulShape strided = shape_of(3, 16, 8, false, true);
  strided.lda = 2 * 8, strided.batch = 2 * 3, strided.batch_stride_a = 2 * 6 * 8, strided.batch_stride_y = 3 * 16;
  cases.push_back({"stride-2 1x1", strided, MatmulEpilogue::bias_relu, false});
  // NCHW 1x1: y_n (K, P) = w (K, C) x_n (C, P) per image, w shared; gaps between the images' outputs.
  MatmulShape nchw = shape_of(12, 20, 7, false, false);
  nchw.batch = 3, nchw.batch_stride_b = 7 * 20, nchw.batch_stride_y = 12 * 20 + 5;
  cases.push_back({"nchw 1x1", nchw, MatmulEpilogue::none, false});
  cases.push_back({"plain", shape_of(64, 10, 512, false, true), MatmulEpilogue::none, false});
  return cases;
}

// The CPU twin against the reference in double: every written element within gamma_{k+2} of its magnitude, every
// gap as it was.
TEST(MatmulCpu, FloatTwinMatchesDoubleReferenceWithinFloatSumBound) {
  for (const TwinCase& c : twin_cases()) {
    const MatmulShape& s = c.shape;
    const Spans n = spans(s);
    const std::vector<float> a = random_floats(std::size_t(n.a), -1, 1, 11), b = random_floats(std::size_t(n.b), -1, 1, 12);
    const std::vector<float> bias = random_floats(std::size_t(s.n), -1, 1, 13), z = random_floats(std::size_t(n.y), -2, 2, 14);
    std::vector<float> y(std::size_t(n.y), 7.0f);  // 7: the gaps' value, which must survive
    MatmulOptions options;
    options.epilogue = c.epilogue, options.residual = c.residual;
    const MatmulPlan plan = kernels::make_matmul_plan(Context::cpu(), s, options);
    kernels::matmul(Context::cpu(), plan, a.data(), b.data(), bias.data(), c.residual ? z.data() : nullptr, y.data());

    std::vector<double> expected(std::size_t(n.y)), magnitude(std::size_t(n.y));
    const std::vector<double> ad = to_double(a), bd = to_double(b), biasd = to_double(bias), zd = to_double(z);
    std::vector<double> abs_a(ad), abs_b(bd), abs_bias(biasd), abs_z(zd);
    for (auto* v : {&abs_a, &abs_b, &abs_bias, &abs_z})
      for (double& x : *v) x = std::abs(x);
    kernels::reference::matmul(s, c.epilogue, ad.data(), bd.data(), biasd.data(), c.residual ? zd.data() : nullptr,
                               expected.data());
    // The magnitude: the same sums over absolute values, without the ReLU (it only lowers a value to 0).
    const MatmulEpilogue plain = c.epilogue == MatmulEpilogue::none ? MatmulEpilogue::none : MatmulEpilogue::bias;
    kernels::reference::matmul(s, plain, abs_a.data(), abs_b.data(), abs_bias.data(),
                               c.residual ? abs_z.data() : nullptr, magnitude.data());
    const std::vector<bool> mask = written(s);
    const double bound = gamma(s.k + 2);
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (!mask[i]) {
        ASSERT_EQ(y[i], 7.0f) << c.what << ": the gap at " << i << " was written";
        continue;
      }
      ASSERT_LE(std::abs(double(y[i]) - expected[i]), bound * magnitude[i] + 1e-30)
          << c.what << " " << s.str() << " element " << i;
    }
  }
}

// bf16: the float product of the bf16 values, its epilogue in float, rounded to bf16 once: bit for bit.
TEST(MatmulCpu, Bf16IsTheFloatProductOfTheRoundedValuesRoundedOnce) {
  for (const TwinCase& c : twin_cases()) {
    const MatmulShape& s = c.shape;
    const Spans n = spans(s);
    std::vector<float> a = random_floats(std::size_t(n.a), -1, 1, 21), b = random_floats(std::size_t(n.b), -1, 1, 22);
    std::vector<float> bias = random_floats(std::size_t(s.n), -1, 1, 23), z = random_floats(std::size_t(n.y), -2, 2, 24);
    std::vector<bf16> a16(a.size()), b16(b.size()), bias16(bias.size()), z16(z.size()), y16(std::size_t(n.y), bf16(7.0f));
    const auto round = [](std::vector<float>& f, std::vector<bf16>& h) {
      for (std::size_t i = 0; i < f.size(); ++i) h[i] = bf16(f[i]), f[i] = float(h[i]);
    };
    round(a, a16), round(b, b16), round(bias, bias16), round(z, z16);
    std::vector<float> y(std::size_t(n.y), 7.0f);
    MatmulOptions options;
    options.epilogue = c.epilogue, options.residual = c.residual;
    const MatmulPlan f32 = kernels::make_matmul_plan(Context::cpu(), s, options);
    kernels::matmul(Context::cpu(), f32, a.data(), b.data(), bias.data(), c.residual ? z.data() : nullptr, y.data());
    options.precision = Precision::bf16;
    const MatmulPlan b16plan = kernels::make_matmul_plan(Context::cpu(), s, options);
    kernels::matmul(Context::cpu(), b16plan, a16.data(), b16.data(), bias16.data(), c.residual ? z16.data() : nullptr,
                    y16.data());
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y16[i].bits, bf16(y[i]).bits) << c.what << " element " << i;
  }
}

TEST(MatmulPlan, RejectsBadShapesWithTheShapeInTheMessage) {
  const auto expect_rejected = [](const MatmulShape& s, const std::string& expected) {
    try {
      kernels::make_matmul_plan(Context::cpu(), s, {});
      ADD_FAILURE() << "accepted " << s.str();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(s.str()), std::string::npos) << e.what();
    }
  };
  expect_rejected(shape_of(0, 2, 3, false, false), "empty dimension");
  MatmulShape narrow = shape_of(4, 5, 6, false, false);
  narrow.lda = 5;  // a (4, 6) needs rows of at least 6
  expect_rejected(narrow, "row strides");
  MatmulShape overlapping = shape_of(4, 5, 6, false, false);
  overlapping.batch = 2, overlapping.batch_stride_y = 19;  // one y (4, 5) spans 20 elements
  expect_rejected(overlapping, "batches of y overlap");
  MatmulShape negative = shape_of(4, 5, 6, false, false);
  negative.batch_stride_a = -1;
  expect_rejected(negative, "negative stride");
  // The precision of the data and the plan must agree.
  const MatmulPlan plan = kernels::make_matmul_plan(Context::cpu(), shape_of(2, 2, 2, false, false), {});
  std::vector<bf16> x(4);
  EXPECT_THROW(kernels::matmul(Context::cpu(), plan, x.data(), x.data(), x.data(), nullptr, x.data()), Error);
}

#if ROSETTA_WITH_CUDA
// Every algorithm cuBLASLt's heuristics offer (timed by find_matmul_algorithms) against the CPU twin, and each
// remade from its position (matmul_plan_with_choice), for the stride-2 1x1 layout in bf16 and the NHWC 1x1 with the
// residual in tf32 and fp32. Tolerances as tests/ops/matmul_cases.cpp states them.
TEST(MatmulCuda, EveryHeuristicAlgorithmMatchesTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  MatmulShape strided = shape_of(7, 64, 32, false, true);
  strided.lda = 2 * 32, strided.batch = 2 * 7, strided.batch_stride_a = 2 * 14 * 32, strided.batch_stride_y = 7 * 64;
  const MatmulShape pointwise = shape_of(2 * 28 * 28, 64, 32, false, true);
  struct GpuCase {
    MatmulShape shape;
    Precision precision;
    bool residual;
    double rtol;
  };
  for (const GpuCase& c : {GpuCase{strided, Precision::bf16, false, 0x1p-7}, GpuCase{pointwise, Precision::tf32, true, 5e-3},
                           GpuCase{pointwise, Precision::fp32, true, 1e-5}}) {
    const MatmulShape& s = c.shape;
    const Spans n = spans(s);
    const DType dtype = c.precision == Precision::bf16 ? DType::bf16 : DType::f32;
    const auto host = [&](std::int64_t count, std::uint64_t seed, float lo, float hi) {
      Tensor t = Tensor::from_vector({count}, random_floats(std::size_t(count), lo, hi, seed));
      if (dtype == DType::f32) return t;
      Tensor h = Tensor::empty({count}, DType::bf16);
      for (std::int64_t i = 0; i < count; ++i) h.data<bf16>()[i] = bf16(t.data<float>()[i]);
      return h;
    };
    const Tensor a = host(n.a, 31, -1, 1), b = host(n.b, 32, -1, 1), bias = host(s.n, 33, -1, 1), z = host(n.y, 34, -2, 2);
    MatmulOptions options;
    options.precision = c.precision, options.epilogue = MatmulEpilogue::bias_relu, options.residual = c.residual;
    const MatmulPlan cpu_plan = kernels::make_matmul_plan(Context::cpu(), s, options);
    Tensor expected = Tensor::zeros({n.y}, dtype);
    const auto run = [&](const Context& ctx, const MatmulPlan& plan, const Tensor& ad, const Tensor& bd,
                         const Tensor& biasd, const Tensor& zd, const Tensor& y) {
      if (dtype == DType::bf16) {
        kernels::matmul(ctx, plan, ad.data<bf16>(), bd.data<bf16>(), biasd.data<bf16>(),
                        c.residual ? zd.data<bf16>() : nullptr, y.data<bf16>());
      } else {
        kernels::matmul(ctx, plan, ad.data<float>(), bd.data<float>(), biasd.data<float>(),
                        c.residual ? zd.data<float>() : nullptr, y.data<float>());
      }
    };
    run(Context::cpu(), cpu_plan, a, b, bias, z, expected);
    const Tensor ad = a.to(Device::cuda), bd = b.to(Device::cuda), biasd = bias.to(Device::cuda), zd = z.to(Device::cuda);
    const MatmulPlan plan = kernels::make_matmul_plan(gpu, s, options);
    const std::vector<kernels::MatmulAlgorithmChoice> found = kernels::find_matmul_algorithms(gpu, plan);
    ASSERT_FALSE(found.empty()) << s.str();
    for (const kernels::MatmulAlgorithmChoice& choice : found) {
      const MatmulPlan variant = kernels::matmul_plan_with_choice(gpu, plan, choice);
      Tensor y = Tensor::zeros({n.y}, dtype, Device::cuda);
      run(gpu, variant, ad, bd, biasd, zd, y);
      const Tensor got = y.to(Device::cpu);
      double worst = 0, scale = 0;
      for (std::int64_t i = 0; i < n.y; ++i) {
        const double e = dtype == DType::bf16 ? double(float(expected.data<bf16>()[i])) : expected.data<float>()[i];
        const double g = dtype == DType::bf16 ? double(float(got.data<bf16>()[i])) : got.data<float>()[i];
        worst = std::max(worst, std::abs(g - e));
        scale = std::max(scale, std::abs(e));
      }
      EXPECT_LE(worst, c.rtol * scale) << s.str() << " " << precision_name(c.precision) << " algo " << choice.algo
                                       << " #" << choice.variant;
    }
  }
}

// A pointer below the alignment the plan's algorithm was chosen for is refused before cuBLASLt sees it.
TEST(MatmulCuda, MisalignedPointersAreRefusedWithTheShape) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  const MatmulShape s = shape_of(64, 64, 64, false, true);
  MatmulOptions options;
  options.precision = Precision::bf16, options.epilogue = MatmulEpilogue::bias;
  const MatmulPlan plan = kernels::make_matmul_plan(gpu, s, options);
  Tensor x = Tensor::zeros({64 * 64 + 8}, DType::bf16, Device::cuda);
  bf16* p = x.data<bf16>();
  try {
    kernels::matmul(gpu, plan, p + 1, p, p, nullptr, p);  // a 2 bytes past an aligned address
    ADD_FAILURE() << "a misaligned a was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(s.str()), std::string::npos) << e.what();
  }
}
#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
