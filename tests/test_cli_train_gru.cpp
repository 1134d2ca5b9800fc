// `rosetta train gru`, run as the built binary: 50 CPU steps on the synthetic set lower the loss and write the
// step log and the JSON record; bad arguments and bad files are one line on stderr and exit 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
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
  const int status = testing::run_command("'" + testing::cli_path() + "' train gru " + args, log);
  return {status, testing::read_file(log)};
}

void expect_one_line_error(const CliRun& run, const std::string& needle) {
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  EXPECT_NE(run.output.find(needle), std::string::npos) << run.output;
}

// The workload's batch (64) at lr 3e-3 on an easier synthetic set (one sentiment word per class, reviews of
// >= 145 tokens): the mean loss of the last 5 of 50 steps fell from ~0.81 to ~0.38 (measured), while a model that
// does not learn stays at ln 2 ~ 0.69 or above. With the workload's own settings learning shows only after
// hundreds of steps (the GRU must first move the embedding rows of the few sentiment words), too slow for a test.
TEST(CliTrainGru, FiftyCpuStepsLowerTheLossAndWriteTheRecord) {
  testing::TempDir dir;
  const CliRun run = train(dir, "--device cpu --epochs 1 --max-steps 50 --lr 0.003 --synthetic-train 4000 "
                                "--synthetic-test 256 --synthetic-signal-words 1 --synthetic-min-length 145 "
                                "--test-batches 4 --log-steps " + dir.file("steps.txt") + " --json " +
                                dir.file("record.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  std::istringstream steps(testing::read_file(dir.file("steps.txt")));
  std::vector<double> losses;
  long step;
  double loss;
  while (steps >> step >> loss) losses.push_back(loss);
  ASSERT_EQ(losses.size(), 50u);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += losses[i], last += losses[losses.size() - 1 - i];
  EXPECT_LT(last, 0.8 * first);
  EXPECT_LT(last / 5, 0.6) << "below ln 2: the model predicts better than chance";
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("record.json")));
  EXPECT_EQ(record["workload"], "gru");
  EXPECT_EQ(record["steps"], 50);
  EXPECT_EQ(record["layout"], "tnc");
  EXPECT_GT(record["test_accuracy"].get<double>(), 0.6);
}

TEST(CliTrainGru, BadArgumentsAreOneLineAndExitTwo) {
  testing::TempDir dir;
  expect_one_line_error(train(dir, "--device cpu --layout nct"), "--layout nct");
  expect_one_line_error(train(dir, "--device cpu --rnn-algo fastest"), "--rnn-algo fastest");
  expect_one_line_error(train(dir, "--device cpu --rnn naive"), "--rnn naive");
  expect_one_line_error(train(dir, "--device cpu --precision bf16"), "--precision bf16");
  expect_one_line_error(train(dir, "--device cpu --data " + dir.file("missing.npz")), "missing.npz");
  testing::write_file(dir.file("bad.npz"), "PK\x03\x04 not really a zip");
  expect_one_line_error(train(dir, "--device cpu --data " + dir.file("bad.npz")), "bad.npz");
  if (!cuda_available()) expect_one_line_error(train(dir, "--device cuda"), "no CUDA device");
}

}  // namespace
}  // namespace rosetta
