// GRU: the double reference (kernels/reference/gru.h) against torch.nn.GRU (optional oracle) and central
// differences for the input and all four parameters; the float CPU twin against the reference; the layer (PyTorch
// names, default init, wiring, ntc == tnc, no allocation after setup); and on a GPU the naive CUDA twin and cuDNN
// (standard, and each persistent algorithm cuDNN accepts) against the reference at the workload's size, tf32, the
// batch-first layout, determinism, CUDA graph capture and no allocation per step.
//
// Tolerance rules (u = 2^-24, the float unit roundoff). Errors are normwise per tensor: max |actual - expected|
// over the tensor, divided by max |expected| (a gradient entry near zero is judged on the tensor's scale, where a
// wrong term would show). A wrong or missing term moves a result by O(1) of its tensor's scale.
// - The float twins round every GEMM output once (CPU: double accumulation) or sum in float (cuBLAS, cuDNN), and
//   apply sigmoid and tanh in float; over T steps those roundings add up through the recurrence, which with these
//   weights (|w| <= 1/sqrt(H) or 0.5) does not amplify them. The CPU twin measures 1e-7 to 5e-7 on every shape
//   here, the workload's T = 150 included: bound 1e-5. The GPU paths sum hundreds to thousands of float terms in
//   orders of their own (the weight gradients add T N = 9600) and cuDNN evaluates the activations its own way;
//   their expected error is ~1e-6: bound 1e-4.
// - tf32 rounds GEMM operands to 10 mantissa bits (2^-11 ~ 5e-4 relative), ~1e-3 normwise: bound 2e-2.
// - The same GPU computation on the same values twice (ntc vs tnc, graph replay vs eager) differs at most by
//   reduction order inside cuDNN: bound 1e-5 where it is not bit-identical by construction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/gru.h"
#include "kernels/layout.h"
#include "kernels/reference/gru.h"
#include "layers/gru.h"
#include "runtime/allocator.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"
#include "tests/support/python.h"
#if ROSETTA_WITH_CUDA
#include <cudnn.h>

#include "kernels/cuda/gru_state.h"
#include "kernels/gru_algorithm_cache.h"
#include "runtime/cuda_graph.h"
#endif

namespace rosetta {
namespace {

using kernels::GruShape;
using testing::random_floats;

GruShape make_shape(std::int64_t t, std::int64_t n, std::int64_t i, std::int64_t h) { return GruShape{t, n, i, h}; }

// Inputs of one forward and backward: x (T, N, I), the four parameters, dh (T, N, H).
struct GruData {
  GruShape s;
  std::vector<float> x, w_ih, w_hh, b_ih, b_hh, dh;
};

// Parameters U(-bound, bound), x and dh U(-1, 1); dh only at the last step when last_step_only (the model's case).
GruData make_data(const GruShape& s, std::uint64_t seed, float bound, bool last_step_only = false) {
  GruData d;
  d.s = s;
  const auto count = [](std::int64_t n) { return static_cast<std::size_t>(n); };
  d.x = random_floats(count(s.t * s.n * s.i), -1, 1, seed, 1);
  d.w_ih = random_floats(count(3 * s.h * s.i), -bound, bound, seed, 2);
  d.w_hh = random_floats(count(3 * s.h * s.h), -bound, bound, seed, 3);
  d.b_ih = random_floats(count(3 * s.h), -bound, bound, seed, 4);
  d.b_hh = random_floats(count(3 * s.h), -bound, bound, seed, 5);
  d.dh = random_floats(count(s.t * s.n * s.h), -1, 1, seed, 6);
  if (last_step_only) std::fill(d.dh.begin(), d.dh.end() - s.n * s.h, 0.0f);
  return d;
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

template <typename T>
struct Result {
  std::vector<T> h, dx, dw_ih, dw_hh, db_ih, db_hh;
};

template <typename T>
Result<T> sized_result(const GruShape& s) {
  const auto count = [](std::int64_t n) { return static_cast<std::size_t>(n); };
  Result<T> r;
  r.h.resize(count(s.t * s.n * s.h));
  r.dx.resize(count(s.t * s.n * s.i));
  r.dw_ih.resize(count(3 * s.h * s.i));
  r.dw_hh.resize(count(3 * s.h * s.h));
  r.db_ih.resize(count(3 * s.h));
  r.db_hh.resize(count(3 * s.h));
  return r;
}

// The double reference, forward and backward.
Result<double> reference(const GruData& d) {
  const GruShape& s = d.s;
  const std::vector<double> x = to_double(d.x), w_ih = to_double(d.w_ih), w_hh = to_double(d.w_hh),
                            b_ih = to_double(d.b_ih), b_hh = to_double(d.b_hh), dh = to_double(d.dh);
  Result<double> r = sized_result<double>(s);
  std::vector<double> reserve(static_cast<std::size_t>(kernels::reference::reserve_elements(s)));
  kernels::reference::gru_forward(s, x.data(), w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data(), r.h.data(),
                                  reserve.data());
  kernels::reference::gru_backward(s, x.data(), w_ih.data(), w_hh.data(), r.h.data(), reserve.data(), dh.data(),
                                   r.dx.data(), r.dw_ih.data(), r.dw_hh.data(), r.db_ih.data(), r.db_hh.data());
  return r;
}

// The float CPU twin.
Result<float> cpu_twin(const GruData& d) {
  Context& ctx = Context::cpu();
  Result<float> r = sized_result<float>(d.s);
  const kernels::GruPlan plan = kernels::make_gru_plan(ctx, d.s, {});
  std::vector<float> reserve(static_cast<std::size_t>(plan.reserve_elements));
  const kernels::GruWeights w{d.w_ih.data(), d.w_hh.data(), d.b_ih.data(), d.b_hh.data()};
  kernels::gru_forward(ctx, plan, d.x.data(), w, r.h.data(), reserve.data());
  const kernels::GruGradients grads{r.dw_ih.data(), r.dw_hh.data(), r.db_ih.data(), r.db_hh.data()};
  kernels::gru_backward(ctx, plan, d.x.data(), w, r.h.data(), reserve.data(), d.dh.data(), r.dx.data(), grads);
  return r;
}

// max |actual - expected| / max |expected| over a tensor.
double normwise_error(const std::vector<float>& actual, const std::vector<double>& expected) {
  double error = 0, scale = 0;
  for (std::size_t i = 0; i < actual.size() && i < expected.size(); ++i) {
    const double e = std::abs(double(actual[i]) - expected[i]);
    error = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(error, e);
    scale = std::max(scale, std::abs(expected[i]));
  }
  return scale > 0 ? error / scale : error;
}

void expect_normwise(const std::vector<float>& actual, const std::vector<double>& expected, double bound,
                     const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  const double error = normwise_error(actual, expected);
  EXPECT_LE(error, bound) << what << ": normwise error " << error;
}

void expect_result_close(const Result<float>& a, const Result<double>& e, double bound, const std::string& what) {
  expect_normwise(a.h, e.h, bound, what + " h");
  expect_normwise(a.dx, e.dx, bound, what + " dx");
  expect_normwise(a.dw_ih, e.dw_ih, bound, what + " d weight_ih");
  expect_normwise(a.dw_hh, e.dw_hh, bound, what + " d weight_hh");
  expect_normwise(a.db_ih, e.db_ih, bound, what + " d bias_ih");
  expect_normwise(a.db_hh, e.db_hh, bound, what + " d bias_hh");
}

// Bit-identical results, field by field (the determinism tests).
void expect_result_equal(const Result<float>& first, const Result<float>& second) {
  EXPECT_EQ(first.h, second.h);
  EXPECT_EQ(first.dx, second.dx);
  EXPECT_EQ(first.dw_ih, second.dw_ih);
  EXPECT_EQ(first.dw_hh, second.dw_hh);
  EXPECT_EQ(first.db_ih, second.db_ih);
  EXPECT_EQ(first.db_hh, second.db_hh);
}

constexpr double kCpuBound = 1e-5;    // see the tolerance rules above
constexpr double kGpuBound = 1e-4;    // see the tolerance rules above
constexpr double kTf32Bound = 2e-2;   // see the tolerance rules above
constexpr double kRepeatBound = 1e-5;  // see the tolerance rules above

// ---- reference ---------------------------------------------------------------------------------------------

// One step, one unit, by hand: with zero weights every pre-activation is its bias.
TEST(GruReference, OneCellByHand) {
  const GruShape s = make_shape(1, 1, 1, 1);
  const double x = 0.5, w_ih[3] = {0, 0, 0}, w_hh[3] = {0, 0, 0}, b_ih[3] = {0.1, -0.2, 0.3},
               b_hh[3] = {0.4, 0.5, -0.6};
  double h = 0, reserve[4] = {};
  kernels::reference::gru_forward(s, &x, w_ih, w_hh, b_ih, b_hh, &h, reserve);
  const double r = 1 / (1 + std::exp(-(0.1 + 0.4))), z = 1 / (1 + std::exp(-(-0.2 + 0.5)));
  const double n = std::tanh(0.3 + r * -0.6);
  EXPECT_DOUBLE_EQ(reserve[0], r);
  EXPECT_DOUBLE_EQ(reserve[1], z);
  EXPECT_DOUBLE_EQ(reserve[2], n);
  EXPECT_DOUBLE_EQ(reserve[3], -0.6);
  EXPECT_DOUBLE_EQ(h, (1 - z) * n);  // h[-1] = 0
}

TEST(GruReference, MatchesTorchGruForwardAndBackward) {
  ROSETTA_REQUIRE_TORCH();
  const GruShape s = make_shape(4, 2, 3, 5);
  const GruData d = make_data(s, 11, 0.5f);
  const Result<double> r = reference(d);
  // Values are parsed as float32 (the 9 printed digits identify each float exactly), then widened to float64.
  const auto tensor = [](const std::vector<float>& v) {
    return "torch.tensor(" + testing::python_list(v) + ", dtype=torch.float32).double()";
  };
  std::ostringstream script;
  script << "import torch\n"
         << "T, N, I, H = " << s.t << ", " << s.n << ", " << s.i << ", " << s.h << "\n"
         << "gru = torch.nn.GRU(I, H).double()\n"
         << "with torch.no_grad():\n"
         << "    gru.weight_ih_l0.copy_(" << tensor(d.w_ih) << ".view(3 * H, I))\n"
         << "    gru.weight_hh_l0.copy_(" << tensor(d.w_hh) << ".view(3 * H, H))\n"
         << "    gru.bias_ih_l0.copy_(" << tensor(d.b_ih) << ")\n"
         << "    gru.bias_hh_l0.copy_(" << tensor(d.b_hh) << ")\n"
         << "x = " << tensor(d.x) << ".view(T, N, I).requires_grad_()\n"
         << "dh = " << tensor(d.dh) << ".view(T, N, H)\n"
         << "out, _ = gru(x)\n"
         << "(out * dh).sum().backward()\n"
         << "for t in [out, x.grad, gru.weight_ih_l0.grad, gru.weight_hh_l0.grad, gru.bias_ih_l0.grad,\n"
         << "          gru.bias_hh_l0.grad]:\n"
         << "    print(' '.join(repr(v) for v in t.detach().reshape(-1).tolist()))\n";
  const std::vector<double> torch = testing::python_numbers(script.str());
  std::vector<double> ours;
  for (const std::vector<double>* part : {&r.h, &r.dx, &r.dw_ih, &r.dw_hh, &r.db_ih, &r.db_hh})
    ours.insert(ours.end(), part->begin(), part->end());
  ASSERT_EQ(torch.size(), ours.size());
  // Both in float64 from the same float inputs: only the order of a few dozen roundings differs (~1e-16).
  for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], torch[i], 1e-12) << "element " << i;
}

// Central differences of L = sum(w * h(...)) in double, for x and each parameter.
class GruGradCheck : public ::testing::Test {
 protected:
  const GruShape s = make_shape(4, 2, 3, 5);
  const GruData d = make_data(s, 21, 0.5f);

