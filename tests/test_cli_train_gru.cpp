// `rosetta train gru`, run as the built binary: 50 CPU steps on the synthetic set lower the loss and write the
// step log and the JSON record; bad arguments and bad files are one line on stderr and exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/device.h"
#include "tests/support/cli.h"

namespace rosetta {
namespace {

testing::CliRun train(const testing::TempDir& dir, const std::string& args) {
  return testing::run_rosetta(dir, "train gru " + args);
}

using testing::expect_one_line_error;

TEST(CliTrainGru, FiftyCpuStepsLowerTheLossAndWriteTheRecord) {
  testing::TempDir dir;
  const testing::CliRun run = train(dir, "--device cpu --epochs 1 --max-steps 50 --lr 0.003 --synthetic-train 4000 "
                                "--synthetic-test 256 --synthetic-signal-words 1 --synthetic-min-length 145 "
                                "--test-batches 4 --log-steps " + dir.file("steps.txt") + " --json " +
                                dir.file("record.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  const std::vector<double> losses = testing::read_step_log(dir.file("steps.txt"));
  ASSERT_EQ(losses.size(), 50u);
  const auto [first, last] = testing::first_and_last_mean(losses, 5);
  EXPECT_LT(last, 0.8 * first);
  EXPECT_LT(last, 0.6) << "below ln 2: the model predicts better than chance";
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("record.json")));
  EXPECT_EQ(record["workload"], "gru");
  EXPECT_EQ(record["steps"], 50);
  EXPECT_EQ(record["layout"], "tnc");
  EXPECT_TRUE(record["rnn_cache"].is_null()) << "the CPU has no search, so no RNN algorithm cache";
  EXPECT_EQ(record["rnn_choice"], "given");
  EXPECT_GT(record["test_accuracy"].get<double>(), 0.6);
  testing::expect_valid_record(dir, dir.file("record.json"));
}

// On a GPU, --rnn auto (the default) times cuDNN's algorithms and the persistent GRU at setup and records the winner
// and every trial, and keeps the choice in the RNN algorithm cache, so a second run times nothing and says so; a
// corrupt cache is one line and a fresh search; --autotune off runs cuDNN's standard algorithm (its weights in place)
// and records no search; --rnn persistent and naive run as asked.
TEST(CliTrainGru, CudaRecordsTheAutotunedAlgorithm) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  testing::TempDir dir;
  const std::string cache = dir.file("cache/rnn-algorithms.json");
  const std::string common = "--device cuda --epochs 1 --max-steps 20 --synthetic-train 2000 --synthetic-test 256 "
                             "--test-batches 2 --rnn-cache " + cache + " --json ";
  const testing::CliRun tuned = train(dir, common + dir.file("tuned.json"));
  ASSERT_EQ(tuned.status, 0) << tuned.output;
  EXPECT_NE(tuned.output.find("RNN algorithm cache " + cache + ": no file yet"), std::string::npos) << tuned.output;
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("tuned.json")));
  EXPECT_EQ(record["rnn_choice"], "timed");

  EXPECT_EQ(record["rnn_cache"], cache);
  EXPECT_TRUE(record["rnn_algorithm_autotuned"].get<bool>());
  EXPECT_EQ(record["rnn"], "auto");
  ASSERT_EQ(record["rnn_algorithm_trials"].size(), 5u) << "cuDNN's four algorithms and the persistent GRU";
  EXPECT_EQ(record["rnn_algorithm_trials"][0]["algorithm"], "standard");
  EXPECT_EQ(record["rnn_algorithm_trials"][4]["implementation"], "persistent");
  EXPECT_GT(record["rnn_algorithm_trials"][0]["milliseconds"].get<double>(), 0.0);
  bool kept_was_timed = false;
  for (const nlohmann::json& trial : record["rnn_algorithm_trials"])
    kept_was_timed |= trial["implementation"] == record["rnn_implementation"] && trial["milliseconds"].is_number() &&
                      (trial["implementation"] != "cudnn" || trial["algorithm"] == record["rnn_algorithm"]);
  EXPECT_TRUE(kept_was_timed) << record.dump();
  EXPECT_EQ(record.contains("rnn_persistent"), record["rnn_implementation"] == "persistent") << record.dump();

  const testing::CliRun cached = train(dir, common + dir.file("cached.json"));
  ASSERT_EQ(cached.status, 0) << cached.output;
  EXPECT_NE(cached.output.find("1 choices loaded"), std::string::npos) << cached.output;
  EXPECT_NE(cached.output.find("GRU choice from the RNN algorithm cache"), std::string::npos) << cached.output;
  const nlohmann::json again = nlohmann::json::parse(testing::read_file(dir.file("cached.json")));
  EXPECT_EQ(again["rnn_choice"], "cache");
  EXPECT_EQ(again["rnn_implementation"], record["rnn_implementation"]);
  EXPECT_EQ(again.value("rnn_algorithm", ""), record.value("rnn_algorithm", ""));
  EXPECT_FALSE(again.contains("rnn_algorithm_trials"));

  testing::write_file(cache, "{ not json");  // a corrupt cache: one line, a fresh search, the file rewritten
  const testing::CliRun retimed = train(dir, common + dir.file("retimed.json"));
  ASSERT_EQ(retimed.status, 0) << retimed.output;
  EXPECT_NE(retimed.output.find("ignored (RNN algorithm cache " + cache), std::string::npos) << retimed.output;
  EXPECT_EQ(nlohmann::json::parse(testing::read_file(dir.file("retimed.json")))["rnn_choice"], "timed");
  EXPECT_NE(testing::read_file(cache).find("rosetta-rnn-algorithms"), std::string::npos);

  const testing::CliRun standard = train(dir, common + dir.file("standard.json") + " --autotune off");
  EXPECT_EQ(standard.output.find("GRU choice from"), std::string::npos) << standard.output;
  ASSERT_EQ(standard.status, 0) << standard.output;
  const nlohmann::json fixed = nlohmann::json::parse(testing::read_file(dir.file("standard.json")));
  EXPECT_EQ(fixed["rnn_algorithm"], "standard");
  EXPECT_EQ(fixed["rnn_weights"], "in place") << "cuDNN's weight space is the packed parameter block";
  EXPECT_FALSE(fixed["rnn_algorithm_autotuned"].get<bool>());
  EXPECT_FALSE(fixed.contains("rnn_algorithm_trials"));

  // Each implementation asked for by name runs, untimed.
  for (const char* rnn : {"persistent", "naive"}) {
    const testing::CliRun named = train(dir, common + dir.file(std::string(rnn) + ".json") + " --rnn " + rnn);
    ASSERT_EQ(named.status, 0) << named.output;
    const nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file(std::string(rnn) + ".json")));
    EXPECT_EQ(r["rnn_implementation"], rnn);
    EXPECT_EQ(r["rnn_choice"], "given");
  }
}

