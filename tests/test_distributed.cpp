// Data parallelism (docs/distributed.md). In-process: a sharded batcher delivers the rows of the whole batch and the
// extraction's batch ranges cover every batch once, in order. Under `mpirun -np 2` on the CPU (skipped in a build
// without MPI): the training losses of 2 ranks at 32 rows each equal one process's at batch 64 (the CNN with dropout
// on, the GRU), the sharded extraction gives one process's features, and the faults (bad data on one rank, a killed
// rank, arguments that differ across ranks) end the job quickly with one line. On a GPU (skipped without one or
// without NCCL): the one-rank NCCL path without a launcher matches the plain path.
//
// How the equivalence is constructed: both runs draw the same epoch order (one Philox shuffle); rank r takes rows
// [32r, 32r + 32) of each global batch; dropout draws by global element index; the loss is averaged over the global
// batch on every rank; one all-reduce sums the gradient arena and the loss. What is left is float re-association:
// the weight gradients' batch sums (one chain of 64 rows against two chains of 32 added by the all-reduce) and the
// loss (two halves rounded, then added). rosetta's CPU results are the same bits on every machine (one FMA chain per
// GEMM element whatever the instruction set, blocking or thread count; 2-rank MPI sums are a + b), so the measured
// differences below are what CI sees. Tolerances, relative to the single process's loss:
// - step 1, and every step without updates (--lr 0): the logits are bit-identical (a GEMM element's chain runs over
//   the depth, which never holds the batch), so only the loss's rounding differs: two halves each rounded (u of each),
//   their float sum rounded (u), against one rounding of the whole (u): 3u = 3 x 2^-24 relative at most (kExact).
//   Measured: equal or 1 ulp. This is the test
//   of the examples each rank takes, the dropout masks and the sharded test pass: a wrong share or a mask drawn by
//   local index changes the forward itself (other rows, another dropout sample), far beyond an ulp.
// - steps 2-10: the gradients differ by re-association (at most gamma_63 = 63 u ~ 4e-6 of sum |terms| per element),
//   carried by the updates: 1e-5 (kEarly). Measured: CNN 2.6e-6, GRU 8.8e-8. A loss averaged per rank instead of
//   over the global batch doubles the step, far outside it.
// - steps 11-20: SGD with momentum amplifies the difference about 1.5x a step (the CNN's measured gap: 2.6e-6 at
//   step 10, 1.6e-4 at step 20; PyTorch against itself in two FP32 summation orders reaches 1.1e-4 in 20 steps,
//   tests/test_equivalence_cnn.cpp): 1e-3 (kLate), six times the measured gap. Adam does not amplify it here
//   (GRU: 8.2e-8 at most).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/cli/distributed.h"
#include "datasets/batcher.h"
#include "runtime/comm/job.h"
#include "runtime/safetensors.h"
#include "tests/support/cli.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

constexpr double kExact = 3.0 / (1 << 24);  // see the header: the roundings of the loss's halves and sum
constexpr double kEarly = 1e-5;             // see the header: re-association carried by up to 9 updates
constexpr double kLate = 1e-3;              // see the header: ... and amplified by SGD with momentum

