// run_as_job and the data-parallel helpers of distributed.h.
#include "bench/cli/distributed.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "bench/cli/arguments.h"
#include "runtime/comm/job.h"

namespace rosetta::cli {
namespace {

// An input error that every rank found at the same point of a collective: each rank throws it, and none waits.
class AgreedInputError : public InputError {
 public:
  using InputError::InputError;
};

// FNV-1a, 64 bits: a cheap, stable fingerprint to compare across ranks (not a security hash).
std::uint64_t fnv1a(const void* data, std::size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  return hash;
}

// Every rank's value of `mine`, in rank order.
std::vector<std::uint64_t> gathered(const Communicator& communicator, std::uint64_t mine) {
  std::vector<std::uint64_t> all(static_cast<std::size_t>(communicator.size()));  // (ranks,)
  communicator.all_gather(&mine, sizeof mine, all.data());
  return all;
}

// The first rank whose value differs from rank 0's, or 0 when all agree.
int first_disagreeing_rank(const std::vector<std::uint64_t>& values) {
  const auto it = std::find_if(values.begin(), values.end(), [&](std::uint64_t v) { return v != values[0]; });
  return it == values.end() ? 0 : static_cast<int>(it - values.begin());
}

// Refuses, on every rank, a job whose ranks were given different command lines: rank 0 says so in one line (the
// CLI's InputError), the others exit 2 without a word.
void check_same_command_line(const Communicator& communicator) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ROSETTA_CHECK(!line.empty(), "cannot read /proc/self/cmdline to compare the ranks' command lines");
  const int differs = first_disagreeing_rank(gathered(communicator, fnv1a(line.data(), line.size())));
  if (differs == 0) return;
  if (communicator.rank() != 0) std::freopen("/dev/null", "w", stderr);
  throw AgreedInputError("the ranks were started with different arguments (rank " + std::to_string(differs) +
                         "'s differ from rank 0's): every rank must run the same command");
}

}  // namespace

void run_as_job(const std::string& comm_flag, const std::string& device_flag,
                const std::function<void(const Communicator&, Device)>& body) {
  comm::CommChoice choice{};
  ROSETTA_CHECK_ARG(comm::comm_choice_from_name(comm_flag, &choice), "--comm " << comm_flag << ": expected auto or nccl");
  comm::Job job;
  if (job.size() == 1) {  // the single process: errors reach the CLI as they always do
    const Device device = resolve_device(device_flag);
    body(job.connect(choice, device), device);
    return;
  }
  if (job.rank() != 0) std::freopen("/dev/null", "w", stdout);
  try {
    const Device device = resolve_device(device_flag);
    const Communicator& communicator = job.connect(choice, device);
    check_same_command_line(communicator);
    body(communicator, device);
  } catch (const AgreedInputError&) {
    throw;  // every rank refused alike: each exits 2, rank 0 with the line
  } catch (const InputError& e) {
    job.fail(e.what(), 2);
  } catch (const std::exception& e) {
    job.fail(e.what(), 1);
  }
}

BatchShard batch_shard(const Communicator& communicator, std::int64_t global_batch) {
  ROSETTA_CHECK_ARG(global_batch % communicator.size() == 0,
                    "--batch " << global_batch << " (the global batch) does not split into " << communicator.size()
                               << " equal shares, one per rank");
  return BatchShard{communicator.rank(), communicator.size()};
}

BatchRange batch_range(const Communicator& communicator, std::int64_t batches) {
  const std::int64_t ranks = communicator.size(), r = communicator.rank();
  const std::int64_t base = batches / ranks, extra = batches % ranks;
  return BatchRange{r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

bool any_rank(const Communicator& communicator, bool mine) {
  if (communicator.size() == 1) return mine;
  const unsigned char flag = mine ? 1 : 0;
  std::vector<unsigned char> flags(static_cast<std::size_t>(communicator.size()));  // (ranks)
  communicator.all_gather(&flag, 1, flags.data());
  for (unsigned char f : flags)
    if (f) return true;
  return false;
}

double max_over_ranks(const Communicator& communicator, double value) {
  std::vector<double> all(static_cast<std::size_t>(communicator.size()));  // (ranks,)
  communicator.all_gather(&value, sizeof value, all.data());
  return *std::max_element(all.begin(), all.end());
}

void check_replicas_agree(const Communicator& communicator, const ParameterSet& parameters) {
  if (communicator.size() == 1) return;
  const Tensor values = parameters.values().to(Device::cpu);  // (arena_elements,)
  const int differs = first_disagreeing_rank(gathered(communicator, fnv1a(values.raw(), values.nbytes())));
  ROSETTA_CHECK(differs == 0, "the parameters of rank " << differs << " differ from rank 0's after training: the "
                                                                      "replicas diverged");
}

std::string job_description(const Communicator& communicator, std::int64_t rows_per_rank) {
  if (&communicator == &Communicator::single_process()) return "";
  return std::to_string(communicator.size()) + (communicator.size() == 1 ? " rank (" : " ranks (") +
         communicator.engine() + "), " + std::to_string(rows_per_rank) + " rows each";
}

}  // namespace rosetta::cli
