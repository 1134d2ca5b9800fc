// `rosetta train cnn`, run as the built binary: 50 CPU steps on the synthetic set lower the loss and write the
// step log, the JSON record and the weights; bad arguments and bad files are one line on stderr and exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <sstream>

#include "runtime/device.h"
#include "tests/support/paths.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

struct CliRun {
  int status;
  std::string output;
};

CliRun train(const testing::TempDir& dir, const std::string& args) {
  const std::string log = dir.file("run.log");
  const int status = testing::run_command("'" + testing::cli_path() + "' train cnn " + args, log);
  return {status, testing::read_file(log)};
}

// Exit 2 with exactly one line, which mentions `needle`.
void expect_one_line_error(const CliRun& run, const std::string& needle) {
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  EXPECT_NE(run.output.find(needle), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("terminate"), std::string::npos) << run.output;
}

TEST(CliTrainCnn, FiftyCpuStepsLowerTheLossAndWriteEverything) {
  testing::TempDir dir;
  const CliRun run = train(dir, "--device cpu --batch 16 --epochs 1 --max-steps 50 --synthetic-train 1024 "
                             "--synthetic-test 64 --synthetic-label-noise 0 --test-batches 4 --log-steps " + dir.file("steps.txt") +
                             " --json " + dir.file("record.json") + " --save " + dir.file("final.safetensors"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("CPU reference path"), std::string::npos) << "a CPU run says so: " << run.output;

  std::istringstream steps(testing::read_file(dir.file("steps.txt")));
  std::vector<double> losses;
  long step;
  double loss;
  while (steps >> step >> loss) losses.push_back(loss);
  ASSERT_EQ(losses.size(), 50u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += losses[i], last += losses[losses.size() - 1 - i];
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

  const std::string inspect = dir.file("inspect.txt");
  ASSERT_EQ(testing::run_command("'" + testing::cli_path() + "' inspect " + dir.file("final.safetensors"), inspect), 0);
  EXPECT_NE(testing::read_file(inspect).find("fc1.weight"), std::string::npos);
}

TEST(CliTrainCnn, BadArgumentsAreOneLineAndExitTwo) {
  testing::TempDir dir;
  expect_one_line_error(train(dir, "--device cpu --precision fp64"), "--precision fp64");
  expect_one_line_error(train(dir, "--device cpu --batch 0"), "--batch");
  expect_one_line_error(train(dir, "--device cpu --autotune maybe"), "--autotune");
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
