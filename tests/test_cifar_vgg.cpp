// CifarVGG: parameter names and shapes (PyTorch's state_dict), Glorot init, CPU training that learns, that is
// deterministic and allocates nothing per step; every way of running the step computes the same model on the CPU twin
// bit for bit (fused or one kernel per layer, the ReLU before or after each pool, NCHW or channels-last with channels
// padded to tensor-core widths: losses, gradients and saved weights), bf16 rounds where autocast does (its gradients
// reach the float weights as bf16 values); on a GPU: five steps with dropout on against the CPU in each
// mode, the captured CUDA graph against eager steps (fresh dropout masks at every replay), and no allocation per step
// (skipped without a device).
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/batcher.h"
#include "datasets/synthetic.h"
#include "models/cifar_vgg.h"
#include "runtime/cuda_graph.h"
#include "runtime/error.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

constexpr std::int64_t kBatch = 16;

DatasetSplits small_data() {
  SyntheticImagesOptions o;
  o.train_examples = 1024;
  o.test_examples = 64;
  o.seed = 5;
  o.label_noise = 0.0f;  // clean labels: learning shows within 40 small steps
  return synthetic_images(o);
}

CifarVggOptions options(bool dropout, bool deterministic = false) {
  CifarVggOptions o;
  o.batch = kBatch;
  o.dropout = dropout;
  o.seed = 9;
  o.conv.deterministic = deterministic;
  return o;
}

// The ways of running the step, by name (CifarVggOptions' switches on top of options()).
struct Mode {
  const char* name;
  bool fuse;
  ReluOrder order;
  Layout layout;
  std::int64_t channel_multiple;
  Precision precision;
};
constexpr Mode kSeedUnfused{"unfused, ReLU after the pool (the seed's step)", false, ReluOrder::after_pool, Layout::nchw,
                            1, Precision::fp32};
constexpr Mode kUnfusedReluFirst{"unfused, ReLU before the pool", false, ReluOrder::before_pool, Layout::nchw, 1,
                                 Precision::fp32};
constexpr Mode kFused{"fused, ReLU before the pool (the default)", true, ReluOrder::before_pool, Layout::nchw, 1,
                      Precision::fp32};
constexpr Mode kFusedReluAfter{"fused, ReLU after the pool", true, ReluOrder::after_pool, Layout::nchw, 1,
                               Precision::fp32};
constexpr Mode kChannelsLast{"fused, NHWC", true, ReluOrder::before_pool, Layout::nhwc, 1, Precision::fp32};
constexpr Mode kPadded{"fused, NHWC, channels padded to 8", true, ReluOrder::before_pool, Layout::nhwc, 8,
                       Precision::fp32};
constexpr Mode kPaddedTf32{"fused, NHWC padded, tf32", true, ReluOrder::before_pool, Layout::nhwc, 8, Precision::tf32};
constexpr Mode kBf16{"fused, NHWC padded, bf16", true, ReluOrder::before_pool, Layout::nhwc, 8, Precision::bf16};

CifarVggOptions options(const Mode& mode, bool dropout, bool deterministic = false) {
  CifarVggOptions o = options(dropout, deterministic);
  o.fuse = mode.fuse, o.relu_order = mode.order, o.conv.layout = mode.layout;
  o.channel_multiple = mode.channel_multiple, o.conv.precision = mode.precision;
  return o;
}

// What a run leaves: the loss of every step, the gradient arena after every step, the final weights.
struct TrainingRun {
  std::vector<float> losses;
  std::vector<std::vector<float>> gradients;
  std::vector<float> weights;
};

