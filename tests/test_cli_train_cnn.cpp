// `rosetta train cnn`, run as the built binary: 50 CPU steps on the synthetic set lower the loss and write the
// step log, the JSON record and the weights; bad arguments and bad files are one line on stderr and exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/device.h"
#include "tests/support/cli.h"

namespace rosetta {
namespace {

testing::CliRun train(const testing::TempDir& dir, const std::string& args) {
  return testing::run_rosetta(dir, "train cnn " + args);
}

using testing::expect_one_line_error;

TEST(CliTrainCnn, FiftyCpuStepsLowerTheLossAndWriteEverything) {
  testing::TempDir dir;
  const testing::CliRun run = train(dir, "--device cpu --batch 16 --epochs 1 --max-steps 50 --synthetic-train 1024 "
                             "--synthetic-test 64 --synthetic-label-noise 0 --test-batches 4 --log-steps " + dir.file("steps.txt") +
                             " --json " + dir.file("record.json") + " --save " + dir.file("final.safetensors"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("CPU reference path"), std::string::npos) << "a CPU run says so: " << run.output;

  const std::vector<double> losses = testing::read_step_log(dir.file("steps.txt"));
  ASSERT_EQ(losses.size(), 50u);
  const auto [first, last] = testing::first_and_last_mean(losses, 5);
  // As in test_cifar_vgg: a learning model ends well below 0.9x its first losses; one that does not stays at 1x.
  EXPECT_LT(last, 0.9 * first);

  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("record.json")));
  for (const char* key : {"workload", "framework", "device", "precision", "batch", "steps", "seconds_total",
                          "images_per_second", "test_accuracy", "final_loss", "commit", "date", "cudnn"}) {
    EXPECT_TRUE(record.contains(key)) << key;
  }
  EXPECT_EQ(record["workload"], "cnn");
  EXPECT_EQ(record["device"], "cpu");
  EXPECT_EQ(record["steps"], 50);
  EXPECT_FLOAT_EQ(record["final_loss"].get<double>(), losses.back());
  testing::expect_valid_record(dir, dir.file("record.json"));

  const testing::CliRun inspect = testing::run_rosetta(dir, "inspect " + dir.file("final.safetensors"));
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("fc1.weight"), std::string::npos);
}

TEST(CliTrainCnn, BadArgumentsAreOneLineAndExitTwo) {
  testing::TempDir dir;
  expect_one_line_error(train(dir, "--device cpu --precision fp64"), "--precision: fp64 not in {fp32,tf32}");
  expect_one_line_error(train(dir, "--device cpu --batch 0"), "--batch: 0 is not an integer in [1, 65536]");
  expect_one_line_error(train(dir, "--device cpu --autotune maybe"), "--autotune: maybe not in {on,off}");
  // The cases: non-finite or out-of-range values are refused by the parser, naming the option and range.
  for (const char* lr : {"nan", "inf", "-1", "1e30", "-0.001"})
    expect_one_line_error(train(dir, std::string("--device cpu --lr ") + lr), "--lr: " + std::string(lr) + " is not a finite number in [0, 10]");
  expect_one_line_error(train(dir, "--device cpu --momentum nan"), "--momentum: nan is not a finite number in [0, 1]");
  expect_one_line_error(train(dir, "--device cpu --epochs 2e9"), "--epochs: 2e9 is not an integer in [1, 10000]");
  expect_one_line_error(train(dir, "--device cpu --max-steps -5"), "--max-steps: -5 is not an integer");
  expect_one_line_error(train(dir, "--device cpu --test-batches -5"), "--test-batches: -5 is not an integer");
  expect_one_line_error(train(dir, "--device cpu --seed -1"), "--seed: -1 is not an integer");
  expect_one_line_error(train(dir, "--device cpu --synthetic-label-noise 2"), "--synthetic-label-noise: 2 is not a finite number in [0, 1]");
  expect_one_line_error(train(dir, "--device cpu --synthetic-train -1"), "--synthetic-train: -1 is not an integer");
  expect_one_line_error(train(dir, "--device cpu --no-such-flag"), "rosetta: error: The following argument was not expected: --no-such-flag");
  // Outputs are checked before any work: a missing folder for any of them is one line, at once.
  for (const char* flag : {"--save", "--json", "--log-steps", "--checkpoint"})
    expect_one_line_error(train(dir, std::string("--device cpu ") + flag + " " + dir.file("no/such/x")), std::string(flag) + " " + dir.file("no/such/x") + ": folder");
  expect_one_line_error(train(dir, "--device cpu --save " + dir.path().string()), "is a directory, not a file");
  expect_one_line_error(train(dir, "--device cpu --checkpoint-every 5"), "--checkpoint-every needs --checkpoint FILE");
  expect_one_line_error(train(dir, "--device cpu --data " + dir.file("nowhere")), dir.file("nowhere"));
  testing::write_file(dir.file("bad.safetensors"), "not a safetensors file");
  expect_one_line_error(train(dir, "--device cpu --init " + dir.file("bad.safetensors")), "bad.safetensors");
  if (!cuda_available()) expect_one_line_error(train(dir, "--device cuda"), "no CUDA device");
}

TEST(CliTrainCnn, ZeroStepsSavesTheInitialWeightsDeterministically) {
  testing::TempDir dir;
  ASSERT_EQ(train(dir, "--device cpu --max-steps 0 --seed 3 --save " + dir.file("a.safetensors")).status, 0);
  ASSERT_EQ(train(dir, "--device cpu --max-steps 0 --seed 3 --save " + dir.file("b.safetensors")).status, 0);
  EXPECT_EQ(testing::read_file(dir.file("a.safetensors")), testing::read_file(dir.file("b.safetensors")));
}

}  // namespace
}  // namespace rosetta