  // h for the data with one input replaced by `v`.
  std::vector<double> forward_with(int which, const std::vector<double>& v) const {
    std::vector<double> in[5] = {to_double(d.x), to_double(d.w_ih), to_double(d.w_hh), to_double(d.b_ih),
                                 to_double(d.b_hh)};
    in[which] = v;
    std::vector<double> h(static_cast<std::size_t>(s.t * s.n * s.h)),
        reserve(static_cast<std::size_t>(kernels::reference::reserve_elements(s)));
    kernels::reference::gru_forward(s, in[0].data(), in[1].data(), in[2].data(), in[3].data(), in[4].data(), h.data(),
                                    reserve.data());
    return h;
  }

  // The gradient of sum(dy * h) with respect to input `which` at `v`.
  std::vector<double> backward_with(int which, const std::vector<double>& v, const std::vector<double>& dy) const {
    std::vector<double> in[5] = {to_double(d.x), to_double(d.w_ih), to_double(d.w_hh), to_double(d.b_ih),
                                 to_double(d.b_hh)};
    in[which] = v;
    std::vector<double> h(static_cast<std::size_t>(s.t * s.n * s.h)),
        reserve(static_cast<std::size_t>(kernels::reference::reserve_elements(s)));
    kernels::reference::gru_forward(s, in[0].data(), in[1].data(), in[2].data(), in[3].data(), in[4].data(), h.data(),
                                    reserve.data());
    std::vector<double> grads[5] = {std::vector<double>(in[0].size()), std::vector<double>(in[1].size()),
                                    std::vector<double>(in[2].size()), std::vector<double>(in[3].size()),
                                    std::vector<double>(in[4].size())};
    kernels::reference::gru_backward(s, in[0].data(), in[1].data(), in[2].data(), h.data(), reserve.data(), dy.data(),
                                     grads[0].data(), grads[1].data(), grads[2].data(), grads[3].data(),
                                     grads[4].data());
    return grads[which];
  }