// Runs `steps` training steps on `device` from the same Glorot init and the same batches.
TrainingRun run(Device device, const CifarVggOptions& o, int steps, bool graph = false) {
  Context& ctx = Context::of(device);
  const DatasetSplits data = small_data();
  CifarVGG model(device);
  model.init_glorot(3);
  model.setup(ctx, o);
  Batcher batches(data.train, kBatch, device, /*shuffle=*/true, 4);
  Tensor images = Tensor::empty({kBatch, 3, 32, 32}, DType::f32, device);
  Tensor labels = Tensor::empty({kBatch}, DType::i32, device);
  CudaGraph captured;
  TrainingRun result;
  batches.start_epoch(0);
  for (int s = 0; s < steps; ++s) {
    batches.next_into(ctx, images, labels);
    if (graph && s >= 1) {
      if (!captured.captured()) captured.capture(ctx, [&] { model.step(ctx, images, labels); });
      captured.launch(ctx);
    } else {
      model.step(ctx, images, labels);
    }
    result.losses.push_back(model.loss().to_vector()[0]);
    result.gradients.push_back(model.parameters().grads().to_vector());
  }
  result.weights = model.parameters().values().to_vector();
  return result;
}

// The losses of run() in the default mode.
std::vector<float> train(Device device, int steps, bool dropout, bool graph = false, bool deterministic = false) {
  return run(device, options(dropout, deterministic), steps, graph).losses;
}

TEST(CifarVGG, HasPyTorchNamesAndShapes) {
  CifarVGG model(Device::cpu);
  const ParameterSet& p = model.parameters();
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"conv1.weight", {50, 3, 3, 3}},     {"conv1.bias", {50}},  {"conv2.weight", {50, 50, 3, 3}},
      {"conv2.bias", {50}},                {"conv3.weight", {100, 50, 3, 3}}, {"conv3.bias", {100}},
      {"conv4.weight", {100, 100, 3, 3}},  {"conv4.bias", {100}}, {"fc1.weight", {512, 6400}},
      {"fc1.bias", {512}},                 {"fc2.weight", {10, 512}},         {"fc2.bias", {10}}};
  ASSERT_EQ(p.size(), int(expected.size()));
  for (const auto& [name, shape] : expected) {
    const int i = p.find(name);
    ASSERT_GE(i, 0) << name;
    EXPECT_EQ(p.shape(i), shape) << name;
  }
  // conv 1400 + 22550 + 45100 + 90100, fc1 3277312, fc2 5130: the seed's model, 3.44 M parameters.
  EXPECT_EQ(p.parameter_elements(), 3'441'592);
}

TEST(CifarVGG, GlorotInitHasTheRightBoundsAndZeroBiases) {
  CifarVGG model(Device::cpu);
  model.init_glorot(1);
  ParameterSet& p = model.parameters();
  const std::vector<float> fc1 = p.value(p.find("fc1.weight")).to_vector();
  const double bound = std::sqrt(6.0 / (6400 + 512));
  double sum_sq = 0;
  for (float w : fc1) {
    ASSERT_LE(std::abs(w), bound);
    sum_sq += double(w) * w;
  }
  // The variance of U(-a, a) is a^2 / 3; over 3.3 M draws the sample variance is within 1% of it.
  EXPECT_NEAR(sum_sq / fc1.size(), bound * bound / 3, 0.01 * bound * bound / 3);
  for (float b : p.value(p.find("conv3.bias")).to_vector()) ASSERT_EQ(b, 0.0f);
}

TEST(CifarVGG, CpuTrainingLearns) {
  // The workload's hyper-parameters at batch 16: on the learnable set the mean loss of the last five of 40
  // steps fell to 0.24-0.84x that of the first five over the seeds tried, while a model that does not learn
  // stays at ln 10 ~ 2.30 (ratio 1 +- 0.05 from batch noise). 0.9x separates the two.
  const std::vector<float> losses = train(Device::cpu, 40, /*dropout=*/true);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += losses[i], last += losses[losses.size() - 1 - i];
  EXPECT_LT(last, first * 0.9) << "the loss must fall on the learnable synthetic set";
  for (float l : losses) ASSERT_TRUE(std::isfinite(l));
}

TEST(CifarVGG, CpuTrainingIsDeterministic) {
  EXPECT_EQ(train(Device::cpu, 3, true), train(Device::cpu, 3, true)) << "same seed, same data: bit-identical losses";
}

