// GEMM: the CPU twin bit for bit against its definition (one fma chain per element, kernels/cpu/blocked_gemm.h) and
// within the float-sum bound of the float64 triple loop (kernels/reference/gemm.h), for every transpose combination,
// odd sizes that cut through the micro-tiles and blocks, alpha/beta; the same bits from every micro-kernel and
// thread count; and the cuBLAS twin against the float64 loop in strict fp32 and in tf32.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/blocked_gemm.h"
#include "kernels/gemm.h"
#include "kernels/reference/gemm.h"
#include "kernels/threads.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

constexpr double kFloatEps = 1.0 / (1 << 24);  // unit roundoff of float, 2^-24

struct GemmCase {
  bool trans_a, trans_b;
  std::int64_t m, n, k;
  float alpha, beta;
  std::string name() const {
    return std::string(trans_a ? "At" : "A") + (trans_b ? "Bt" : "B") + " m=" + std::to_string(m) +
           " n=" + std::to_string(n) + " k=" + std::to_string(k) + " alpha=" + std::to_string(alpha) +
           " beta=" + std::to_string(beta);
  }
};

struct GemmData {
  std::vector<float> a, b, c0;  // A as stored, B as stored, C before the call
};

GemmData make_data(const GemmCase& g, std::uint64_t seed) {
  GemmData d;
  d.a = testing::random_floats(g.m * g.k, -1.0f, 1.0f, seed, 0);
  d.b = testing::random_floats(g.k * g.n, -1.0f, 1.0f, seed, 1);
  // beta == 0 must ignore C: give it NaNs, which any read would propagate.
  d.c0 = g.beta == 0.0f ? std::vector<float>(g.m * g.n, std::numeric_limits<float>::quiet_NaN())
                        : testing::random_floats(g.m * g.n, -1.0f, 1.0f, seed, 2);
  return d;
}

// The float64 triple loop on the same float inputs, and each element's scale |alpha| sum_p |a b| + |beta c|.
void float64_reference(const GemmCase& g, const GemmData& d, std::vector<double>* c, std::vector<double>* scale) {
  const std::vector<double> a(d.a.begin(), d.a.end()), b(d.b.begin(), d.b.end());
  c->assign(d.c0.begin(), d.c0.end());
  kernels::reference::gemm<double>(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, a.data(), b.data(), g.beta, c->data());
  std::vector<double> abs_a(a.size()), abs_b(b.size());
  for (std::size_t i = 0; i < a.size(); ++i) abs_a[i] = std::abs(a[i]);
  for (std::size_t i = 0; i < b.size(); ++i) abs_b[i] = std::abs(b[i]);
  scale->assign(g.m * g.n, 0.0);
  kernels::reference::gemm<double>(g.trans_a, g.trans_b, g.m, g.n, g.k, std::abs(g.alpha), abs_a.data(), abs_b.data(),
                                   0.0, scale->data());
  if (g.beta != 0.0f)
    for (std::size_t i = 0; i < scale->size(); ++i) (*scale)[i] += std::abs(g.beta * double(d.c0[i]));
}

std::vector<float> cpu_gemm(const GemmCase& g, const GemmData& d) {
  std::vector<float> c = d.c0;
  kernels::cpu::gemm(Context::cpu(), g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, d.a.data(), d.b.data(), g.beta,
                     c.data(), Precision::fp32);
  return c;
}

// Every element within bound(reference, scale); reports the first few misses.
template <typename Bound>
void expect_within(const std::vector<float>& actual, const std::vector<double>& expected,
                   const std::vector<double>& scale, Bound bound, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double limit = bound(expected[i], scale[i]);
    if (!(std::abs(double(actual[i]) - expected[i]) <= limit) && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << actual[i] << ", expected " << expected[i] << " (bound "
                    << limit << ")";
  }
}

// The CPU twin's definition, as a plain loop: c = beta * C (0 for beta 0), then c = fma(alpha * a_ip, b_pj, c) for
// p in order, each step rounded in float.
std::vector<float> fma_chain(const GemmCase& g, const GemmData& d) {
  std::vector<float> c(g.m * g.n);
  for (std::int64_t i = 0; i < g.m; ++i)
    for (std::int64_t j = 0; j < g.n; ++j) {
      float acc = g.beta == 0.0f ? 0.0f : g.beta == 1.0f ? d.c0[i * g.n + j] : g.beta * d.c0[i * g.n + j];
      for (std::int64_t p = 0; p < g.k; ++p) {
        const float a = g.trans_a ? d.a[p * g.m + i] : d.a[i * g.k + p];
        const float b = g.trans_b ? d.b[j * g.k + p] : d.b[p * g.n + j];
        acc = std::fma(g.alpha == 1.0f ? a : g.alpha * a, b, acc);
      }
      c[i * g.n + j] = acc;
    }
  return c;
}

