// Interruption and full disks, as promises (runtime/interrupt.h, runtime/atomic_file.h, docs/reliability.md):
// - SIGTERM or SIGINT during training ends the step, writes the checkpoint, the step log and the record marked
//   "interrupted", and exits 143 or 130 with one line; resuming that checkpoint gives the straight run's losses;
// - a second signal exits at once and removes the temporary being written; an existing file stays intact;
// - a write that fails (here a file-size limit, as a full disk fails it) is one line, exit 2, the old file intact
//   and no temporary left behind;
// - a multi-file output (AtomicFolder, the CIFAR-10 export) appears whole or not at all: a reader never sees a mix
//   of an old and a new set, whether the write fails, is interrupted once or twice, or succeeds.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/atomic_file.h"
#include "runtime/interrupt.h"
#include "runtime/safetensors.h"
#include "tests/support/cli.h"

namespace rosetta {
namespace {

// 8 batches of 8 per epoch on the CPU; 400 epochs is far longer than any test waits.
const std::string kTraining = "train cnn --device cpu --batch 8 --synthetic-train 64 --synthetic-test 16 --test-batches 1";

// Starts `rosetta ARGS` in the background, waits until it has printed its first epoch line (so it is inside the
// training loop), sends `signal`, and returns the exit status and output.
testing::CliRun interrupt_training(const testing::TempDir& dir, const std::string& args, int signal) {
  const std::string log = dir.file("run.log"), status = dir.file("status");
  const std::string script = "'" + testing::cli_path() + "' " + args + " > '" + log + "' 2>&1 & pid=$!; " +
                             "for i in $(seq 600); do grep -q '^epoch 1/' '" + log + "' && break; sleep 0.1; done; " +
                             "kill -" + std::to_string(signal) + " $pid; wait $pid; echo $? > '" + status + "'";
  EXPECT_EQ(testing::run_command(script, dir.file("script.log")), 0) << testing::read_file(dir.file("script.log"));
  return {std::stoi(testing::read_file(status)), testing::read_file(log)};
}

std::string last_line(const std::string& text) {
  const std::size_t end = text.find_last_not_of('\n');
  const std::size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

TEST(Interrupt, SigtermCheckpointsRecordsAndResumesExactly) {
  testing::TempDir dir;
  const testing::CliRun run = interrupt_training(
      dir, kTraining + " --epochs 400 --checkpoint " + dir.file("c.st") + " --json " + dir.file("r.json") +
               " --log-steps " + dir.file("a.txt") + " --save " + dir.file("final.st"),
      SIGTERM);
  EXPECT_EQ(run.status, 143) << run.output;
  const std::string line = last_line(run.output);
  EXPECT_NE(line.find("rosetta: interrupted by SIGTERM after step "), std::string::npos) << run.output;
  EXPECT_NE(line.find("checkpoint written to " + dir.file("c.st")), std::string::npos) << line;
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
  EXPECT_EQ(record["status"], "interrupted");
  testing::expect_valid_record(dir, dir.file("r.json"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("final.st"))) << "an interrupted run has no final weights";
  const std::int64_t steps = record["steps"].get<std::int64_t>();
  EXPECT_EQ(SafetensorsFile::open(dir.file("c.st")).metadata().at("step"), std::to_string(steps));
  EXPECT_EQ(testing::read_step_log(dir.file("a.txt")).size(), static_cast<std::size_t>(steps));
  for (const std::string& name : dir.listing()) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;

  // The resumed run continues where the interrupted one stopped: together, the straight run's losses.
  const std::string total = " --epochs 400 --max-steps " + std::to_string(steps + 6);
  ASSERT_EQ(testing::run_rosetta(dir, kTraining + total + " --resume " + dir.file("c.st") + " --log-steps " + dir.file("b.txt")).status, 0);
  ASSERT_EQ(testing::run_rosetta(dir, kTraining + total + " --log-steps " + dir.file("straight.txt")).status, 0);
  EXPECT_EQ(testing::read_file(dir.file("a.txt")) + testing::read_file(dir.file("b.txt")),
            testing::read_file(dir.file("straight.txt")));
}

TEST(Interrupt, SigintExits130WithOneLine) {
  testing::TempDir dir;
  const testing::CliRun run = interrupt_training(dir, kTraining + " --epochs 400", SIGINT);
  EXPECT_EQ(run.status, 130) << run.output;
  EXPECT_NE(last_line(run.output).find("rosetta: interrupted by SIGINT after step "), std::string::npos) << run.output;
}

// In a child process: an AtomicFile half written over an existing target, then two signals. The second ends the
// process at once (128 + signal), removing the temporary; the existing target is untouched.
TEST(Interrupt, SecondSignalRemovesTheTemporaryAndExitsAtOnce) {
  testing::TempDir dir;
  const std::string target = dir.file("weights.st");
  testing::write_file(target, "the old, good file");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    install_interrupt_handlers();
    AtomicFile file(target);
    file.write("half of the new", 15);
    std::raise(SIGTERM);  // the first: only noted
    if (interrupt_signal() != SIGTERM) _exit(3);
    std::raise(SIGTERM);  // the second: removes the temporary and exits
    _exit(4);             // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"weights.st"})) << "no temporary left";
  EXPECT_EQ(testing::read_file(target), "the old, good file");
}

// A file-size limit makes the save fail as a full disk does (EFBIG instead of ENOSPC; SIGXFSZ is ignored).
TEST(FullDisk, AFailedSaveIsOneLineLeavesTheOldFileAndNoTemporary) {
  testing::TempDir dir;
  testing::write_file(dir.file("w.st"), "the old, good file");
  const std::string log = dir.file("limited.log");
  const int status = testing::run_command("ulimit -f 64; '" + testing::cli_path() + "' " + kTraining +
                                              " --max-steps 1 --save " + dir.file("w.st"),
                                          log);
  const std::string output = testing::read_file(log);
  EXPECT_EQ(status, 2) << output;
  EXPECT_NE(last_line(output).find(dir.file("w.st") + ": cannot write: File too large"), std::string::npos) << output;
  EXPECT_EQ(testing::read_file(dir.file("w.st")), "the old, good file");
  for (const std::string& name : dir.listing()) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
}

void write_set(const AtomicFolder& folder, const std::vector<std::string>& names, const std::string& text) {
  for (const std::string& name : names) write_file_atomically(folder.file(name), text + " " + name);
}

void commit_set(const std::string& target, const std::vector<std::string>& names, const std::string& text) {
  AtomicFolder folder(target, names);
  write_set(folder, names, text);
  folder.commit();
}

TEST(AtomicFolder, ReplacesAnEarlierSetWholeAndLeavesNothingBeside) {
  testing::TempDir dir;
  const std::string target = dir.file("set");
  const std::vector<std::string> names = {"a.bin", "b.bin", "c.bin"};
  {
    AtomicFolder folder(target, names);
    write_set(folder, names, "old");
    EXPECT_FALSE(std::filesystem::exists(target)) << "nothing appears before the commit";
    folder.commit();
  }
  commit_set(target, names, "new");
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"set"}));
  for (const std::string& name : names) EXPECT_EQ(testing::read_file(target + "/" + name), "new " + name);
}