// Every switch of the step computes the same model: on the CPU twin the losses, the gradients after every step and
// the final weights are the same bits (tests/test_fused_epilogues.cpp proves the fused kernels equal the chains they
// replace and the ReLU orders equal each other; here the whole step, dropout on, padding and layouts included).
TEST(CifarVGG, EveryWayOfRunningTheStepIsTheSameModelOnTheCpu) {
  constexpr int kSteps = 3;
  const TrainingRun reference = run(Device::cpu, options(kSeedUnfused, true), kSteps);
  for (const Mode& mode : {kUnfusedReluFirst, kFused, kFusedReluAfter, kChannelsLast, kPadded}) {
    SCOPED_TRACE(mode.name);
    const TrainingRun other = run(Device::cpu, options(mode, true), kSteps);
    EXPECT_EQ(other.losses, reference.losses);
    for (int s = 0; s < kSteps; ++s) EXPECT_TRUE(other.gradients[s] == reference.gradients[s]) << "gradients of step " << s + 1;
    EXPECT_TRUE(other.weights == reference.weights) << "the weights after the last step (what a checkpoint saves)";
  }
}

// bf16 as autocast computes it (models/cifar_vgg_fused.h): every gradient reaching a float weight is the gradient of
// its bf16 copy, so a bf16 value; the first loss is the float model's within bf16's rounding (each activation and
// weight rounded to 8 significant bits, 2^-9 relative each, over a handful of layers: 1e-2 relative bounds it with
// room, while a missing layer or weight mapping moves it more) but not equal to it; runs are deterministic. (That it
// learns, step by step as PyTorch's autocast does: tests/test_equivalence_cnn.cpp.)
TEST(CifarVGG, Bf16RoundsWhereAutocastDoes) {
  const TrainingRun bf16_run = run(Device::cpu, options(kBf16, false), 3);
  const TrainingRun float_run = run(Device::cpu, options(kFused, false), 1);
  for (std::size_t s = 0; s < bf16_run.gradients.size(); ++s)
    for (std::size_t i = 0; i < bf16_run.gradients[s].size(); ++i) {
      const float g = bf16_run.gradients[s][i];
      ASSERT_EQ(float(bf16(g)), g) << "gradient element " << i << " of step " << s + 1 << " is not a bf16 value";
    }
  EXPECT_NE(bf16_run.losses[0], float_run.losses[0]) << "bf16 rounds: the first loss differs from fp32's";
  EXPECT_NEAR(bf16_run.losses[0], float_run.losses[0], 1e-2 * float_run.losses[0]);
  EXPECT_EQ(run(Device::cpu, options(kBf16, false), 3).losses, bf16_run.losses) << "deterministic";
}