std::vector<GemmCase> cases() {
  // Micro-tiles are up to 12 x 32, blocks 96 rows by 256 deep by 1024 columns: sizes below, at and across those
  // edges, plus the CNN's fc2 shape.
  const std::int64_t shapes[][3] = {{1, 1, 1},     {3, 5, 7},       {12, 32, 256},  {13, 33, 257},
                                    {97, 31, 513}, {65, 1025, 40}, {64, 10, 512}};
  const float scalars[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
  std::vector<GemmCase> out;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const auto& s : shapes)
        for (const auto& ab : scalars) out.push_back({ta == 1, tb == 1, s[0], s[1], s[2], ab[0], ab[1]});
  return out;
}

TEST(GemmCpu, IsItsFmaChainDefinitionBitForBit) {
  std::uint64_t seed = 1;
  for (const GemmCase& g : cases()) {
    const GemmData d = make_data(g, seed++);
    EXPECT_EQ(cpu_gemm(g, d), fma_chain(g, d)) << g.name();
  }
}

// Tolerance rule against the float64 loop: a chain of k fmas, plus the roundings of alpha * a and beta * c, is a
// float sum of k + 2 terms, within gamma_{k+2} = (k + 2) u / (1 - (k + 2) u) of the scale sum |alpha a b| + |beta c|
// (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), plus one rounding of the result.
TEST(GemmCpu, IsWithinTheFloatSumBoundOfTheFloat64Loop) {
  std::uint64_t seed = 100;
  for (const GemmCase& g : cases()) {
    const GemmData d = make_data(g, seed++);
    std::vector<double> expected, scale;
    float64_reference(g, d, &expected, &scale);
    const double terms = double(g.k + 2), gamma = terms * kFloatEps / (1 - terms * kFloatEps);
    expect_within(
        cpu_gemm(g, d), expected, scale,
        [&](double reference, double s) { return gamma * s + kFloatEps * std::abs(reference); }, g.name());
  }
}

TEST(GemmCpu, EveryMicroKernelAndThreadCountGivesTheSameBits) {
  const GemmCase g{true, false, 150, 1100, 300, 1.0f, 1.0f};  // parallel, every kind of edge tile, two depth blocks
  const GemmData d = make_data(g, 77);
  const std::vector<float> expected = fma_chain(g, d);
  const std::string in_use = kernels::cpu::blocked_gemm_isa();
  const int default_threads = kernels::cpu_threads();
  for (const std::string& isa : kernels::cpu::blocked_gemm_isas()) {
    kernels::cpu::select_blocked_gemm_isa(isa);
    for (int threads : {1, 2, 3}) {
      kernels::set_cpu_threads(threads);
      EXPECT_EQ(cpu_gemm(g, d), expected) << isa << " with " << threads << " threads";
    }
  }
  kernels::cpu::select_blocked_gemm_isa(in_use);
  kernels::set_cpu_threads(default_threads);
  EXPECT_THROW(kernels::cpu::select_blocked_gemm_isa("avx9000"), Error);
}

TEST(GemmCpu, EmptySumScalesC) {
  // k = 0: op(A) op(B) is a zero matrix, so C = beta * C (and 0 when beta = 0, whatever C held).
  std::vector<float> c{1.0f, -2.0f, 4.0f, 8.0f, 0.5f, 3.0f};
  const float* none = nullptr;
  kernels::cpu::gemm(Context::cpu(), false, false, 2, 3, 0, 1.0f, none, none, 0.5f, c.data(), Precision::fp32);
  EXPECT_EQ(c, (std::vector<float>{0.5f, -1.0f, 2.0f, 4.0f, 0.25f, 1.5f}));
  std::vector<float> z(6, std::numeric_limits<float>::quiet_NaN());
  kernels::cpu::gemm(Context::cpu(), false, false, 2, 3, 0, 1.0f, none, none, 0.0f, z.data(), Precision::fp32);
  EXPECT_EQ(z, std::vector<float>(6, 0.0f));
}