TEST(AtomicFolder, AnAbandonedSetLeavesTheOldOneAndNoStaging) {
  testing::TempDir dir;
  const std::string target = dir.file("set");
  const std::vector<std::string> names = {"a.bin", "b.bin"};
  commit_set(target, names, "old");
  {
    AtomicFolder folder(target, names);
    write_file_atomically(folder.file("a.bin"), "new a.bin");  // b.bin never written: a failure between files
  }
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"set"}));
  EXPECT_EQ(testing::read_file(target + "/a.bin"), "old a.bin");
}

TEST(AtomicFolder, AFolderHoldingOtherFilesIsRefusedByName) {
  testing::TempDir dir;
  const std::string target = dir.file("mine");
  std::filesystem::create_directories(target);
  testing::write_file(target + "/notes.txt", "the user's");
  try {
    AtomicFolder folder(target, {"a.bin"});
    FAIL() << "a folder with other files was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("holds notes.txt, which is not part of this output"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(testing::read_file(target + "/notes.txt"), "the user's");
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"mine"}));
}

// In a child process: a new set half written over an old one, then two signals: the second removes the staging
// folder and its files before exiting; the old set is intact.
TEST(AtomicFolder, SecondSignalRemovesTheStagingFolder) {
  testing::TempDir dir;
  const std::string target = dir.file("set");
  const std::vector<std::string> names = {"a.bin", "b.bin"};
  commit_set(target, names, "old");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    install_interrupt_handlers();
    AtomicFolder folder(target, names);
    write_file_atomically(folder.file("a.bin"), "new a.bin");
    AtomicFile half(folder.file("b.bin"));
    half.write("half", 4);
    std::raise(SIGTERM);
    std::raise(SIGTERM);
    _exit(4);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"set"})) << "no staging folder left";
  for (const std::string& name : names) EXPECT_EQ(testing::read_file(target + "/" + name), "old " + name);
}

// The CIFAR-10 export through the CLI under a file-size limit (a full disk): one line, exit 2, the earlier export
// intact (its six files, as they were) and nothing beside it.
TEST(FullDisk, AFailedCifarExportLeavesTheEarlierExportWhole) {
  testing::TempDir dir;
  const std::string data = dir.file("cifar");
  const std::string export_data = "train cnn --device cpu --synthetic-train 50000 --synthetic-test 10000 --export-data ";
  ASSERT_EQ(testing::run_rosetta(dir, export_data + data + " --seed 1").status, 0);
  const std::string before = testing::read_file(data + "/data_batch_3.bin");
  const std::string log = dir.file("limited.log");
  // 16 MiB per file (bash counts KiB): the first 30.7 MB file cannot be written.
  const int status = testing::run_command(
      "ulimit -f 16384; '" + testing::cli_path() + "' " + export_data + data + " --seed 2", log);
  const std::string output = testing::read_file(log);
  EXPECT_EQ(status, 2) << output;
  EXPECT_NE(last_line(output).find("cannot write: File too large"), std::string::npos) << output;
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"cifar", "limited.log", "rosetta.log"}));
  EXPECT_EQ(testing::read_file(data + "/data_batch_3.bin"), before) << "the earlier export is intact";
}

}  // namespace
}  // namespace rosetta