  void check(int which, const std::vector<float>& at) const {
    const int checked = testing::check_gradient([&](const std::vector<double>& v) { return forward_with(which, v); },
                                                [&](const std::vector<double>& v, const std::vector<double>& dy) {
                                                  return backward_with(which, v, dy);
                                                },
                                                to_double(at));
    EXPECT_EQ(checked, static_cast<int>(at.size()));
  }
};

TEST_F(GruGradCheck, Input) { check(0, d.x); }
TEST_F(GruGradCheck, WeightIh) { check(1, d.w_ih); }
TEST_F(GruGradCheck, WeightHh) { check(2, d.w_hh); }
TEST_F(GruGradCheck, BiasIh) { check(3, d.b_ih); }
TEST_F(GruGradCheck, BiasHh) { check(4, d.b_hh); }

// ---- CPU twin ----------------------------------------------------------------------------------------------

// Shapes that cover the CPU GEMM's full and partial tiles (3H = 210 > 64 columns, TN = 35 rows), T = 1 (no
// recurrent GEMM, an empty dW_hh sum) and the brief's gradient-check size.
TEST(GruCpu, FloatTwinMatchesDoubleReference) {
  for (const GruShape& s : {make_shape(4, 2, 3, 5), make_shape(7, 5, 33, 70), make_shape(1, 3, 4, 6)}) {
    const GruData d = make_data(s, 31, 0.5f);
    expect_result_close(cpu_twin(d), reference(d), kCpuBound, "CPU twin " + s.str());
  }
}

TEST(GruCpu, TwinIsDeterministicAndAllocatesNothingAfterThePlan) {
  const GruData d = make_data(make_shape(6, 3, 7, 9), 41, 0.5f);
  const Result<float> first = cpu_twin(d);  // its plan grew the workspace
  const kernels::GruPlan plan = kernels::make_gru_plan(Context::cpu(), d.s, {});
  std::vector<float> h(d.s.t * d.s.n * d.s.h), reserve(plan.reserve_elements);
  const kernels::GruWeights w{d.w_ih.data(), d.w_hh.data(), d.b_ih.data(), d.b_hh.data()};
  const auto before = allocation_count();
  kernels::gru_forward(Context::cpu(), plan, d.x.data(), w, h.data(), reserve.data());
  EXPECT_EQ(allocation_count(), before);
  EXPECT_EQ(h, first.h);
  expect_result_equal(first, cpu_twin(d));
}

TEST(GruShape, RejectsEmptyShapesAndNamesAlgorithms) {
  EXPECT_THROW(kernels::validate_gru_shape(make_shape(0, 1, 1, 1)), Error);
  EXPECT_EQ(make_shape(150, 64, 125, 100).str(), "T 150 N 64 I 125 H 100");
  for (auto a : {kernels::GruCudnnAlgorithm::standard, kernels::GruCudnnAlgorithm::persist_static,
                 kernels::GruCudnnAlgorithm::persist_dynamic, kernels::GruCudnnAlgorithm::persist_static_small_h}) {
    kernels::GruCudnnAlgorithm parsed = kernels::GruCudnnAlgorithm::standard;
    EXPECT_TRUE(kernels::gru_cudnn_algorithm_from_name(kernels::gru_cudnn_algorithm_name(a), &parsed));
    EXPECT_EQ(parsed, a);
  }
  kernels::GruCudnnAlgorithm unused;
  EXPECT_FALSE(kernels::gru_cudnn_algorithm_from_name("fastest", &unused));
  kernels::GruOptions bf16;
  bf16.precision = Precision::bf16;
  try {
    kernels::make_gru_plan(Context::cpu(), make_shape(3, 2, 4, 5), bf16);
    ADD_FAILURE() << "a bf16 GRU plan was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("T 3 N 2 I 4 H 5"), std::string::npos) << e.what();
  }
}

// ---- the persistent GRU's launch layout (device-neutral rules) -------------------------------------------------

const kernels::GruPersistentDevice kH100{132, 227 * 1024};  // SMs, opt-in shared memory a block

kernels::GruPersistentLayout persistent_layout(const GruShape& s, const kernels::GruPersistentDevice& device = kH100) {
  std::string refusal;
  const std::optional<kernels::GruPersistentLayout> layout = kernels::plan_gru_persistent_layout(s, device, &refusal);
  EXPECT_TRUE(layout) << s.str() << ": " << refusal;
  return layout.value_or(kernels::GruPersistentLayout{});
}

// The IMDB shape: one sequence a block (64 blocks on 132 SMs), W_hh (300 x 100) in 8 x 16 tiles: 38 row groups x 7
// column slices = 266 forward threads (9 warps), 13 x 19 = 247 backward threads (8 warps).
TEST(GruPersistentLayout, ImdbShapeRunsOneSequenceABlockOnEightBySixteenTiles) {
  const kernels::GruPersistentLayout l = persistent_layout(make_shape(150, 64, 125, 100));
  const kernels::GruPersistentVariant& tile = kernels::kGruPersistentVariants[l.variant];
  EXPECT_EQ(tile.rows_per_thread, 8);
  EXPECT_EQ(tile.columns_per_thread, 16);
  EXPECT_EQ(l.forward_slices, 7);
  EXPECT_EQ(l.backward_slices, 19);
  EXPECT_EQ(l.forward_threads, 288);
  EXPECT_EQ(l.backward_threads, 256);
  EXPECT_EQ(l.sequences_per_block, 1);
  EXPECT_EQ(l.blocks, 64);
  EXPECT_EQ(l.forward_shared_bytes, (7u * 16 + 7 * 300) * 4);   // h padded to 112, partials of 7 slices x 300
  EXPECT_EQ(l.backward_shared_bytes, (19u * 16 + 19 * 100) * 4);  // d(ah) padded to 304, partials of 19 x 100
}

// Every shape the kernels take: whole warps, a thread for every tile and every (sequence, unit), within the tile's
// launch bound; the blocks cover the batch exactly once; the layout does not depend on T or I. Hidden sizes that
// are not multiples of 32, batch 1, T = 1 and batches larger than the SM count included.
TEST(GruPersistentLayout, EveryShapeCoversItsTilesCellsAndBatch) {
  for (std::int64_t h : {1, 5, 24, 33, 64, 96, 97, 100, 127, 128})
    for (std::int64_t n : {1, 2, 64, 131, 132, 133, 300, 1000}) {
      const GruShape s = make_shape(1, n, 7, h);
      const kernels::GruPersistentLayout l = persistent_layout(s);
      const kernels::GruPersistentVariant& tile = kernels::kGruPersistentVariants[l.variant];
      const std::string at = s.str();
      const std::int64_t forward_tiles = (3 * h + tile.rows_per_thread - 1) / tile.rows_per_thread * l.forward_slices;
      const std::int64_t backward_tiles = (h + tile.rows_per_thread - 1) / tile.rows_per_thread * l.backward_slices;
      EXPECT_EQ(l.forward_slices * tile.columns_per_thread >= h, true) << at;
      EXPECT_LT((l.forward_slices - 1) * tile.columns_per_thread, h) << at;
      EXPECT_LT((l.backward_slices - 1) * tile.columns_per_thread, 3 * h) << at;
      for (int threads : {l.forward_threads, l.backward_threads}) {
        EXPECT_EQ(threads % 32, 0) << at;
        EXPECT_LE(threads, tile.max_threads) << at;
        EXPECT_GE(threads, l.sequences_per_block * h) << at;
      }
      EXPECT_GE(l.forward_threads, forward_tiles) << at;
      EXPECT_GE(l.backward_threads, backward_tiles) << at;
      EXPECT_GE(static_cast<std::int64_t>(l.blocks) * l.sequences_per_block, n) << at;
      EXPECT_LT(static_cast<std::int64_t>(l.blocks - 1) * l.sequences_per_block, n) << at;
      // One wave when the threads allow it: ceil(N / SMs) sequences a block.
      EXPECT_EQ(l.sequences_per_block, std::min<std::int64_t>((n + 131) / 132, tile.max_threads / h)) << at;
      const kernels::GruPersistentLayout longer = persistent_layout(make_shape(150, n, 125, h));
      EXPECT_EQ(longer.blocks, l.blocks) << at;
      EXPECT_EQ(longer.forward_threads, l.forward_threads) << at;
    }
  const kernels::GruPersistentLayout one = persistent_layout(make_shape(1, 1, 1, 1));
  EXPECT_EQ(one.blocks, 1);
  EXPECT_EQ(one.forward_threads, 32);
}

TEST(GruPersistentLayout, RefusesWhatDoesNotFitOnChipNamingTheShape) {
  std::string refusal;
  EXPECT_FALSE(kernels::plan_gru_persistent_layout(make_shape(150, 64, 125, 129), kH100, &refusal));
  for (const char* part : {"T 150 N 64 I 125 H 129", "registers", "195 KB", "8x16 tiles need 448 threads"})
    EXPECT_NE(refusal.find(part), std::string::npos) << refusal;
  // Shared memory: a device of 4 KB a block fits neither tile's partial sums at H = 100.
  EXPECT_FALSE(kernels::plan_gru_persistent_layout(make_shape(150, 64, 125, 100), {132, 4096}, &refusal));
  EXPECT_NE(refusal.find("shared memory"), std::string::npos) << refusal;
  // ... and bounds the sequences a block: 300 sequences on 132 SMs want 3 a block, 20 KB allow 2.
  EXPECT_EQ(persistent_layout(make_shape(5, 300, 7, 100), {132, 20 * 1024}).sequences_per_block, 2);
  EXPECT_THROW(kernels::plan_gru_persistent_layout(make_shape(0, 1, 1, 1), kH100, &refusal), Error);
}

TEST(GruShape, AnAlgorithmNeedsTheCudnnImplementation) {
  kernels::GruOptions options;
  options.implementation = kernels::GruImplementation::persistent;
  options.algorithm = kernels::GruCudnnAlgorithm::standard;
  EXPECT_THROW(kernels::make_gru_plan(Context::cpu(), make_shape(3, 2, 4, 5), options), Error);
  for (kernels::GruImplementation i : kernels::kGruImplementations) {
    kernels::GruImplementation parsed = kernels::GruImplementation::cudnn;
    EXPECT_TRUE(kernels::gru_implementation_from_name(kernels::gru_implementation_name(i), &parsed));
    EXPECT_EQ(parsed, i);
  }
}

// ---- layer ---------------------------------------------------------------------------------------------------

// A GRU layer with the data's parameters in a fresh arena on `device`.
struct LayerUnderTest {
  ParameterSet params;
  GRU gru;
  LayerUnderTest(const GruData& d, Device device) : gru(params, "gru", d.s.i, d.s.h) {
    params.allocate(device);
    params.value(gru.weight_ih_index()).copy_from(Tensor::from_vector({3 * d.s.h, d.s.i}, d.w_ih));
    params.value(gru.weight_hh_index()).copy_from(Tensor::from_vector({3 * d.s.h, d.s.h}, d.w_hh));
    params.value(gru.bias_ih_index()).copy_from(Tensor::from_vector({3 * d.s.h}, d.b_ih));
    params.value(gru.bias_hh_index()).copy_from(Tensor::from_vector({3 * d.s.h}, d.b_hh));
  }
};

// (T, N, C) host values -> (N, T, C)
std::vector<float> to_batch_first(const std::vector<float>& tnc, std::int64_t t, std::int64_t n, std::int64_t c) {
  std::vector<float> ntc(tnc.size());
  kernels::swap_leading_axes(Context::cpu(), tnc.data(), ntc.data(), t, n, c);
  return ntc;
}

// Runs the layer once (forward, backward) on `device` in `options`' layout; returns time-major results.
Result<float> run_layer(const GruData& d, Device device, const GruOptions& options) {
  Context& ctx = Context::of(device);
  LayerUnderTest layer(d, device);
  const GruShape& s = d.s;
  const bool ntc = options.layout == SequenceLayout::ntc;
  const Shape input = ntc ? Shape{s.n, s.t, s.i} : Shape{s.t, s.n, s.i};
  const Shape output = ntc ? Shape{s.n, s.t, s.h} : Shape{s.t, s.n, s.h};
  layer.gru.setup(ctx, input, options);
  EXPECT_EQ(layer.gru.output_shape(), output);
  const Tensor x = Tensor::from_vector(input, ntc ? to_batch_first(d.x, s.t, s.n, s.i) : d.x).to(device);
  const Tensor dh = Tensor::from_vector(output, ntc ? to_batch_first(d.dh, s.t, s.n, s.h) : d.dh).to(device);
  const Tensor& h = layer.gru.forward(ctx, x);
  const Tensor& dx = layer.gru.backward(ctx, dh);
  Result<float> r;
  r.h = h.to_vector();
  r.dx = dx.to_vector();
  if (ntc) {
    r.h = to_batch_first(r.h, s.n, s.t, s.h);  // (N, T, H) -> (T, N, H)
    r.dx = to_batch_first(r.dx, s.n, s.t, s.i);
  }
  r.dw_ih = layer.params.grad(layer.gru.weight_ih_index()).to_vector();
  r.dw_hh = layer.params.grad(layer.gru.weight_hh_index()).to_vector();
  r.db_ih = layer.params.grad(layer.gru.bias_ih_index()).to_vector();
  r.db_hh = layer.params.grad(layer.gru.bias_hh_index()).to_vector();
  return r;
}

GruOptions layer_options(kernels::GruImplementation implementation, SequenceLayout layout,
                         Precision precision = Precision::fp32) {
  GruOptions o;
  o.implementation = implementation;
  o.layout = layout;
  o.precision = precision;
  return o;
}

TEST(GruLayer, DeclaresPyTorchNamesAndShapes) {
  ParameterSet params;
  GRU gru(params, "gru", 125, 100);
  const std::vector<std::pair<std::string, Shape>> expected = {{"gru.weight_ih_l0", {300, 125}},
                                                               {"gru.weight_hh_l0", {300, 100}},
                                                               {"gru.bias_ih_l0", {300}},
                                                               {"gru.bias_hh_l0", {300}}};
  ASSERT_EQ(params.size(), 4);
  for (const auto& [name, shape] : expected) {
    const int i = params.find(name);
    ASSERT_GE(i, 0) << name;
    EXPECT_EQ(params.shape(i), shape) << name;
  }
}

// The four tensors are one packed block of the arena (w_ih | w_hh | b_ih | b_hh, no gap), in values and gradients:
// cuDNN's weight space where its plan says so. The parameters around the block keep the arena's alignment.
TEST(GruLayer, ParametersAreOnePackedBlock) {
  ParameterSet params;
  params.declare("before", {3});
  GRU gru(params, "gru", 125, 100);
  params.declare("after", {2});
  params.allocate(Device::cpu);
  const GruShape s = make_shape(150, 64, 125, 100);
  const std::int64_t start = params.offset(gru.weight_ih_index());
  EXPECT_EQ(start, ParameterSet::kAlignment);
  EXPECT_EQ(params.offset(gru.weight_hh_index()), start + 300 * 125);
  EXPECT_EQ(params.offset(gru.bias_ih_index()), start + 300 * 225);
  EXPECT_EQ(params.offset(gru.bias_hh_index()), start + 300 * 226);
  EXPECT_EQ(params.offset(params.find("after")) % ParameterSet::kAlignment, 0);
  EXPECT_GE(params.offset(params.find("after")), start + kernels::gru_packed_elements(s));
  const auto value = [&](int i) { return params.value(i).data<float>(); };
  const auto grad = [&](int i) { return params.grad(i).data<float>(); };
  const kernels::GruWeights weights{value(gru.weight_ih_index()), value(gru.weight_hh_index()),
                                    value(gru.bias_ih_index()), value(gru.bias_hh_index())};
  const kernels::GruGradients grads{grad(gru.weight_ih_index()), grad(gru.weight_hh_index()), grad(gru.bias_ih_index()),
                                    grad(gru.bias_hh_index())};
  EXPECT_TRUE(kernels::gru_weights_packed(s, weights));
  EXPECT_TRUE(kernels::gru_gradients_packed(s, grads));
  // Another layout has another fingerprint (a training checkpoint's optimizer state is refused across them).
  ParameterSet padded;
  padded.declare("before", {3});
  for (const char* name : {"gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0"})
    padded.declare(name, params.shape(params.find(name)));
  padded.declare("after", {2});
  EXPECT_NE(padded.layout_fingerprint(), params.layout_fingerprint());
  ParameterSet same;
  same.declare("before", {3});
  GRU twin(same, "gru", 125, 100);
  same.declare("after", {2});
  EXPECT_EQ(same.layout_fingerprint(), params.layout_fingerprint());
  EXPECT_EQ(params.layout_fingerprint().rfind("fnv1a64:", 0), 0u);
}

TEST(GruLayer, DefaultInitIsUniformWithinOneOverSqrtH) {
  ParameterSet params;
  GRU gru(params, "gru", 125, 100);
  params.allocate(Device::cpu);
  gru.init_default(7);
  for (int i = 0; i < params.size(); ++i) {
    const std::vector<float> v = params.value(i).to_vector();
    float lo = 1, hi = -1;
    for (float e : v) lo = std::min(lo, e), hi = std::max(hi, e);
    // U(-0.1, 0.1) for H = 100; with >= 300 draws the extremes come within 0.01 of the bounds.
    EXPECT_GE(lo, -0.1f) << params.name(i);
    EXPECT_LE(hi, 0.1f) << params.name(i);
    EXPECT_LT(lo, -0.09f) << params.name(i);
    EXPECT_GT(hi, 0.09f) << params.name(i);
  }
}

TEST(GruLayer, CpuLayerMatchesReferenceInBothLayouts) {
  const GruData d = make_data(make_shape(5, 3, 6, 7), 51, 0.5f);
  const Result<double> expected = reference(d);
  const Result<float> tnc = run_layer(d, Device::cpu, layer_options(kernels::GruImplementation::cudnn, SequenceLayout::tnc));
  const Result<float> ntc = run_layer(d, Device::cpu, layer_options(kernels::GruImplementation::naive, SequenceLayout::ntc));
  expect_result_close(tnc, expected, kCpuBound, "CPU layer tnc");
  // The transposes only move floats and the CPU twin runs the same sums: bit-identical.
  EXPECT_EQ(ntc.h, tnc.h);
  EXPECT_EQ(ntc.dx, tnc.dx);
  EXPECT_EQ(ntc.dw_ih, tnc.dw_ih);
  EXPECT_EQ(ntc.dw_hh, tnc.dw_hh);
}

TEST(GruLayer, RejectsAWrongInputShape) {
  ParameterSet params;
  GRU gru(params, "gru", 4, 3);
  params.allocate(Device::cpu);
  EXPECT_THROW(gru.setup(Context::cpu(), {5, 2, 3}, GruOptions{}), Error);
  gru.setup(Context::cpu(), {5, 2, 4}, GruOptions{});
  EXPECT_THROW(gru.forward(Context::cpu(), Tensor::zeros({2, 5, 4}, DType::f32)), Error);
}

TEST(GruLayer, ForwardAndBackwardAllocateNothingAfterSetup) {
  const GruData d = make_data(make_shape(5, 3, 6, 7), 52, 0.5f);
  for (SequenceLayout layout : {SequenceLayout::tnc, SequenceLayout::ntc}) {
    LayerUnderTest layer(d, Device::cpu);
    const Shape input = layout == SequenceLayout::ntc ? Shape{3, 5, 6} : Shape{5, 3, 6};
    layer.gru.setup(Context::cpu(), input, layer_options(kernels::GruImplementation::naive, layout));
    const Tensor x = Tensor::zeros(input, DType::f32);
    const Tensor dh = Tensor::zeros(layer.gru.output_shape(), DType::f32);
    const auto before = allocation_count();
    for (int step = 0; step < 2; ++step) {
      layer.gru.forward(Context::cpu(), x);
      layer.gru.backward(Context::cpu(), dh);
    }
    EXPECT_EQ(allocation_count(), before) << sequence_layout_name(layout);
  }
}

#if ROSETTA_WITH_CUDA  // a CPU-only build has no CUDA twin to link

// ---- GPU -------------------------------------------------------------------------------------------------------

struct DeviceData {
  Tensor x, w_ih, w_hh, b_ih, b_hh, dh;
  explicit DeviceData(const GruData& d)
      : x(testing::to_cuda(d.x)),
        w_ih(testing::to_cuda(d.w_ih)),
        w_hh(testing::to_cuda(d.w_hh)),
        b_ih(testing::to_cuda(d.b_ih)),
        b_hh(testing::to_cuda(d.b_hh)),
        dh(testing::to_cuda(d.dh)) {}
  kernels::GruWeights weights() const {
    return {w_ih.data<float>(), w_hh.data<float>(), b_ih.data<float>(), b_hh.data<float>()};
  }
};

struct DeviceResult {
  Tensor h, dx, dw_ih, dw_hh, db_ih, db_hh;
  explicit DeviceResult(const GruShape& s)
      : h(Tensor::empty({s.t * s.n * s.h}, DType::f32, Device::cuda)),
        dx(Tensor::empty({s.t * s.n * s.i}, DType::f32, Device::cuda)),
        dw_ih(Tensor::empty({3 * s.h * s.i}, DType::f32, Device::cuda)),
        dw_hh(Tensor::empty({3 * s.h * s.h}, DType::f32, Device::cuda)),
        db_ih(Tensor::empty({3 * s.h}, DType::f32, Device::cuda)),
        db_hh(Tensor::empty({3 * s.h}, DType::f32, Device::cuda)) {}
  kernels::GruGradients grads() const {
    return {dw_ih.data<float>(), dw_hh.data<float>(), db_ih.data<float>(), db_hh.data<float>()};
  }
  Result<float> host() const {
    return {h.to_vector(), dx.to_vector(), dw_ih.to_vector(), dw_hh.to_vector(), db_ih.to_vector(), db_hh.to_vector()};
  }
};

// One forward and backward of `plan` on the GPU.
Result<float> run_plan(const GruData& d, const kernels::GruPlan& plan) {
  Context& gpu = Context::cuda();
  const DeviceData in(d);
  DeviceResult out(d.s);
  Tensor reserve;
  if (plan.reserve_elements > 0) reserve = Tensor::empty({plan.reserve_elements}, DType::f32, Device::cuda);
  float* kept = reserve.defined() ? reserve.data<float>() : nullptr;
  kernels::gru_forward(gpu, plan, in.x.data<float>(), in.weights(), out.h.data<float>(), kept);
  kernels::gru_backward(gpu, plan, in.x.data<float>(), in.weights(), out.h.data<float>(), kept, in.dh.data<float>(),
                        out.dx.data<float>(), out.grads());
  return out.host();
}

Result<float> cuda_naive(const GruData& d, Precision precision) {
  kernels::GruOptions options;
  options.precision = precision, options.implementation = kernels::GruImplementation::naive;
  return run_plan(d, kernels::make_gru_plan(Context::cuda(), d.s, options));
}

Result<float> cuda_cudnn(const GruData& d, const kernels::GruPlan& plan) { return run_plan(d, plan); }

Result<float> cuda_persistent(const GruData& d, Precision precision = Precision::fp32) {
  kernels::GruOptions options;
  options.precision = precision, options.implementation = kernels::GruImplementation::persistent;
  return run_plan(d, kernels::make_gru_plan(Context::cuda(), d.s, options));
}

int sm_count() {
  int device = 0, count = 0;
  EXPECT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), cudaSuccess);
  return count;
}