// bf16 operands (a bf16 model's linear layers) are the float GEMM of their values, C written in float or rounded to
// bf16 once; they take precision bf16 only.
TEST(GemmCpu, Bf16IsTheFloatGemmOfTheValuesRoundedOnce) {
  const Context& ctx = Context::cpu();
  const std::int64_t m = 5, n = 7, k = 33;
  const std::vector<float> af = testing::random_floats(std::size_t(m * k), -1, 1, 21);
  const std::vector<float> bf = testing::random_floats(std::size_t(k * n), -1, 1, 22);
  std::vector<bf16> a(af.size()), b(bf.size());
  for (std::size_t i = 0; i < af.size(); ++i) a[i] = bf16(af[i]);
  for (std::size_t i = 0; i < bf.size(); ++i) b[i] = bf16(bf[i]);
  const std::vector<float> a_values(a.begin(), a.end()), b_values(b.begin(), b.end());
  std::vector<float> expected(std::size_t(m * n)), c(std::size_t(m * n));
  std::vector<bf16> c_bf16(std::size_t(m * n));
  kernels::cpu::gemm(ctx, false, true, m, n, k, 1.0f, a_values.data(), b_values.data(), 0.0f, expected.data(), Precision::fp32);
  kernels::cpu::gemm(ctx, false, true, m, n, k, 1.0f, a.data(), b.data(), 0.0f, c.data(), Precision::bf16);
  kernels::cpu::gemm(ctx, false, true, m, n, k, 1.0f, a.data(), b.data(), 0.0f, c_bf16.data(), Precision::bf16);
  EXPECT_EQ(c, expected);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c_bf16[i].bits, bf16(expected[i]).bits) << i;
  EXPECT_THROW(kernels::cpu::gemm(ctx, false, true, m, n, k, 1.0f, a.data(), b.data(), 0.0f, c.data(), Precision::fp32),
               Error);
}

TEST(GemmCpu, SmallProductByHand) {
  // [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50], exact in float.
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8};
  std::vector<float> c(4);
  kernels::cpu::gemm(Context::cpu(), false, false, 2, 2, 2, 1.0f, a.data(), b.data(), 0.0f, c.data(), Precision::fp32);
  EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
  // A^T B^T = (B A)^T: B A = [23 34; 31 46], so C = [23 31; 34 46].
  kernels::cpu::gemm(Context::cpu(), true, true, 2, 2, 2, 1.0f, a.data(), b.data(), 0.0f, c.data(), Precision::fp32);
  EXPECT_EQ(c, (std::vector<float>{23, 31, 34, 46}));
}

TEST(GemmCpu, RejectsBf16) {
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c(4);
  EXPECT_THROW(kernels::cpu::gemm(Context::cpu(), false, false, 2, 2, 2, 1.0f, a.data(), b.data(), 0.0f, c.data(),
                                  Precision::bf16),
               Error);
}

#if ROSETTA_WITH_CUDA  // the CUDA twins exist only in CUDA builds
// ---- CUDA twin -------------------------------------------------------------------------------------------

std::vector<float> cuda_gemm(const GemmCase& g, const GemmData& d, Precision precision) {
  Context& gpu = Context::cuda();
  Tensor a = testing::to_cuda(d.a), b = testing::to_cuda(d.b), c = testing::to_cuda(d.c0);
  kernels::cuda::gemm(gpu, g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, a.data<float>(), b.data<float>(), g.beta,
                      c.data<float>(), precision);
  gpu.synchronize();
  return c.to_vector();
}

std::vector<GemmCase> cuda_cases() {
  std::vector<GemmCase> out = cases();
  // The CNN's fully connected layers at batch 64: fc1 forward, its input gradient and weight gradient; fc2.
  out.push_back({false, true, 64, 512, 6400, 1.0f, 0.0f});
  out.push_back({false, false, 64, 6400, 512, 1.0f, 0.0f});
  out.push_back({true, false, 512, 6400, 64, 1.0f, 1.0f});
  out.push_back({false, true, 64, 10, 512, 1.0f, 0.0f});
  out.push_back({true, false, 10, 512, 64, 1.0f, 0.0f});
  return out;
}