// A communicator that only says which rank it is: what the sharding rules need.
class RankOnly final : public Communicator {
 public:
  RankOnly(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string engine() const override { return "test"; }
  void all_reduce_sum(const Context&, std::initializer_list<Tensor>) const override { FAIL() << "not a job"; }
  void all_gather(const void*, std::size_t, void*) const override { FAIL() << "not a job"; }
  void gather_to_first(const void*, std::size_t, void*, std::size_t) const override { FAIL() << "not a job"; }
  void broadcast_from_first(void*, std::size_t) const override { FAIL() << "not a job"; }

 private:
  int rank_, size_;
};

TEST(Distributed, ShardsOfAShuffledGlobalBatchAreItsRowsInOrder) {
  Dataset data;
  data.name = "rows";
  data.inputs = Tensor::empty({20, 3}, DType::f32);
  data.labels = Tensor::empty({20}, DType::i32);
  data.num_classes = 20;
  for (std::int64_t i = 0; i < 60; ++i) data.inputs.data<float>()[i] = float(i);
  for (std::int32_t i = 0; i < 20; ++i) data.labels.data<std::int32_t>()[i] = i;
  Batcher whole(data, 8, Device::cpu, /*shuffle=*/true, 5);
  Batcher first(data, 8, Device::cpu, true, 5, false, BatchShard{0, 2}), second(data, 8, Device::cpu, true, 5, false,
                                                                                BatchShard{1, 2});
  EXPECT_EQ(first.batch_size(), 4);
  EXPECT_EQ(first.batches_per_epoch(), whole.batches_per_epoch());
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    whole.start_epoch(epoch), first.start_epoch(epoch), second.start_epoch(epoch);
    for (std::int64_t b = 0; b < whole.batches_per_epoch(); ++b) {
      const Batch all = whole.next(Context::cpu()), a = first.next(Context::cpu()), c = second.next(Context::cpu());
      std::vector<float> rows = a.inputs.to_vector(), tail = c.inputs.to_vector();
      rows.insert(rows.end(), tail.begin(), tail.end());
      EXPECT_EQ(rows, all.inputs.to_vector()) << "epoch " << epoch << " batch " << b;
      for (int j = 0; j < 4; ++j) {
        EXPECT_EQ(a.labels.data<std::int32_t>()[j], all.labels.data<std::int32_t>()[j]);
        EXPECT_EQ(c.labels.data<std::int32_t>()[j], all.labels.data<std::int32_t>()[4 + j]);
      }
    }
  }
  EXPECT_THROW(Batcher(data, 7, Device::cpu, true, 5, false, BatchShard{0, 2}), Error);  // 7 rows do not halve
}

TEST(Distributed, BatchRangesCoverEveryBatchOnceInRankOrder) {
  for (int ranks : {1, 2, 3, 5}) {
    for (std::int64_t batches : {0, 1, 4, 7, 40}) {
      std::int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const cli::BatchRange range = cli::batch_range(RankOnly(r, ranks), batches);
        EXPECT_EQ(range.first, next) << ranks << " ranks, " << batches << " batches, rank " << r;
        EXPECT_LE(range.count, batches / ranks + 1);
        next += range.count;
      }
      EXPECT_EQ(next, batches);
    }
  }
  EXPECT_EQ(cli::batch_shard(RankOnly(1, 2), 64).index, 1);
  EXPECT_THROW(cli::batch_shard(RankOnly(0, 3), 64), InputError);
}

// ---- under mpirun --------------------------------------------------------------------------------------------

std::string mpi_unavailable_reason() {
  if (std::string(ROSETTA_MPIEXEC).empty()) return "this build has no MPI (docs/distributed.md)";
  return comm::comm_engines().mpi.rfind("not built", 0) == 0 ? "this build has no MPI" : "";
}
#define ROSETTA_REQUIRE_MPI()                                                           \
  do {                                                                                  \
    if (!mpi_unavailable_reason().empty()) GTEST_SKIP() << mpi_unavailable_reason();    \
  } while (0)

// `mpirun` for 2 CPU ranks on this machine: as root (CI), with more ranks than cores allowed; and a hard limit far
// below ctest's, so a hang fails the test instead of the suite. Under AddressSanitizer the ranks run without
// LeakSanitizer: Open MPI keeps allocations until exit and unloads the plugins that made them before the report,
// so its own blocks are reported as leaks with no frame to suppress them by; every other ASan check stays on.
constexpr int kJobLimitSeconds = 120;
std::string mpirun(const std::string& ranks) {
#if defined(__SANITIZE_ADDRESS__)
  const std::string sanitizer = "ASAN_OPTIONS=detect_leaks=0 ";
#else
  const std::string sanitizer;
#endif
  return sanitizer + "timeout " + std::to_string(kJobLimitSeconds) + " '" ROSETTA_MPIEXEC
                     "' --allow-run-as-root --oversubscribe " + ranks;
}
std::string rosetta() { return "'" + testing::cli_path() + "'"; }