kernels::GruPlan cudnn_plan(const GruShape& s, Precision precision,
                            kernels::GruCudnnAlgorithm algorithm = kernels::GruCudnnAlgorithm::standard,
                            bool padded_io = false) {
  kernels::GruOptions options;
  options.precision = precision, options.algorithm = algorithm, options.padded_io = padded_io;
  return kernels::make_gru_plan(Context::cuda(), s, options);
}

const GruShape kWorkload = make_shape(150, 64, 125, 100);

// The workload's shape with PyTorch's init scale and dh at every step, and its double reference (computed once).
const GruData& workload_data() {
  static const GruData d = make_data(kWorkload, 61, 0.1f);
  return d;
}
const Result<double>& workload_reference() {
  static const Result<double> r = reference(workload_data());
  return r;
}

const GruData& small_data() {
  static const GruData d = make_data(make_shape(9, 5, 13, 24), 62, 0.5f);
  return d;
}

TEST(GruCuda, NaiveMatchesReference) {
  ROSETTA_REQUIRE_CUDA();
  expect_result_close(cuda_naive(small_data(), Precision::fp32), reference(small_data()), kGpuBound, "naive small");
  expect_result_close(cuda_naive(workload_data(), Precision::fp32), workload_reference(), kGpuBound,
                      "naive workload");
}