TEST(CifarVGG, RefusesOptionsThatBreakARule) {
  CifarVGG model(Device::cpu);
  const auto refused = [&](const Mode& mode, std::int64_t multiple, const std::string& expected) {
    CifarVggOptions o = options(mode, true);
    o.channel_multiple = multiple;
    try {
      model.setup(Context::cpu(), o);
      ADD_FAILURE() << mode.name << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  refused({"bf16 NCHW", true, ReluOrder::before_pool, Layout::nchw, 1, Precision::bf16}, 1, "precision bf16 needs layout nhwc");
  refused({"NHWC unfused", false, ReluOrder::before_pool, Layout::nhwc, 1, Precision::fp32}, 1, "layout nhwc needs fuse on");
  refused(kFused, 8, "pad-channels 8 needs layout nhwc");
  refused(kPadded, 100, "expected 1 to 64");
}

TEST(CifarVGG, StepAllocatesNothing) {
  Context& ctx = Context::cpu();
  CifarVGG model(Device::cpu);
  model.init_glorot(1);
  model.setup(ctx, options(true));
  Tensor images = Tensor::zeros({kBatch, 3, 32, 32}, DType::f32);
  Tensor labels = Tensor::zeros({kBatch}, DType::i32);
  model.step(ctx, images, labels);
  const auto before = allocation_count();
  model.step(ctx, images, labels);
  model.step(ctx, images, labels);
  EXPECT_EQ(allocation_count(), before);
}

// GPU vs CPU, five steps with dropout on (masks are bit-identical). cuDNN's algorithms sum in other orders than
// the CPU reference, so the losses differ by float rounding that SGD carries along: relative 1e-4 over five
// steps is ~1000 ulps of float, far below what a wrong gradient or a wrong mask would give (>1e-2).
TEST(CifarVGGCuda, FiveStepsMatchTheCpu) {
  ROSETTA_REQUIRE_CUDA();
  const std::vector<float> cpu = train(Device::cpu, 5, true);
  const std::vector<float> gpu = train(Device::cuda, 5, true);
  testing::expect_all_close(gpu, cpu, 1e-4, 1e-5, "loss per step");
}

TEST(CifarVGGCuda, GraphReplayEqualsEagerSteps) {
  ROSETTA_REQUIRE_CUDA();
  const std::vector<float> eager = train(Device::cuda, 6, true, false, /*deterministic=*/true);
  const std::vector<float> graph = train(Device::cuda, 6, true, true, /*deterministic=*/true);
  // Same kernels, same deterministic algorithms (cached), same order: bit-identical, so every replay drew a
  // fresh dropout mask exactly as the eager steps did.
  EXPECT_EQ(graph, eager);
}

// Each mode of the step on the GPU against the CPU twin in the same mode, five steps with dropout on.
// - fp32 modes: as FiveStepsMatchTheCpu (1e-4 relative: cuDNN's summation orders carried by SGD).
// - tf32 (against the CPU's fp32, which has no TF32): TF32 rounds each product's operands to 11 bits (2^-11
//   relative); the loss moves by ~1e-4 at the first step and SGD carries it: 2e-3 over five steps.
// - bf16 (against the CPU's bf16 twin, the same roundings): the twins' float sums differ in order, which flips a
//   fraction of the bf16 roundings by one ulp (2^-8 relative each, averaging out over thousands of activations):
//   ~1e-4 on the loss at the first step, carried by SGD: 2e-3 over five steps.
TEST(CifarVGGCuda, EveryModeMatchesTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  struct Case {
    Mode gpu, cpu;
    double rtol;
  };
  for (const Case& c : {Case{kSeedUnfused, kSeedUnfused, 1e-4}, Case{kFusedReluAfter, kFusedReluAfter, 1e-4},
                        Case{kPadded, kPadded, 1e-4}, Case{kPaddedTf32, kPadded, 2e-3}, Case{kBf16, kBf16, 2e-3}}) {
    SCOPED_TRACE(c.gpu.name);
    const TrainingRun cpu = run(Device::cpu, options(c.cpu, true), 5);
    const TrainingRun gpu = run(Device::cuda, options(c.gpu, true), 5);
    testing::expect_all_close(gpu.losses, cpu.losses, c.rtol, 1e-5, "loss per step");
  }
}

// The captured graph of the channels-last padded bf16 and tf32 steps replays the eager steps bit for bit (fresh
// dropout masks at every replay), and their steps allocate nothing.
// A CUDA model set up with `o`: after its first step, two more allocate nothing.
void expect_steps_allocate_nothing(const CifarVggOptions& o) {
  Context& ctx = Context::cuda();
  CifarVGG model(Device::cuda);
  model.init_glorot(1);
  model.setup(ctx, o);
  Tensor images = Tensor::zeros({kBatch, 3, 32, 32}, DType::f32, Device::cuda);  // (N, 3, 32, 32)
  Tensor labels = Tensor::zeros({kBatch}, DType::i32, Device::cuda);              // (N)
  model.step(ctx, images, labels);
  const auto before = allocation_count();
  model.step(ctx, images, labels);
  model.step(ctx, images, labels);
  ctx.synchronize();
  EXPECT_EQ(allocation_count(), before);
}

TEST(CifarVGGCuda, PaddedChannelsLastGraphsReplayEagerStepsAndAllocateNothing) {
  ROSETTA_REQUIRE_CUDA();
  for (const Mode& mode : {kPaddedTf32, kBf16}) {
    SCOPED_TRACE(mode.name);
    const CifarVggOptions o = options(mode, true, /*deterministic=*/true);
    EXPECT_EQ(run(Device::cuda, o, 6, /*graph=*/true).losses, run(Device::cuda, o, 6).losses);
    expect_steps_allocate_nothing(o);
  }
}

TEST(CifarVGGCuda, StepAllocatesNothing) {
  ROSETTA_REQUIRE_CUDA();
  expect_steps_allocate_nothing(options(true));
}

}  // namespace
}  // namespace rosetta
