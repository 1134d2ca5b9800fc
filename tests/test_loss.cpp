// Softmax cross-entropy and count_correct: hand-computed values, numerical stability, PyTorch's
// cross_entropy as an oracle, a central-difference check of the reference gradient in double, arg-max ties,
// and the CUDA twin against the CPU twin.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/loss.h"
#include "kernels/reference/loss.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"
#include "tests/support/python.h"

namespace rosetta {
namespace {

constexpr double kFloatEps = 1.0 / (1 << 24);  // unit roundoff of float, 2^-24

struct LossResult {
  float loss = 0;
  std::vector<float> dlogits;
};

LossResult cpu_loss(const std::vector<float>& logits, const std::vector<std::int32_t>& labels, std::int64_t k) {
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  LossResult r;
  r.dlogits.assign(logits.size(), std::numeric_limits<float>::quiet_NaN());
  kernels::cpu::softmax_cross_entropy(Context::cpu(), logits.data(), labels.data(), &r.loss, r.dlogits.data(), n, k, n);
  return r;
}

std::int32_t cpu_count(const std::vector<float>& logits, const std::vector<std::int32_t>& labels, std::int64_t k,
                       std::int32_t start) {
  std::int32_t correct = start;
  kernels::cpu::count_correct(Context::cpu(), logits.data(), labels.data(), &correct,
                              static_cast<std::int64_t>(labels.size()), k);
  return correct;
}

// Tolerance rule against double math: the CPU twin computes in double and rounds each output once, so it is
// within 2^-24 relative of the closed form; 4 ulps leave room for exp/log's last-bit differences.
TEST(SoftmaxCrossEntropyCpu, MatchesHandComputedValues) {
  // Row 0: logits (1, 2, 3), label 2. Row 1: logits (0, 0, 0), label 0.
  const LossResult r = cpu_loss({1, 2, 3, 0, 0, 0}, {2, 0}, 3);
  const double loss0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, loss1 = std::log(3.0);
  EXPECT_NEAR(r.loss, (loss0 + loss1) / 2, 4 * kFloatEps * 0.75);
  EXPECT_NEAR(r.loss, 0.753109126556245, 4 * kFloatEps * 0.75);
  const double softmax0[3] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
  const double expected[6] = {softmax0[0] / 2, softmax0[1] / 2, (softmax0[2] - 1) / 2,
                              (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.dlogits[i], expected[i], 4 * kFloatEps * std::abs(expected[i])) << i;
}

// Two ranks' shares of a batch, each averaged over the whole batch (mean_over = n), sum to the whole batch's loss
// and are its gradient rows: the rule that makes the all-reduced gradient the global one (docs/distributed.md).
TEST(SoftmaxCrossEntropyCpu, SharesAveragedOverTheGlobalBatchSumToTheWholeBatch) {
  const std::int64_t n = 6, k = 4, half = n / 2;
  const std::vector<float> logits = testing::random_floats(n * k, -3.0f, 3.0f, 21);
  const std::vector<std::int32_t> labels{0, 3, 1, 2, 2, 0};
  const LossResult whole = cpu_loss(logits, labels, k);
  float loss[2];
  std::vector<float> dlogits(n * k);
  for (int r = 0; r < 2; ++r)
    kernels::cpu::softmax_cross_entropy(Context::cpu(), logits.data() + r * half * k, labels.data() + r * half,
                                        &loss[r], dlogits.data() + r * half * k, half, k, n);
  // The gradient rows are the same double expression rounded once: equal. The loss: each half rounded (u of it),
  // their float sum rounded (u), against the whole rounded once (u): within 3u of the loss.
  EXPECT_EQ(dlogits, whole.dlogits);
  EXPECT_NEAR(loss[0] + loss[1], whole.loss, 3 * kFloatEps * whole.loss);
  EXPECT_THROW(kernels::cpu::softmax_cross_entropy(Context::cpu(), logits.data(), labels.data(), &loss[0],
                                                   dlogits.data(), n, k, n - 1),
               Error);
}

TEST(SoftmaxCrossEntropyCpu, IsStableForHugeLogits) {
  // Max-subtraction: exp never sees more than 0, so logits of +-1000 give exact, finite answers.
  const LossResult r = cpu_loss({1000, 0, -1000, -1000, 1000, 0}, {0, 0}, 3);
  EXPECT_FLOAT_EQ(r.loss, 1000.0f);  // row 0: ~0 (e^-1000 vanishes); row 1: 2000
  const std::vector<float> expected{0, 0, 0, -0.5f, 0.5f, 0};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(r.dlogits[i], expected[i]) << i;
}

TEST(SoftmaxCrossEntropyCpu, RejectsLabelsOutsideTheClasses) {
  EXPECT_THROW(cpu_loss({1, 2, 3}, {3}, 3), Error);
  EXPECT_THROW(cpu_loss({1, 2, 3}, {-1}, 3), Error);
}

TEST(SoftmaxCrossEntropyCpu, MatchesTorchCrossEntropy) {
  ROSETTA_REQUIRE_TORCH();
  const std::int64_t n = 8, k = 10;
  const std::vector<float> logits = testing::random_floats(n * k, -5.0f, 5.0f, 11);
  std::vector<std::int32_t> labels(n);
  std::string label_list = "[";
  for (std::int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<std::int32_t>((i * 3) % k);
    label_list += (i ? ", " : "") + std::to_string(labels[i]);
  }
  label_list += "]";
  const std::vector<double> torch = testing::python_numbers(
      "import torch\n"
      "x = torch.tensor(" + testing::python_list(logits) + ", dtype=torch.float32).reshape(" + std::to_string(n) +
      ", " + std::to_string(k) + ").requires_grad_()\n"
      "y = torch.tensor(" + label_list + ", dtype=torch.int64)\n"
      "loss = torch.nn.functional.cross_entropy(x, y)\n"
      "loss.backward()\n"
      "print(repr(loss.item()))\n"
      "for v in x.grad.flatten().tolist(): print(repr(v))\n");
  ASSERT_EQ(torch.size(), static_cast<std::size_t>(1 + n * k));
  const LossResult r = cpu_loss(logits, labels, k);
  // Tolerance rule: PyTorch computes log_softmax in float (a float sum of k exps, a log, x - max - log sum):
  // each row's value is within ~16 ulps of the logits' scale (1 + max |x| + log k); rosetta is within one
  // rounding of the exact value. The gradient entries ((p - onehot) / n) get 16 ulps of (|g| + 1/n).
  const double loss_bound = 16 * kFloatEps * (1 + 5 + std::log(double(k)));
  EXPECT_NEAR(r.loss, torch[0], loss_bound);
  for (std::int64_t i = 0; i < n * k; ++i)
    EXPECT_NEAR(r.dlogits[i], torch[1 + i], 16 * kFloatEps * (std::abs(torch[1 + i]) + 1.0 / n)) << "element " << i;
}

TEST(SoftmaxCrossEntropyReference, GradientMatchesCentralDifferences) {
  const std::int64_t n = 4, k = 5;
  const std::vector<std::int32_t> labels{0, 4, 2, 2};
  const testing::Forward forward = [&](const std::vector<double>& x) {
    std::vector<double> loss(1), dlogits(x.size());
    kernels::reference::softmax_cross_entropy(x.data(), labels.data(), loss.data(), dlogits.data(), n, k, n);
    return loss;
  };
  const testing::Backward backward = [&](const std::vector<double>& x, const std::vector<double>& dy) {
    std::vector<double> loss(1), dlogits(x.size());
    kernels::reference::softmax_cross_entropy(x.data(), labels.data(), loss.data(), dlogits.data(), n, k, n);
    for (double& g : dlogits) g *= dy[0];
    return dlogits;
  };
  EXPECT_EQ(testing::check_gradient(forward, backward, testing::random_doubles(n * k, -3.0, 3.0, 5)), n * k);
}

TEST(CountCorrectCpu, TakesTheFirstMaximumAndAccumulates) {
  const std::int64_t k = 3;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> logits{
      1, 3, 3,    // tie between 1 and 2: arg-max 1
      1, 3, 3,    // same row, label 2: wrong
      5, 5, 5,    // all equal: arg-max 0
      0, 2, 1,    // plain
      1, nan, 5,  // NaN is the largest, as torch.argmax: arg-max 1
      -7, -7, -9  // negative tie: arg-max 0
  };
  const std::vector<std::int32_t> labels{1, 2, 0, 1, 1, 0};
  EXPECT_EQ(cpu_count(logits, labels, k, 10), 10 + 5);
}

#if ROSETTA_WITH_CUDA  // the CUDA twins exist only in CUDA builds
// ---- CUDA twin -------------------------------------------------------------------------------------------

LossResult cuda_loss(const std::vector<float>& logits, const std::vector<std::int32_t>& labels, std::int64_t k) {
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  Context& gpu = Context::cuda();
  Tensor x = testing::to_cuda(Tensor::from_vector({n, k}, logits));
  Tensor y = Tensor::empty({n}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) y.data<std::int32_t>()[i] = labels[i];
  Tensor yd = testing::to_cuda(y);
  Tensor loss = Tensor::empty({1}, DType::f32, Device::cuda);
  Tensor dx = Tensor::empty({n, k}, DType::f32, Device::cuda);
  kernels::cuda::softmax_cross_entropy(gpu, x.data<float>(), yd.data<std::int32_t>(), loss.data<float>(),
                                       dx.data<float>(), n, k, n);
  gpu.synchronize();
  return {loss.to_vector()[0], dx.to_vector()};
}

std::int32_t cuda_count(const std::vector<float>& logits, const std::vector<std::int32_t>& labels, std::int64_t k,
                        std::int32_t start) {
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  Context& gpu = Context::cuda();
  Tensor x = testing::to_cuda(Tensor::from_vector({n, k}, logits));
  Tensor y = Tensor::empty({n}, DType::i32), correct = Tensor::empty({1}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) y.data<std::int32_t>()[i] = labels[i];
  correct.data<std::int32_t>()[0] = start;
  Tensor yd = testing::to_cuda(y), correct_d = testing::to_cuda(correct);
  kernels::cuda::count_correct(gpu, x.data<float>(), yd.data<std::int32_t>(), correct_d.data<std::int32_t>(), n, k);
  gpu.synchronize();
  return correct_d.to(Device::cpu).data<std::int32_t>()[0];
}

std::vector<std::int32_t> some_labels(std::int64_t n, std::int64_t k) {
  std::vector<std::int32_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = static_cast<std::int32_t>((i * 7 + 3) % k);
  return labels;
}

TEST(SoftmaxCrossEntropyCuda, MatchesCpu) {
  ROSETTA_REQUIRE_CUDA();
  // Batches of the workloads (64 x 10, 64 x 2), ImageNet-sized rows, k not a multiple of the warp, and more
  // rows than the kernel's 32 warps.
  const std::int64_t shapes[][2] = {{64, 10}, {64, 2}, {32, 1000}, {5, 37}, {100, 3}, {1, 1}};
  std::uint64_t seed = 300;
  for (const auto& shape : shapes) {
    const std::int64_t n = shape[0], k = shape[1];
    const float spread = 8.0f;
    const std::vector<float> logits = testing::random_floats(n * k, -spread, spread, seed++);
    const std::vector<std::int32_t> labels = some_labels(n, k);
    const LossResult cpu = cpu_loss(logits, labels, k), gpu = cuda_loss(logits, labels, k);
    // Tolerance rule: the GPU works in float: expf (<= 2 ulps), a float sum of up to k exps (a lane-serial sum of
    // k/32 terms then a 5-level tree: <= (k/32 + 5) ulps of the sum), logf, x - max rounded at the logits'
    // magnitude (|x - max| <= 16 here: <= 2^-20 absolute, i.e. <= 16 ulps of exp(x - max)), and 1/n. Summed,
    // that is (k/32 + 25) ulps; (k/32 + 32) ulps of (1 + max |x| + log k) bound the loss and (k/32 + 32) ulps of
    // |g| + 1/n each gradient entry. The CPU is within one rounding of exact.
    const double ulps = static_cast<double>(k) / 32 + 32;
    const std::string what = "logits (" + std::to_string(n) + ", " + std::to_string(k) + ")";
    EXPECT_NEAR(gpu.loss, cpu.loss, ulps * kFloatEps * (1 + spread + std::log(double(k)))) << what;
    for (std::int64_t i = 0; i < n * k; ++i)
      EXPECT_NEAR(gpu.dlogits[i], cpu.dlogits[i], ulps * kFloatEps * (std::abs(cpu.dlogits[i]) + 1.0 / n))
          << what << " element " << i;
  }
}

TEST(SoftmaxCrossEntropyCuda, IsStableDeterministicAndFlagsBadLabels) {
  ROSETTA_REQUIRE_CUDA();
  const LossResult huge = cuda_loss({1000, 0, -1000, -1000, 1000, 0}, {0, 0}, 3);
  EXPECT_FLOAT_EQ(huge.loss, 1000.0f);
  const std::vector<float> expected{0, 0, 0, -0.5f, 0.5f, 0};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(huge.dlogits[i], expected[i]) << i;

  // Same inputs, same bits: the loss reduction has a fixed order and no atomics.
  const std::vector<float> logits = testing::random_floats(64 * 10, -4.0f, 4.0f, 9);
  const std::vector<std::int32_t> labels = some_labels(64, 10);
  const LossResult first = cuda_loss(logits, labels, 10), second = cuda_loss(logits, labels, 10);
  EXPECT_EQ(first.loss, second.loss);
  EXPECT_EQ(first.dlogits, second.dlogits);

  // The device cannot throw: a label outside [0, k) makes the batch loss and that row's gradient NaN.
  const LossResult bad = cuda_loss({1, 2, 3, 1, 2, 3}, {0, 3}, 3);
  EXPECT_TRUE(std::isnan(bad.loss));
  EXPECT_TRUE(std::isnan(bad.dlogits[3]));
  EXPECT_FALSE(std::isnan(bad.dlogits[0]));
}

TEST(CountCorrectCuda, MatchesCpuWithTiesAndNaN) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t shapes[][2] = {{64, 10}, {64, 2}, {32, 1000}, {13, 37}, {100, 3}, {9, 1}};
  std::uint64_t seed = 400;
  for (const auto& shape : shapes) {
    const std::int64_t n = shape[0], k = shape[1];
    // Values on a coarse grid so that ties are common; a NaN in every fifth row.
    std::vector<float> logits = testing::random_floats(n * k, -2.0f, 2.0f, seed++);
    for (float& x : logits) x = std::round(x * 2) / 2;
    for (std::int64_t i = 0; i < n; i += 5) logits[i * k + (i % k)] = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::int32_t> labels(n);
    for (std::int64_t i = 0; i < n; ++i) {  // the CPU's arg-max for half of the rows, so the count is not ~n/k
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < k; ++j)
        if (kernels::reference::argmax_prefers(logits[i * k + j], j, logits[i * k + best], best)) best = j;
      labels[i] = static_cast<std::int32_t>(i % 2 == 0 ? best : (i * 7 + 3) % k);
    }
    EXPECT_EQ(cuda_count(logits, labels, k, 7), cpu_count(logits, labels, k, 7))
        << "logits (" << n << ", " << k << ")";
  }
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