TEST(GruCuda, CudnnMatchesReference) {
  ROSETTA_REQUIRE_CUDA();
  expect_result_close(cuda_cudnn(small_data(), cudnn_plan(small_data().s, Precision::fp32)), reference(small_data()),
                      kGpuBound, "cuDNN small");
  // The model's case too: only the last step's output carries a gradient.
  const GruData last = make_data(kWorkload, 63, 0.1f, /*last_step_only=*/true);
  const kernels::GruPlan plan = cudnn_plan(kWorkload, Precision::fp32);
  EXPECT_EQ(plan.cudnn->math_type, CUDNN_FMA_MATH);
  expect_result_close(cuda_cudnn(workload_data(), plan), workload_reference(), kGpuBound, "cuDNN workload");
  expect_result_close(cuda_cudnn(last, plan), reference(last), kGpuBound, "cuDNN workload, last step only");
}

// The autotuned plan: every algorithm tried, the standard one accepted, the kept one the fastest accepted, and
// its GRU the reference's.
TEST(GruCuda, FastestPlanTimesEveryAlgorithmAndMatchesReference) {
  ROSETTA_REQUIRE_CUDA();
  kernels::gru_algorithm_cache().clear();  // an earlier test's search of this shape would be taken from the cache
  const kernels::GruPlan plan = kernels::make_gru_plan(Context::cuda(), kWorkload, {});
  EXPECT_EQ(plan.source, kernels::GruChoiceSource::timed);
  ASSERT_EQ(plan.trials.size(), 4u);
  EXPECT_EQ(plan.trials[0].algorithm, kernels::GruCudnnAlgorithm::standard);
  EXPECT_TRUE(plan.trials[0].accepted);
  double fastest = plan.trials[0].milliseconds, kept = -1;
  for (const kernels::GruAlgorithmTrial& t : plan.trials) {
    if (!t.accepted) {
      EXPECT_FALSE(t.refusal.empty());
      continue;
    }
    EXPECT_GT(t.milliseconds, 0.0);
    fastest = std::min(fastest, t.milliseconds);
    if (t.algorithm == *plan.options.algorithm) kept = t.milliseconds;
  }
  EXPECT_EQ(kept, fastest);
  std::printf("[rosetta] kept %s\n", kernels::gru_cudnn_algorithm_name(*plan.options.algorithm));
  expect_result_close(cuda_cudnn(workload_data(), plan), workload_reference(), kGpuBound, "cuDNN fastest");
}

