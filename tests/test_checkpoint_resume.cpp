// Training checkpoints (layers/training_checkpoint.h, `--checkpoint`, `--resume`), as the built binary runs them:
// N steps, a checkpoint, a resume and N more steps give the losses and the final weights of 2N straight steps bit
// for bit, on the CPU (dropout on for the CNN, so the step counter and the data position are part of the state;
// Adam's moments and step for the GRU), resuming inside an epoch and at its end; with a GPU also with and without
// CUDA graphs. A checkpoint of another model or of an incompatible run is one line naming the field; non-finite
// weights are refused at load and never saved.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/device.h"
#include "runtime/safetensors.h"
#include "tests/support/cli.h"

namespace rosetta {
namespace {

using testing::expect_one_line_error;

struct Workload {
  const char* command;  // "train cnn ..." with the data and the length that every run of a test shares
};
// 8 examples per batch, 8 batches per epoch, 3 epochs: 24 steps at most.
const Workload kCnn{"train cnn --batch 8 --synthetic-train 64 --synthetic-test 16 --epochs 3 --test-batches 1"};
const Workload kGru{"train gru --batch 8 --synthetic-train 64 --synthetic-test 16 --epochs 3 --test-batches 1"};

testing::CliRun run(const testing::TempDir& dir, const Workload& w, const std::string& device, const std::string& rest) {
  return testing::run_rosetta(dir, std::string(w.command) + " --device " + device + " " + rest);
}

// Straight 2N steps against N + resume + N, comparing the step logs and the final weights' bytes.
void expect_resume_is_exact(const Workload& w, const std::string& device, std::int64_t n, const std::string& extra) {
  testing::TempDir dir;
  const std::string straight = " --max-steps " + std::to_string(2 * n) + " " + extra;
  ASSERT_EQ(run(dir, w, device, straight + " --log-steps " + dir.file("straight.txt") + " --save " + dir.file("straight.st")).status, 0);
  const testing::CliRun first = run(dir, w, device, "--max-steps " + std::to_string(n) + " " + extra + " --checkpoint " +
                                                        dir.file("c.st") + " --checkpoint-every " + std::to_string(n) +
                                                        " --log-steps " + dir.file("a.txt"));
  ASSERT_EQ(first.status, 0) << first.output;
  const testing::CliRun second = run(dir, w, device, straight + " --resume " + dir.file("c.st") + " --log-steps " +
                                                         dir.file("b.txt") + " --save " + dir.file("resumed.st") +
                                                         " --json " + dir.file("resumed.json"));
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("resuming from"), std::string::npos) << second.output;
  EXPECT_EQ(testing::read_file(dir.file("a.txt")) + testing::read_file(dir.file("b.txt")),
            testing::read_file(dir.file("straight.txt")))
      << "the resumed losses, step for step, must be the straight run's bits";
  EXPECT_EQ(testing::read_file(dir.file("resumed.st")), testing::read_file(dir.file("straight.st")))
      << "and so must the final weights";
  testing::expect_valid_record(dir, dir.file("resumed.json"));
}

TEST(CheckpointResume, CnnWithDropoutResumesInsideAnEpochBitForBit) { expect_resume_is_exact(kCnn, "cpu", 5, ""); }
TEST(CheckpointResume, CnnResumesAtAnEpochEndBitForBit) { expect_resume_is_exact(kCnn, "cpu", 8, ""); }
TEST(CheckpointResume, GruAdamResumesBitForBit) { expect_resume_is_exact(kGru, "cpu", 6, ""); }

TEST(CheckpointResume, CudaResumesBitForBitWithAndWithoutGraphs) {
  if (!cuda_available()) GTEST_SKIP() << probe_cuda().reason;
  expect_resume_is_exact(kCnn, "cuda", 5, "--graph on");
  expect_resume_is_exact(kCnn, "cuda", 5, "--graph off");
  expect_resume_is_exact(kGru, "cuda", 6, "--graph on");
  expect_resume_is_exact(kGru, "cuda", 6, "--graph off");
}

TEST(CheckpointResume, TheLastStepIsCheckpointedAndLaterRunsContinueIt) {
  testing::TempDir dir;
  ASSERT_EQ(run(dir, kCnn, "cpu", "--max-steps 3 --checkpoint " + dir.file("c.st")).status, 0);
  EXPECT_EQ(SafetensorsFile::open(dir.file("c.st")).metadata().at("step"), "3");
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"c.st", "rosetta.log"})) << "no temporary left behind";
  // A later run continues it, and its own last step becomes the checkpoint.
  ASSERT_EQ(run(dir, kCnn, "cpu", "--max-steps 7 --resume " + dir.file("c.st") + " --checkpoint " + dir.file("c.st")).status, 0);
  EXPECT_EQ(SafetensorsFile::open(dir.file("c.st")).metadata().at("step"), "7");
}

