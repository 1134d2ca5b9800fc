// Structurally hostile inputs through the built `rosetta` binary: each reader's cap reaches the user as one line
// and exit code 2 (the CLI's InputError), in bounded time, not as a crash, an out-of-memory death or exit 1: issue
// 15's 63 KB npz (and its lying-header form) for `train gru --data`, a sparse 20 GB CIFAR-10 file for `train cnn
// --data`, and a safetensors header of more JSON values than the cap for `inspect`.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "datasets/cifar10.h"
#include "tests/support/cli.h"
#include "tests/support/hostile_npz.h"
#include "tests/support/safetensors_cases.h"

namespace rosetta {
namespace {

using testing::expect_one_line_error;
using testing::TempDir;

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  testing::write_file(path, std::string(bytes.begin(), bytes.end()));
}

TEST(CliHostileInputs, TrainGruRefusesTheIssue15NpzInOneLine) {
  TempDir dir;
  const std::string bomb = dir.file("bomb.npz");
  write_bytes(bomb, testing::imdb_npz_with(testing::shared_list_npy(std::int64_t{1} << 24, std::int64_t{1} << 24), true));
  testing::CliRun run = testing::run_rosetta(dir, "train gru --device cpu --data " + bomb);
  expect_one_line_error(run, bomb);
  EXPECT_NE(run.output.find("more than the cap of 64 times"), std::string::npos) << run.output;
  const std::string shared = dir.file("shared.npz");
  write_bytes(shared, testing::imdb_npz_with(testing::shared_list_npy(5000, 5000), true));
  run = testing::run_rosetta(dir, "train gru --device cpu --data " + shared);
  expect_one_line_error(run, "a list placed in a second container");
}

TEST(CliHostileInputs, TrainCnnRefusesAHugeCifarFileFromItsSize) {
  TempDir dir;
  const std::filesystem::path data = dir.path() / "cifar";
  std::filesystem::create_directories(data);
  for (const std::string& name : cifar10_train_files()) {
    testing::write_file((data / name).string(), "x");
    std::filesystem::resize_file(data / name, std::uint64_t{20} << 30);  // sparse
  }
  const testing::CliRun run = testing::run_rosetta(dir, "train cnn --device cpu --data " + data.string());
  expect_one_line_error(run, "data_batch_1.bin: 21474836480 bytes, expected 30730000");
}

TEST(CliHostileInputs, InspectRefusesAHeaderOfTooManyValues) {
  TempDir dir;
  std::string header = "{\"a\": [";
  for (int i = 0; i < (1 << 20); ++i) header += i ? ",0" : "0";
  const std::string path = dir.file("values.safetensors");
  testing::write_file(path, testing::safetensors_bytes(header + "]}", ""));
  expect_one_line_error(testing::run_rosetta(dir, "inspect " + path), "holds more than 1048576 JSON values");
}

}  // namespace
}  // namespace rosetta