// The search's choice is cached by its key: the second plan of the same key times nothing and takes it; a choice
// put into the cache by hand (as a file would) is what the plan runs; another key (tf32) is searched afresh.
TEST(GruCuda, SearchedChoiceIsCachedAndTheNextPlanTimesNothing) {
  ROSETTA_REQUIRE_CUDA();
  kernels::GruAlgorithmCache& cache = kernels::gru_algorithm_cache();
  cache.clear();
  const GruShape s = small_data().s;
  const kernels::GruPlan first = kernels::make_gru_plan(Context::cuda(), s, {});
  EXPECT_EQ(first.source, kernels::GruChoiceSource::timed);
  ASSERT_EQ(cache.size(), 1u);
  const kernels::GruCacheEntry entry = cache.entries()[0];
  EXPECT_EQ(entry.key.shape.str(), s.str());
  EXPECT_EQ(entry.choice.algorithm, *first.options.algorithm);

  const kernels::GruPlan second = kernels::make_gru_plan(Context::cuda(), s, {});
  EXPECT_EQ(second.source, kernels::GruChoiceSource::cache);
  EXPECT_TRUE(second.trials.empty());
  EXPECT_EQ(*second.options.algorithm, *first.options.algorithm);

  kernels::GruCacheChoice standard = entry.choice;
  standard.algorithm = kernels::GruCudnnAlgorithm::standard;
  cache.insert(entry.key, standard);
  const kernels::GruPlan given = kernels::make_gru_plan(Context::cuda(), s, {});
  EXPECT_EQ(given.source, kernels::GruChoiceSource::cache);
  EXPECT_EQ(*given.options.algorithm, kernels::GruCudnnAlgorithm::standard);
  expect_result_close(cuda_cudnn(small_data(), given), reference(small_data()), kGpuBound, "cuDNN from the cache");

  kernels::GruOptions tf32;
  tf32.precision = Precision::tf32;
  EXPECT_EQ(kernels::make_gru_plan(Context::cuda(), s, tf32).source, kernels::GruChoiceSource::timed);
  EXPECT_EQ(cache.size(), 2u);
}

// The ablation's unpacked layout with padded I/O computes the same GRU (same memory, another descriptor).
TEST(GruCuda, CudnnPaddedIoMatchesReference) {
  ROSETTA_REQUIRE_CUDA();
  const kernels::GruPlan plan =
      cudnn_plan(kWorkload, Precision::fp32, kernels::GruCudnnAlgorithm::standard, /*padded_io=*/true);
  expect_result_close(cuda_cudnn(workload_data(), plan), workload_reference(), kGpuBound, "cuDNN padded I/O");
}