// Tolerance rule for strict fp32 on the GPU: cuBLAS sums in float in its own order (FMA, blocked, maybe split
// over k). With random-sign data the rounding error of a float sum stays near one unit roundoff of
// sum_p |a b| (about 0.3 u one standard deviation for a plain left-to-right sum); 16 u of the scale covers the
// largest of millions of elements with margin, plus the result's own rounding. TF32 cannot pass it: its
// input rounding alone is ~2^-11 per product, 100x larger at these sizes.
double fp32_bound(double reference, double scale) {
  return 2 * kFloatEps * std::abs(reference) + 16 * kFloatEps * scale;
}

// Tolerance rule for tf32: each input is rounded to a 10-bit mantissa (relative error <= 2^-10 whether cuBLAS
// truncates or rounds), so each product is off by at most 2^-9 of itself: the worst case over all elements is
// 2^-9 of the scale, plus the fp32 bound for the float accumulation.
double tf32_bound(double reference, double scale) { return 0x1p-9 * scale + fp32_bound(reference, scale); }

TEST(GemmCuda, Fp32MatchesTheFloat64Loop) {
  ROSETTA_REQUIRE_CUDA();
  std::uint64_t seed = 100;
  for (const GemmCase& g : cuda_cases()) {
    const GemmData d = make_data(g, seed++);
    std::vector<double> expected, scale;
    float64_reference(g, d, &expected, &scale);
    expect_within(cuda_gemm(g, d, Precision::fp32), expected, scale, fp32_bound, "fp32 " + g.name());
  }
}

TEST(GemmCuda, Tf32MatchesTheFloat64LoopWithinInputRounding) {
  ROSETTA_REQUIRE_CUDA();
  std::uint64_t seed = 200;
  for (const GemmCase& g : cuda_cases()) {
    const GemmData d = make_data(g, seed++);
    std::vector<double> expected, scale;
    float64_reference(g, d, &expected, &scale);
    expect_within(cuda_gemm(g, d, Precision::tf32), expected, scale, tf32_bound, "tf32 " + g.name());
  }
}

TEST(GemmCuda, Fp32IsStrictAndTf32RoundsInputs) {
  ROSETTA_REQUIRE_CUDA();
  // Every a = 1 + 2^-12 (not representable with TF32's 10-bit mantissa), every b = 1, k = 512: in strict FP32
  // each element is exactly 512 + 2^-3, in any summation order, since any partial sum q (1 + 2^-12) with
  // q <= 512 needs at most 22 significant bits. TF32 rounds a to 1 and gives 512. So fp32 must be exact and
  // tf32 must differ: this proves the two modes are what they claim.
  const GemmCase g{false, false, 512, 512, 512, 1.0f, 0.0f};
  GemmData d;
  d.a.assign(g.m * g.k, 1.0f + 0x1p-12f);
  d.b.assign(g.k * g.n, 1.0f);
  d.c0.assign(g.m * g.n, 0.0f);
  const float exact = 512.0f + 0x1p-3f;
  const std::vector<float> fp32 = cuda_gemm(g, d, Precision::fp32);
  EXPECT_EQ(fp32, std::vector<float>(fp32.size(), exact)) << "strict fp32 GEMM is not exact: TF32 or emulation in use?";
  const std::vector<float> tf32 = cuda_gemm(g, d, Precision::tf32);
  EXPECT_NE(tf32[0], exact) << "tf32 GEMM gave the strict fp32 result: TF32 tensor ops were not used";
}

TEST(GemmCuda, EmptySumScalesC) {
  ROSETTA_REQUIRE_CUDA();
  const GemmCase g{false, false, 2, 3, 0, 1.0f, 0.5f};
  const GemmData d{{}, {}, {1.0f, -2.0f, 4.0f, 8.0f, 0.5f, 3.0f}};
  EXPECT_EQ(cuda_gemm(g, d, Precision::fp32), (std::vector<float>{0.5f, -1.0f, 2.0f, 4.0f, 0.25f, 1.5f}));
}

TEST(GemmCuda, Bf16PrecisionOfFloatOperandsThrowsWithShapes) {
  ROSETTA_REQUIRE_CUDA();
  try {
    const float* none = nullptr;
    kernels::cuda::gemm(Context::cuda(), false, true, 64, 512, 6400, 1.0f, none, none, 0.0f, static_cast<float*>(nullptr),
                        Precision::bf16);
    FAIL() << "a float GEMM in bf16 should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m=64 n=512 k=6400"), std::string::npos) << e.what();
  }
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
