// The equivalence protocol for the GRU workload: rosetta's CPU path and the PyTorch twin
// (bench/peers/pytorch/gru.py, nn.GRU on Debian's python3-torch) start from one safetensors file of rosetta's
// initial weights, read the same preprocessed token file in file order, and take 20 Adam steps at the workload's
// batch (64) and hyper-parameters; their losses must agree step by step.
//
// Tolerance: |rosetta - torch| <= 1e-5 * |torch| at every step. Both compute in FP32 and differ only in summation
// order; measured: at most 1.7e-7 relative over the 20 steps (a 2-class model under Adam does not amplify
// rounding the way the CNN under SGD with momentum does). A wrong gate order, initial-weight mapping or
// time-step is off by > 1e-2 at step 1.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/equivalence.h"

namespace rosetta {
namespace {

TEST(EquivalenceGru, TwentyAdamStepsMatchPyTorchOnTheCpu) {
  if (!testing::torch_unavailable_reason().empty()) GTEST_SKIP() << testing::torch_unavailable_reason();
  const testing::TempDir dir;
  testing::EquivalenceRun run;
  ASSERT_NO_FATAL_FAILURE(testing::run_equivalence(
      dir, "gru", dir.file("tokens.npz"), testing::pytorch_twin(), "gru.py",
      "--device cpu --no-shuffle --max-steps 20 --batch 64 --test-batches 0", &run));
  ASSERT_EQ(run.rosetta.size(), 20u);
  ASSERT_EQ(run.twin.size(), 20u);
  for (std::size_t i = 0; i < run.rosetta.size(); ++i) {
    EXPECT_LE(std::abs(run.rosetta[i] - run.twin[i]), 1e-5 * std::abs(run.twin[i]))
        << "step " << i + 1 << ": rosetta " << run.rosetta[i] << ", pytorch " << run.twin[i];
  }
}

}  // namespace
}  // namespace rosetta