// cuDNN 9's weight space for this GRU is the packed block, so the layer's parameters are read and their gradients
// written in place; the copy path (weights in separate buffers) computes the same GRU. Both run the same cuDNN
// kernels on the same values, but cuDNN does not promise bitwise repeatability: kRepeatBound.
TEST(GruCuda, CudnnReadsPackedWeightsInPlaceAndTheCopyPathAgrees) {
  ROSETTA_REQUIRE_CUDA();
  const GruData& d = workload_data();
  for (kernels::GruCudnnAlgorithm algorithm :
       {kernels::GruCudnnAlgorithm::standard, kernels::GruCudnnAlgorithm::persist_static_small_h}) {
    kernels::GruPlan plan;
    try {
      plan = cudnn_plan(d.s, Precision::fp32, algorithm);
    } catch (const Error& e) {
      std::printf("[rosetta] %s not planned here: %s\n", kernels::gru_cudnn_algorithm_name(algorithm), e.what());
      continue;
    }
    const std::string name = kernels::gru_cudnn_algorithm_name(algorithm);
    EXPECT_TRUE(plan.cudnn_space_packed) << name << ": " << plan.cudnn_space_note;
    const Result<float> copied = cuda_cudnn(d, plan);  // four separate buffers: the copy path
    // The same values as one packed block, as the layer keeps them.
    std::vector<float> block;
    for (const std::vector<float>* part : {&d.w_ih, &d.w_hh, &d.b_ih, &d.b_hh}) block.insert(block.end(), part->begin(), part->end());
    const Tensor weights = testing::to_cuda(block);
    Tensor grads = Tensor::empty({kernels::gru_packed_elements(d.s)}, DType::f32, Device::cuda);
    const kernels::GruWeights packed = kernels::gru_packed_weights(d.s, weights.data<float>());
    const kernels::GruGradients packed_grads = kernels::gru_packed_gradients(d.s, grads.data<float>());
    const DeviceData in(d);
    DeviceResult out(d.s);
    kernels::gru_forward(Context::cuda(), plan, in.x.data<float>(), packed, out.h.data<float>(), nullptr);
    kernels::gru_backward(Context::cuda(), plan, in.x.data<float>(), packed, out.h.data<float>(), nullptr,
                          in.dh.data<float>(), out.dx.data<float>(), packed_grads);
    Result<float> in_place = out.host();
    const std::vector<float> g = grads.to_vector();
    const auto slice = [&](kernels::GruTensor t) {
      const auto at = g.begin() + kernels::gru_packed_offset(d.s, t);
      return std::vector<float>(at, at + kernels::gru_tensor_elements(d.s, t));
    };
    in_place.dw_ih = slice(kernels::GruTensor::w_ih), in_place.dw_hh = slice(kernels::GruTensor::w_hh);
    in_place.db_ih = slice(kernels::GruTensor::b_ih), in_place.db_hh = slice(kernels::GruTensor::b_hh);
    expect_result_close(in_place, workload_reference(), kGpuBound, name + " in place");
    expect_normwise(in_place.h, to_double(copied.h), kRepeatBound, name + " in place vs copied h");
    expect_normwise(in_place.dx, to_double(copied.dx), kRepeatBound, name + " in place vs copied dx");
    expect_normwise(in_place.dw_ih, to_double(copied.dw_ih), kRepeatBound, name + " in place vs copied dW_ih");
    expect_normwise(in_place.dw_hh, to_double(copied.dw_hh), kRepeatBound, name + " in place vs copied dW_hh");
    expect_normwise(in_place.db_hh, to_double(copied.db_hh), kRepeatBound, name + " in place vs copied db_hh");
  }
}

TEST(GruCuda, CudnnWeightSpaceMapCoversEveryParameterOnce) {
  ROSETTA_REQUIRE_CUDA();
  const GruShape s = small_data().s;
  const kernels::GruPlan plan = cudnn_plan(s, Precision::fp32);
  std::size_t bytes[4] = {};
  for (const kernels::GruWeightSegment& seg : plan.cudnn->segments) {
    bytes[static_cast<int>(seg.tensor)] += seg.bytes;
    EXPECT_LE(seg.space_offset + seg.bytes, plan.cudnn->weight_space_bytes);
  }
  EXPECT_EQ(bytes[0], static_cast<std::size_t>(3 * s.h * s.i) * sizeof(float));
  EXPECT_EQ(bytes[1], static_cast<std::size_t>(3 * s.h * s.h) * sizeof(float));
  EXPECT_EQ(bytes[2], static_cast<std::size_t>(3 * s.h) * sizeof(float));
  EXPECT_EQ(bytes[3], static_cast<std::size_t>(3 * s.h) * sizeof(float));
}

TEST(GruCuda, PersistentAlgorithmsMatchReferenceWhereCudnnAcceptsThem) {
  ROSETTA_REQUIRE_CUDA();
  std::string rejected;
  int accepted = 0;
  for (auto algorithm : {kernels::GruCudnnAlgorithm::persist_static, kernels::GruCudnnAlgorithm::persist_dynamic,
                         kernels::GruCudnnAlgorithm::persist_static_small_h}) {
    kernels::GruPlan plan;
    try {
      plan = cudnn_plan(kWorkload, Precision::fp32, algorithm);
    } catch (const Error& e) {
      rejected += std::string("\n") + e.what();
      continue;
    }
    ++accepted;
    expect_result_close(cuda_cudnn(workload_data(), plan), workload_reference(), kGpuBound,
                        std::string("cuDNN ") + kernels::gru_cudnn_algorithm_name(algorithm));
  }
  if (accepted == 0) GTEST_SKIP() << "cuDNN accepts no persistent algorithm here:" << rejected;
  if (!rejected.empty()) std::printf("[rosetta] persistent algorithms cuDNN rejected:%s\n", rejected.c_str());
}

// The persistent GRU against the double reference: the workload's shape (dh at every step, and at the last only, the
// model's case), and the awkward ones: a hidden size that is not a multiple of 32 (and so a partial column slice), a
// single sequence, a single step (no recurrence), more sequences than SMs (several a block, and a partial last
// block), the largest hidden size its tiles take (the 8 x 16 tiles at 384 threads) and H = 1. Its sums are short
// (<= 16-term chains, then <= 24 slices) in float: kGpuBound as for the other GPU paths.
TEST(GruCuda, PersistentMatchesReferenceAtTheWorkloadShape) {
  ROSETTA_REQUIRE_CUDA();
  expect_result_close(cuda_persistent(workload_data()), workload_reference(), kGpuBound, "persistent workload");
  const GruData last = make_data(kWorkload, 65, 0.1f, /*last_step_only=*/true);
  expect_result_close(cuda_persistent(last), reference(last), kGpuBound, "persistent workload, last step only");
}

// Small, so compute-sanitizer's memcheck and racecheck run it in seconds (tools/gpu_check.sh, phase gru13).
TEST(GruCuda, PersistentMatchesReferenceAtAwkwardShapes) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t many = 2 * sm_count() + 3;
  for (const GruShape& s : {make_shape(9, 5, 13, 33), make_shape(7, 1, 5, 24), make_shape(1, 6, 4, 20),
                            make_shape(4, many, 6, 40), make_shape(3, 3, 5, 128), make_shape(6, 4, 3, 1)}) {
    const GruData d = make_data(s, 66, 0.5f);
    expect_result_close(cuda_persistent(d), reference(d), kGpuBound, "persistent " + s.str());
  }
}

// No atomics and one order for every sum: the same bits run to run, at the workload's shape and with several
// sequences a block.
TEST(GruCuda, PersistentIsDeterministic) {
  ROSETTA_REQUIRE_CUDA();
  expect_result_equal(cuda_persistent(workload_data()), cuda_persistent(workload_data()));
  const GruData d = make_data(make_shape(5, 2 * sm_count() + 3, 6, 40), 67, 0.5f);
  expect_result_equal(cuda_persistent(d), cuda_persistent(d));
}