struct LossRuns {
  std::vector<double> one, two;  // per step: one process at batch 64, two ranks at 32 each
  nlohmann::json one_record, two_record;
};

// Trains `workload` `steps` steps with `flags` as one process and as 2 ranks; ASSERTs that both ran.
void train_both(const testing::TempDir& dir, const std::string& workload, std::size_t steps, const std::string& flags,
                LossRuns* runs) {
  const std::string common = " train " + workload + " --device cpu --batch 64 --max-steps " + std::to_string(steps) +
                             " --seed 7 --synthetic-train 1280 --synthetic-test 512 --test-batches 8 " + flags;
  const int one = testing::run_command(rosetta() + common + " --log-steps " + dir.file("one.txt") + " --json " +
                                           dir.file("one.json"),
                                       dir.file("one.log"));
  ASSERT_EQ(one, 0) << testing::read_file(dir.file("one.log"));
  const int two = testing::run_command(mpirun("-np 2 ") + rosetta() + common + " --log-steps " + dir.file("two.txt") +
                                           " --json " + dir.file("two.json"),
                                       dir.file("two.log"));
  ASSERT_EQ(two, 0) << testing::read_file(dir.file("two.log"));
  runs->one = testing::read_step_log(dir.file("one.txt"));
  runs->two = testing::read_step_log(dir.file("two.txt"));
  runs->one_record = nlohmann::json::parse(testing::read_file(dir.file("one.json")));
  runs->two_record = nlohmann::json::parse(testing::read_file(dir.file("two.json")));
  ASSERT_EQ(runs->one.size(), steps);
  ASSERT_EQ(runs->two.size(), steps);
  EXPECT_EQ(runs->two_record["ranks"], 2);
  EXPECT_EQ(runs->one_record["ranks"], 1);
  EXPECT_NE(testing::read_file(dir.file("two.log")).find("2 ranks (MPI"), std::string::npos)
      << "the run header names the ranks and the engine";
}

// Step i (from 0) within its tolerance of the header, all steps at kExact when nothing is updated.
void expect_equivalent(const LossRuns& runs, bool updates) {
  for (std::size_t i = 0; i < runs.one.size(); ++i) {
    const double tolerance = !updates || i == 0 ? kExact : i < 10 ? kEarly : kLate;
    EXPECT_LE(std::abs(runs.two[i] - runs.one[i]), tolerance * std::abs(runs.one[i]))
        << "step " << i + 1 << ": one process " << runs.one[i] << ", two ranks " << runs.two[i];
  }
}

TEST(DistributedMpi, CnnWithDropoutOnTwoRanksOfHalfTheBatchMatchesOneProcess) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  LossRuns runs;
  ASSERT_NO_FATAL_FAILURE(train_both(dir, "cnn", 20, "", &runs));
  expect_equivalent(runs, /*updates=*/true);
  EXPECT_EQ(runs.two_record["dropout"], true);
}

// Without updates (lr 0) every step is a forward with fresh dropout masks on the same weights: the examples, the masks
// and the test pass (each rank scores its share of every test batch, the counts summed) must be one process's.
TEST(DistributedMpi, CnnWithoutUpdatesSeesOneProcessExamplesMasksAndAccuracy) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  LossRuns runs;
  ASSERT_NO_FATAL_FAILURE(train_both(dir, "cnn", 3, "--lr 0", &runs));
  expect_equivalent(runs, /*updates=*/false);
  EXPECT_EQ(runs.two_record["test_accuracy"], runs.one_record["test_accuracy"]);
}

TEST(DistributedMpi, GruOnTwoRanksOfHalfTheBatchMatchesOneProcess) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  LossRuns runs;
  ASSERT_NO_FATAL_FAILURE(train_both(dir, "gru", 20, "", &runs));
  expect_equivalent(runs, /*updates=*/true);
}