TEST(CheckpointResume, MismatchesAreOneLineNamingTheField) {
  testing::TempDir dir;
  ASSERT_EQ(run(dir, kCnn, "cpu", "--max-steps 2 --checkpoint " + dir.file("cnn.st") + " --checkpoint-every 2").status, 0);
  ASSERT_EQ(run(dir, kGru, "cpu", "--max-steps 2 --checkpoint " + dir.file("gru.st") + " --checkpoint-every 2").status, 0);
  ASSERT_EQ(run(dir, kCnn, "cpu", "--max-steps 0 --save " + dir.file("weights.st")).status, 0);
  const std::string cnn = " --max-steps 4 --resume " + dir.file("cnn.st");
  expect_one_line_error(run(dir, kGru, "cpu", "--max-steps 4 --resume " + dir.file("cnn.st")),
                        "workload is cnn in the checkpoint, gru in this run");
  expect_one_line_error(testing::run_rosetta(dir, "train cnn --device cpu --batch 4 --synthetic-train 64 "
                                                  "--synthetic-test 16" + cnn),
                        "batch is 8 in the checkpoint, 4 in this run");
  expect_one_line_error(run(dir, kCnn, "cpu", "--lr 0.02" + cnn), "lr is 0.00999999978 in the checkpoint");
  expect_one_line_error(run(dir, kCnn, "cpu", "--seed 5" + cnn), "seed is 0 in the checkpoint, 5 in this run");
  expect_one_line_error(run(dir, kCnn, "cpu", "--no-dropout" + cnn), "dropout is on in the checkpoint");
  expect_one_line_error(testing::run_rosetta(dir, "train cnn --device cpu --batch 8 --synthetic-train 72 "
                                                  "--synthetic-test 16" + cnn),
                        "train_examples is 64 in the checkpoint, 72 in this run");
  expect_one_line_error(run(dir, kCnn, "cpu", "--max-steps 4 --resume " + dir.file("weights.st")),
                        "not a rosetta-training-checkpoint");
  expect_one_line_error(run(dir, kCnn, "cpu", "--max-steps 2 --resume " + dir.file("cnn.st")),
                        "nothing to train: the run would start at step 2 and end at step 2");
  expect_one_line_error(run(dir, kCnn, "cpu", "--init " + dir.file("weights.st") + cnn), "--init excludes --resume");
  // The same names and shapes in another parameter arena (a checkpoint of an older rosetta, whose GRU tensors were
  // not packed): Adam's moments would land on other parameters, so it is refused.
  const SafetensorsFile gru = SafetensorsFile::open(dir.file("gru.st"));
  NamedTensors tensors;
  for (const SafetensorsEntry& e : gru.entries()) tensors.emplace_back(e.name, gru.read(e.name));
  SafetensorsMetadata metadata = gru.metadata();
  metadata["arena_layout"] = "fnv1a64:0123456789abcdef";
  write_safetensors(dir.file("moved.st"), tensors, metadata);
  metadata.erase("arena_layout");
  write_safetensors(dir.file("older.st"), tensors, metadata);
  expect_one_line_error(run(dir, kGru, "cpu", "--max-steps 4 --resume " + dir.file("moved.st")),
                        "arena_layout is fnv1a64:0123456789abcdef in the checkpoint");
  expect_one_line_error(run(dir, kGru, "cpu", "--max-steps 4 --resume " + dir.file("older.st")),
                        "arena_layout is missing in the checkpoint");
}

TEST(NonFiniteValues, AreRefusedAtLoadAndNeverSaved) {
  testing::TempDir dir;
  ASSERT_EQ(run(dir, kCnn, "cpu", "--max-steps 0 --save " + dir.file("good.st")).status, 0);
  // One infinity in fc1.weight: refused with the tensor's name before any training.
  SafetensorsFile file = SafetensorsFile::open(dir.file("good.st"));
  NamedTensors tensors;
  for (const SafetensorsEntry& e : file.entries()) tensors.emplace_back(e.name, file.read(e.name));
  for (auto& [name, tensor] : tensors)
    if (name == "fc1.weight") tensor.data<float>()[12345] = INFINITY;
  write_safetensors(dir.file("inf.st"), tensors);
  expect_one_line_error(run(dir, kCnn, "cpu", "--max-steps 2 --init " + dir.file("inf.st")),
                        "fc1.weight holds inf at element 12345");

  // A learning rate at the top of its range diverges: the run stops with one line naming what went non-finite
  // and writes nothing (no weights, no record, no checkpoint).
  const testing::CliRun diverged = testing::run_rosetta(
      dir, "train cnn --device cpu --batch 8 --synthetic-train 64 --synthetic-test 16 --epochs 5 --lr 10 --save " +
               dir.file("out.st") + " --json " + dir.file("out.json") + " --checkpoint " + dir.file("out.ckpt"));
  EXPECT_EQ(diverged.status, 1) << diverged.output;
  EXPECT_NE(diverged.output.find("rosetta: error: training diverged:"), std::string::npos) << diverged.output;
  for (const char* name : {"out.st", "out.json", "out.ckpt"})
    EXPECT_FALSE(std::filesystem::exists(dir.file(name))) << name << " written by a diverged run";
}

}  // namespace
}  // namespace rosetta
