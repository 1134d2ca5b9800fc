// Data parallelism in the rosetta CLI (docs/distributed.md): `mpirun -np N rosetta train cnn|gru ...` and
// `mpirun -np N rosetta extract resnet50 ...`. The commands call run_as_job around their body and use the helpers
// below; everything MPI- or NCCL-specific stays behind runtime/comm/job.h.
//
// Invariants:
// - With one process and --comm auto, a command runs exactly as it does without this file (no MPI, no NCCL).
// - Under a launcher: rank 0 alone writes to stdout (the other ranks' stdout is /dev/null) and alone writes files;
//   command lines that differ across ranks (a hash of /proc/self/cmdline) are refused on every rank before any
//   work, with one line from rank 0; an exception on any rank becomes one line naming the rank and the cause and
//   ends every rank (comm::Job::fail), so no rank hangs waiting for a failed one.
// - --batch is the GLOBAL batch: rank r trains on share r of each global batch (datasets/batcher.h's BatchShard).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "datasets/batcher.h"
#include "layers/parameters.h"
#include "runtime/communicator.h"
#include "runtime/device.h"

namespace rosetta::cli {

// Joins the job for --comm `comm_flag` (auto | nccl), resolves --device `device_flag`, connects the communicator and
// runs body(communicator, device) under the rules above.
void run_as_job(const std::string& comm_flag, const std::string& device_flag,
                const std::function<void(const Communicator&, Device)>& body);

// This rank's share of each global batch of `global_batch` rows (an InputError when it does not split evenly).
BatchShard batch_shard(const Communicator& communicator, std::int64_t global_batch);

// The contiguous range [first, first + count) of `batches` batches that rank r handles: the first batches % N ranks
// take one more, so the ranks' ranges in rank order are 0 .. batches - 1.
struct BatchRange {
  std::int64_t first = 0, count = 0;
};
BatchRange batch_range(const Communicator& communicator, std::int64_t batches);

// Whether any rank's `mine` is true (every rank gets it): a decision all ranks must share, taken between steps
// (an interruption: a rank that stopped alone would leave the others waiting in an all-reduce).
bool any_rank(const Communicator& communicator, bool mine);

// The largest of the ranks' `value`s (every rank gets it): a job's time is its slowest rank's.
double max_over_ranks(const Communicator& communicator, double value);

// Throws when the ranks' parameter values differ (a hash of the arena's bytes, gathered over the ranks): the
// replicas of a data-parallel run must stay bit-identical.
void check_replicas_agree(const Communicator& communicator, const ParameterSet& parameters);

// "2 ranks (MPI (Open MPI v4.1.4)), 32 rows each" for the run header; empty for the single process.
std::string job_description(const Communicator& communicator, std::int64_t rows_per_rank);

}  // namespace rosetta::cli