TEST(CliTrainGru, BadArgumentsAreOneLineAndExitTwo) {
  testing::TempDir dir;
  expect_one_line_error(train(dir, "--device cpu --layout nct"), "--layout: nct not in {tnc,ntc}");
  expect_one_line_error(train(dir, "--device cpu --rnn-algo fastest"), "--rnn-algo: fastest not in {auto,");
  expect_one_line_error(train(dir, "--device cpu --rnn naive"), "--rnn naive");
  expect_one_line_error(train(dir, "--device cpu --rnn persistent"), "--rnn persistent needs --device cuda");
  expect_one_line_error(train(dir, "--device cpu --rnn-algo standard"), "--rnn-algo standard needs --rnn cudnn");
  expect_one_line_error(train(dir, "--device cpu --rnn fastest"), "--rnn: fastest not in {auto,");
  expect_one_line_error(train(dir, "--device cpu --precision bf16"), "--precision: bf16 not in {fp32,tf32}");
  expect_one_line_error(train(dir, "--device cpu --synthetic-min-length 3"), "--synthetic-min-length: 3 is not an integer in [8, 150]");
  expect_one_line_error(train(dir, "--device cpu --data " + dir.file("missing.npz")), "missing.npz");
  testing::write_file(dir.file("bad.npz"), "PK\x03\x04 not really a zip");
  expect_one_line_error(train(dir, "--device cpu --data " + dir.file("bad.npz")), "bad.npz");
  if (!cuda_available()) expect_one_line_error(train(dir, "--device cuda"), "no CUDA device");
  expect_one_line_error(train(dir, "--device cpu --train-examples 0"), "--train-examples: 0 is not an integer in [1,");
  expect_one_line_error(train(dir, "--device cpu --synthetic-train 200 --train-examples 300"),
                        "--train-examples 300 exceeds the 200 training examples");
}

// --train-examples N trains on the first N examples: N / batch steps an epoch, and the record names the subset.
TEST(CliTrainGru, TrainExamplesTakesTheFirstExamplesOnly) {
  testing::TempDir dir;
  const testing::CliRun run = train(dir, "--device cpu --epochs 1 --synthetic-train 1000 --synthetic-test 64 "
                                         "--train-examples 192 --test-batches 0 --json " + dir.file("record.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("record.json")));
  EXPECT_EQ(record["steps"], 3) << "192 examples at batch 64";
  EXPECT_EQ(record["data"], "synthetic (first 192)");
}

}  // namespace
}  // namespace rosetta
