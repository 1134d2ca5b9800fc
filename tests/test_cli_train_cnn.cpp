// `rosetta train cnn`, run as the built binary: 50 CPU steps on the synthetic set lower the loss and write the
// step log, the JSON record and the weights; every mode of the step (--fuse, --relu-order, --layout, --pad-channels)
// trains the same losses on the CPU and names itself in the record; on a GPU, the captured step fed from the batcher's
// two slots (one graph each, no copy of the batch) trains what eager steps train; bad arguments and bad files are one
// line on stderr and exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/device.h"
#include "tests/support/cli.h"
#include "tests/support/cuda.h"

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
  expect_one_line_error(train(dir, "--device cpu --precision fp64"), "--precision: fp64 not in {fp32,tf32,bf16}");
  expect_one_line_error(train(dir, "--device cpu --fuse maybe"), "--fuse: maybe not in {on,off}");
  expect_one_line_error(train(dir, "--device cpu --relu-order sideways"), "--relu-order: sideways not in {before-pool,after-pool}");
  expect_one_line_error(train(dir, "--device cpu --layout nhcw"), "--layout nhcw: expected auto, nchw or nhwc");
  expect_one_line_error(train(dir, "--device cpu --pad-channels 0"), "--pad-channels 0: expected auto or a multiple from 1 to 64");
  expect_one_line_error(train(dir, "--device cpu --pad-channels 8x"), "--pad-channels 8x: expected auto or a multiple from 1 to 64");
  // The model's rules, in the command line's words.
  expect_one_line_error(train(dir, "--device cpu --precision bf16 --layout nchw"), "--precision bf16 needs --layout nhwc");
  expect_one_line_error(train(dir, "--device cpu --layout nhwc --fuse off"), "--layout nhwc needs --fuse on");
  expect_one_line_error(train(dir, "--device cpu --pad-channels 8 --layout nchw"), "--pad-channels 8 needs --layout nhwc");
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

// The modes of the step are one model: on the CPU twin their losses and saved weights are the same bits
// (tests/test_cifar_vgg.cpp proves it of the model; here of the command line's flags and the save path, which writes
// PyTorch's shapes from a padded channels-last model), and each record names its mode.
TEST(CliTrainCnn, EveryModeOfTheStepTrainsTheSameLossesAndSaysWhichItRan) {
  testing::TempDir dir;
  const std::string common = "--device cpu --batch 16 --epochs 1 --max-steps 4 --synthetic-train 256 --synthetic-test 0 "
                             "--test-batches 0";
  struct Mode {
    const char* name;
    const char* flags;
    bool fuse;
    const char* relu_order;
    const char* layout;
    int pad;
  };
  const Mode modes[] = {{"seed", "--fuse off --relu-order after-pool", false, "after-pool", "nchw", 1},
                        {"default", "", true, "before-pool", "nchw", 1},
                        {"nhwc", "--layout nhwc", true, "before-pool", "nhwc", 8},
                        {"nhwc-unpadded-after", "--layout nhwc --pad-channels 1 --relu-order after-pool", true,
                         "after-pool", "nhwc", 1}};
  std::vector<double> reference;
  std::string reference_weights;
  for (const Mode& m : modes) {
    SCOPED_TRACE(m.name);
    const std::string steps = dir.file(std::string(m.name) + ".txt"), record = dir.file(std::string(m.name) + ".json");
    const std::string weights = dir.file(std::string(m.name) + ".safetensors");
    const testing::CliRun run =
        train(dir, common + " " + m.flags + " --log-steps " + steps + " --json " + record + " --save " + weights);
    ASSERT_EQ(run.status, 0) << run.output;
    const std::vector<double> losses = testing::read_step_log(steps);
    ASSERT_EQ(losses.size(), 4u);
    if (reference.empty()) reference = losses, reference_weights = testing::read_file(weights);
    EXPECT_EQ(losses, reference);
    // The saved file: PyTorch's names and shapes whatever the device layout, and the same bytes.
    EXPECT_TRUE(testing::read_file(weights) == reference_weights) << "the saved weights differ from the seed's step's";
    const nlohmann::json r = nlohmann::json::parse(testing::read_file(record));
    EXPECT_EQ(r["fuse"], m.fuse);
    EXPECT_EQ(r["relu_order"], m.relu_order);
    EXPECT_EQ(r["layout"], m.layout);
    EXPECT_EQ(r["pad_channels"], m.pad);
    ASSERT_EQ(r["convolutions"].size(), 4u);
    testing::expect_valid_record(dir, record);
  }
}

// The captured step replays on the batcher's slots (one graph per slot, each reading its slot: no copy of the batch):
// it must train on the batch of its own step. A graph that read the other slot would train on the previous batch and
// move the loss by ~1e-2; the eager and graph runs differ only by cuDNN's algorithms, which may sum in another order
// (atomics): 1e-4 relative, as CifarVGGCuda.FiveStepsMatchTheCpu.
TEST(CliTrainCnnCuda, TheCapturedStepTrainsOnItsOwnBatch) {
  ROSETTA_REQUIRE_CUDA();
  testing::TempDir dir;
  const std::string common = "--device cuda --batch 16 --epochs 1 --max-steps 12 --synthetic-train 1024 "
                             "--synthetic-test 0 --test-batches 0 --algo-cache " + dir.file("algorithms.json");
  for (const char* graph : {"off", "on"})
    ASSERT_EQ(train(dir, common + " --graph " + graph + " --log-steps " + dir.file(std::string(graph) + ".txt")).status, 0);
  const std::vector<double> eager = testing::read_step_log(dir.file("off.txt"));
  const std::vector<double> graph = testing::read_step_log(dir.file("on.txt"));
  ASSERT_EQ(eager.size(), 12u);
  ASSERT_EQ(graph.size(), 12u);
  for (std::size_t i = 0; i < eager.size(); ++i) EXPECT_NEAR(graph[i], eager[i], 1e-4 * eager[i]) << "step " << i + 1;
}

TEST(CliTrainCnn, ZeroStepsSavesTheInitialWeightsDeterministically) {
  testing::TempDir dir;
  ASSERT_EQ(train(dir, "--device cpu --max-steps 0 --seed 3 --save " + dir.file("a.safetensors")).status, 0);
  ASSERT_EQ(train(dir, "--device cpu --max-steps 0 --seed 3 --save " + dir.file("b.safetensors")).status, 0);
  EXPECT_EQ(testing::read_file(dir.file("a.safetensors")), testing::read_file(dir.file("b.safetensors")));
}

}  // namespace
}  // namespace rosetta