TEST(GruCuda, PersistentRefusesAShapeWhoseWeightsDoNotFitOnChip) {
  ROSETTA_REQUIRE_CUDA();
  kernels::GruOptions options;
  options.implementation = kernels::GruImplementation::persistent;
  try {
    kernels::make_gru_plan(Context::cuda(), make_shape(5, 4, 8, 200), options);
    ADD_FAILURE() << "a persistent GRU of H 200 was planned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("T 5 N 4 I 8 H 200"), std::string::npos) << e.what();
  }
}

// auto times cuDNN's four algorithms and the persistent GRU, keeps the fastest, and caches the choice under the
// candidates "auto" (a key of its own, apart from cudnn's).
TEST(GruCuda, AutoTimesCudnnAndThePersistentGruAndKeepsTheFastest) {
  ROSETTA_REQUIRE_CUDA();
  kernels::gru_algorithm_cache().clear();
  kernels::GruOptions options;
  options.implementation = kernels::GruImplementation::automatic;
  const kernels::GruPlan plan = kernels::make_gru_plan(Context::cuda(), kWorkload, options);
  ASSERT_EQ(plan.trials.size(), 5u);
  EXPECT_EQ(plan.trials[4].implementation, kernels::GruImplementation::persistent);
  EXPECT_TRUE(plan.trials[4].accepted) << plan.trials[4].refusal;
  double fastest = plan.trials[0].milliseconds, kept = -1;
  for (const kernels::GruAlgorithmTrial& t : plan.trials) {
    if (!t.accepted) continue;
    fastest = std::min(fastest, t.milliseconds);
    const bool same = t.implementation == plan.options.implementation &&
                      (t.implementation != kernels::GruImplementation::cudnn || t.algorithm == *plan.options.algorithm);
    if (same) kept = t.milliseconds;
    std::printf("[rosetta] %s %s: %.3f ms\n", kernels::gru_implementation_name(t.implementation),
                kernels::gru_cudnn_algorithm_name(t.algorithm), t.milliseconds);
  }
  EXPECT_EQ(kept, fastest);
  EXPECT_NE(plan.options.implementation, kernels::GruImplementation::automatic);
  EXPECT_EQ(plan.uses_cudnn(), plan.options.implementation == kernels::GruImplementation::cudnn);
  EXPECT_EQ(plan.persistent.has_value(), plan.options.implementation == kernels::GruImplementation::persistent);
  ASSERT_EQ(kernels::gru_algorithm_cache().size(), 1u);
  EXPECT_EQ(kernels::gru_algorithm_cache().entries()[0].key.candidates, kernels::GruImplementation::automatic);
  expect_result_close(run_plan(workload_data(), plan), workload_reference(), kGpuBound, "auto's choice");
}

TEST(GruCuda, Tf32StaysNearReference) {
  ROSETTA_REQUIRE_CUDA();
  const GruData d = make_data(make_shape(20, 16, 32, 48), 64, 0.2f);
  const Result<double> expected = reference(d);
  const kernels::GruPlan plan = cudnn_plan(d.s, Precision::tf32);
  EXPECT_EQ(plan.cudnn->math_type, CUDNN_DEFAULT_MATH);
  expect_result_close(cuda_cudnn(d, plan), expected, kTf32Bound, "cuDNN tf32");
  expect_result_close(cuda_naive(d, Precision::tf32), expected, kTf32Bound, "naive tf32");
  expect_result_close(cuda_persistent(d, Precision::tf32), expected, kTf32Bound, "persistent tf32");
}

TEST(GruCuda, NaiveIsDeterministic) {
  ROSETTA_REQUIRE_CUDA();
  // No atomics anywhere: cuBLAS GEMMs and bias_backward reduce in a fixed order.
  const Result<float> first = cuda_naive(small_data(), Precision::fp32);
  const Result<float> second = cuda_naive(small_data(), Precision::fp32);
  expect_result_equal(first, second);
}

TEST(GruCudaLayer, BothImplementationsAndLayoutsMatchTheReference) {
  ROSETTA_REQUIRE_CUDA();
  const GruData d = small_data();
  const Result<double> expected = reference(d);
  for (kernels::GruImplementation implementation : {kernels::GruImplementation::cudnn, kernels::GruImplementation::persistent,
                                                    kernels::GruImplementation::naive}) {
    const Result<float> tnc = run_layer(d, Device::cuda, layer_options(implementation, SequenceLayout::tnc));
    const Result<float> ntc = run_layer(d, Device::cuda, layer_options(implementation, SequenceLayout::ntc));
    const std::string name = kernels::gru_implementation_name(implementation);
    expect_result_close(tnc, expected, kGpuBound, name + " layer tnc");
    expect_result_close(ntc, expected, kGpuBound, name + " layer ntc");
    // Same kernels on the same (transposed back and forth) values. The naive and persistent paths have no atomics,
    // so the layouts agree to the bit; cuDNN does not promise bitwise repeatability, so it gets kRepeatBound.
    if (implementation != kernels::GruImplementation::cudnn) {
      EXPECT_EQ(ntc.h, tnc.h);
      EXPECT_EQ(ntc.dx, tnc.dx);
      EXPECT_EQ(ntc.dw_hh, tnc.dw_hh);
    } else {
      expect_normwise(ntc.h, to_double(tnc.h), kRepeatBound, "cuDNN ntc vs tnc h");
      expect_normwise(ntc.dx, to_double(tnc.dx), kRepeatBound, "cuDNN ntc vs tnc dx");
      expect_normwise(ntc.dw_hh, to_double(tnc.dw_hh), kRepeatBound, "cuDNN ntc vs tnc dW_hh");
    }
  }
}

TEST(GruCudaLayer, StepAllocatesNothingAndReplaysAsACudaGraph) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  const GruData d = small_data();
  for (kernels::GruImplementation implementation : {kernels::GruImplementation::cudnn, kernels::GruImplementation::persistent,
                                                    kernels::GruImplementation::naive}) {
    const std::string name = kernels::gru_implementation_name(implementation);
    LayerUnderTest layer(d, Device::cuda);
    layer.gru.setup(gpu, {d.s.t, d.s.n, d.s.i}, layer_options(implementation, SequenceLayout::tnc));
    const Tensor x = Tensor::from_vector({d.s.t, d.s.n, d.s.i}, d.x).to(Device::cuda);
    const Tensor dh = Tensor::from_vector({d.s.t, d.s.n, d.s.h}, d.dh).to(Device::cuda);
    const auto step = [&] {
      layer.gru.forward(gpu, x);
      layer.gru.backward(gpu, dh);
    };
    if (implementation == kernels::GruImplementation::cudnn) {
      EXPECT_EQ(layer.gru.weight_space(), "in place");
    }
    step();
    gpu.synchronize();
    const std::vector<float> eager_dw = layer.params.grad(layer.gru.weight_hh_index()).to_vector();
    const auto before = allocation_count();
    step();
    gpu.synchronize();
    EXPECT_EQ(allocation_count(), before) << name;

    layer.params.zero_grads(gpu);
    CudaGraph graph;
    graph.capture(gpu, step);
    graph.launch(gpu);
    gpu.synchronize();
    expect_normwise(layer.params.grad(layer.gru.weight_hh_index()).to_vector(), to_double(eager_dw), kRepeatBound,
                    name + " graph replay dW_hh");
  }
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