TEST(DistributedMpi, ShardedExtractionGathersOneProcessFeaturesInOrder) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  // 3 batches over 2 ranks: rank 0 takes batches 0-1, rank 1 batch 2 (the uneven split).
  const std::string common = " extract resnet50 --device cpu --random-weights --images 6 --batch 2 --image-size 32 ";
  ASSERT_EQ(testing::run_command(rosetta() + common + "--features-out " + dir.file("one.safetensors"),
                                 dir.file("one.log")),
            0)
      << testing::read_file(dir.file("one.log"));
  ASSERT_EQ(testing::run_command(mpirun("-np 2 ") + rosetta() + common + "--features-out " + dir.file("two.safetensors"),
                                 dir.file("two.log")),
            0)
      << testing::read_file(dir.file("two.log"));
  // Exact: each batch runs the same CPU kernels on the same images and weights whichever rank runs it.
  const Tensor one = SafetensorsFile::open(dir.file("one.safetensors")).read("features");
  const Tensor two = SafetensorsFile::open(dir.file("two.safetensors")).read("features");
  ASSERT_EQ(two.shape(), one.shape());
  EXPECT_EQ(two.to_vector(), one.to_vector());
}

// The lines a failed job printed that come from rosetta (mpirun adds its own framed notices).
std::vector<std::string> rosetta_lines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("rosetta:", 0) == 0) lines.push_back(line);
  return lines;
}

// A job must end within this many seconds of a fault: mpirun notices a dead rank or MPI_Abort in well under one.
constexpr double kFaultSeconds = 30;

struct TimedRun {
  int status;
  double seconds;
  std::string output;
};
TimedRun timed_run(const testing::TempDir& dir, const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  const int status = testing::run_command(command, dir.file("job.log"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {status, seconds, testing::read_file(dir.file("job.log"))};
}

TEST(DistributedMpi, BadDataOnOneRankEndsEveryRankWithOneLine) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "good");
  std::filesystem::create_directories(dir.path() / "bad");
  ASSERT_EQ(testing::run_command(rosetta() + " train gru --synthetic --synthetic-train 1024 --synthetic-test 64 "
                                             "--export-data " + dir.file("good/imdb.npz"),
                                 dir.file("export.log")),
            0);
  // Rank 1's node has a damaged copy at the same path: the same command line, other bytes.
  std::filesystem::copy_file(dir.path() / "good/imdb.npz", dir.path() / "bad/imdb.npz");
  std::filesystem::resize_file(dir.path() / "bad/imdb.npz", 100);
  const std::string command = " " + rosetta() + " train gru --device cpu --data imdb.npz --batch 64 --test-batches 0";
  const TimedRun run = timed_run(dir, mpirun("-np 1 -wdir " + dir.file("good") + command + " : -np 1 -wdir " +
                                             dir.file("bad") + command));
  EXPECT_NE(run.status, 0) << run.output;
  EXPECT_NE(run.status, 124) << "the job hung until the timeout: " << run.output;
  EXPECT_LT(run.seconds, kFaultSeconds) << run.output;
  const std::vector<std::string> lines = rosetta_lines(run.output);
  ASSERT_EQ(lines.size(), 1u) << run.output;
  EXPECT_EQ(lines[0].rfind("rosetta: rank 1 of 2: error: imdb.npz", 0), 0u) << lines[0];
}

