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
#include <sstream>

#include "tests/support/paths.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

std::vector<double> read_losses(const std::string& path) {
  std::istringstream in(testing::read_file(path));
  std::vector<double> losses;
  long step;
  double loss;
  while (in >> step >> loss) losses.push_back(loss);
  return losses;
}

TEST(EquivalenceGru, TwentyAdamStepsMatchPyTorchOnTheCpu) {
  if (!testing::torch_unavailable_reason().empty()) GTEST_SKIP() << testing::torch_unavailable_reason();
  const testing::TempDir temp;
  const std::string dir = temp.path().string();
  const std::string rosetta = testing::cli_path();
  const std::string twin = testing::python_interpreter() + " " + testing::source_dir() + "/bench/peers/pytorch/gru.py";
  const std::string common = " --data " + dir + "/tokens.npz --init " + dir + "/init.safetensors"
                             " --device cpu --no-shuffle --max-steps 20 --batch 64 --test-batches 0";

  ASSERT_EQ(testing::run_command(rosetta + " train gru --synthetic --export-data " + dir + "/tokens.npz", dir + "/export.log"), 0)
      << testing::read_file(dir + "/export.log");
  ASSERT_EQ(testing::run_command(rosetta + " train gru --device cpu --max-steps 0 --seed 7 --save " + dir + "/init.safetensors",
                                 dir + "/init.log"), 0)
      << testing::read_file(dir + "/init.log");
  ASSERT_EQ(testing::run_command(rosetta + " train gru" + common + " --log-steps " + dir + "/rosetta.txt", dir + "/rosetta.log"), 0)
      << testing::read_file(dir + "/rosetta.log");
  ASSERT_EQ(testing::run_command(twin + common + " --log-steps " + dir + "/torch.txt", dir + "/torch.log"), 0)
      << testing::read_file(dir + "/torch.log");

  const std::vector<double> ours = read_losses(dir + "/rosetta.txt");
  const std::vector<double> theirs = read_losses(dir + "/torch.txt");
  ASSERT_EQ(ours.size(), 20u);
  ASSERT_EQ(theirs.size(), 20u);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    EXPECT_LE(std::abs(ours[i] - theirs[i]), 1e-5 * std::abs(theirs[i]))
        << "step " << i + 1 << ": rosetta " << ours[i] << ", pytorch " << theirs[i];
  }
}

}  // namespace
}  // namespace rosetta