TEST(DistributedMpi, AKilledRankEndsTheJobNamingIt) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  // A long run (every step of 3 epochs); once both ranks train, rank 1 (found among mpirun's children by the rank
  // Open MPI puts in its environment) is killed with SIGKILL, which no handler can see.
  const std::string job = mpirun("-np 2 ") + rosetta() + " train gru --device cpu --synthetic-train 4096 --batch 64";
  {
    std::ofstream script(dir.file("kill.sh"));
    script << job << " > " << dir.file("job.out") << " 2>&1 &\n"
           << "job=$!\n"
           << "for i in $(seq 1 300); do grep -q '^rosetta gru on' " << dir.file("job.out") << " && break; sleep 0.1; done\n"
           << "sleep 1\n"
           << "for p in $(pgrep -P \"$(pgrep -d, -P $job)\"); do\n"  // timeout, mpirun, the ranks
           << "  if grep -qz '^OMPI_COMM_WORLD_RANK=1$' /proc/$p/environ; then kill -9 $p; date +%s.%N > "
           << dir.file("killed") << "; fi\n"
           << "done\n"
           << "wait $job\n";
  }
  const int status = testing::run_command("bash " + dir.file("kill.sh"), dir.file("kill.log"));
  const double ended_at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string output = testing::read_file(dir.file("job.out"));
  ASSERT_TRUE(std::filesystem::exists(dir.file("killed"))) << "rank 1 was never found to kill: " << output;
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(status, 124) << "the job hung until the timeout: " << output;
  const double killed_at = std::stod(testing::read_file(dir.file("killed")));
  EXPECT_LT(ended_at - killed_at, kFaultSeconds) << output;
  EXPECT_NE(output.find("rank 1 with PID"), std::string::npos) << "mpirun names the rank: " << output;
  EXPECT_NE(output.find("signal 9"), std::string::npos) << "and the cause: " << output;
}

TEST(DistributedMpi, ArgumentsThatDifferAcrossRanksAreRefused) {
  ROSETTA_REQUIRE_MPI();
  const testing::TempDir dir;
  const std::string command = " " + rosetta() + " train gru --device cpu --synthetic-train 256 --max-steps 1 --seed ";
  const TimedRun run = timed_run(dir, mpirun("-np 1" + command + "1 : -np 1" + command + "2"));
  EXPECT_EQ(run.status, 2) << run.output;
  const std::vector<std::string> lines = rosetta_lines(run.output);
  ASSERT_EQ(lines.size(), 1u) << run.output;
  EXPECT_NE(lines[0].find("rank 1's differ from rank 0's"), std::string::npos) << lines[0];
  EXPECT_EQ(run.output.find("rosetta gru on"), std::string::npos) << "refused before the run header: " << run.output;
}

// ---- on a GPU ------------------------------------------------------------------------------------------------

TEST(DistributedCuda, OneRankNcclWithoutALauncherMatchesThePlainPath) {
  ROSETTA_REQUIRE_CUDA();
  if (comm::comm_engines().nccl.rfind("NCCL", 0) != 0) GTEST_SKIP() << "NCCL: " << comm::comm_engines().nccl;
  const testing::TempDir dir;
  for (const std::string workload : {"cnn", "gru"}) {
    const std::string common = " train " + workload + " --device cuda --batch 64 --max-steps 20 --seed 7 "
                               "--synthetic-train 1280 --synthetic-test 64 --test-batches 0 --autotune off --algo-cache " +
                               dir.file("algorithms.json");
    ASSERT_EQ(testing::run_command(rosetta() + common + " --log-steps " + dir.file("plain.txt"), dir.file("plain.log")),
              0)
        << testing::read_file(dir.file("plain.log"));
    ASSERT_EQ(testing::run_command(rosetta() + common + " --comm nccl --log-steps " + dir.file("nccl.txt"),
                                   dir.file("nccl.log")),
              0)
        << testing::read_file(dir.file("nccl.log"));
    EXPECT_NE(testing::read_file(dir.file("nccl.log")).find("1 rank (NCCL"), std::string::npos);
    const std::vector<double> plain = testing::read_step_log(dir.file("plain.txt"));
    const std::vector<double> nccl = testing::read_step_log(dir.file("nccl.txt"));
    ASSERT_EQ(plain.size(), 20u);
    ASSERT_EQ(nccl.size(), 20u);
    // One rank's all-reduce is the identity, so the runs differ only where cuDNN's default algorithms add with
    // atomics (not deterministic): as two plain runs do, by re-association carried by the updates (kEarly, kLate).
    // Step 1 is a forward: exact.
    EXPECT_EQ(nccl[0], plain[0]) << workload;
    for (std::size_t i = 1; i < plain.size(); ++i)
      EXPECT_LE(std::abs(nccl[i] - plain[i]), (i < 10 ? kEarly : kLate) * std::abs(plain[i]))
          << workload << " step " << i + 1;
  }
}

}  // namespace
}  // namespace rosetta
