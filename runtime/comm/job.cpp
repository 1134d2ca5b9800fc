// The Job of job.h: which engines a build has decides here (ROSETTA_WITH_MPI, ROSETTA_WITH_NCCL) and nowhere else.
#include "runtime/comm/job.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <utility>
#include <vector>

#include "runtime/context.h"
#include "runtime/error.h"
#if ROSETTA_WITH_MPI
#include "runtime/comm/mpi_world.h"
#endif
#if ROSETTA_WITH_NCCL
#include "runtime/comm/nccl_engine.h"
#endif

namespace rosetta::comm {
namespace {

// The rank count the launcher announces, 0 when none does (read before MPI_Init, so a build without MPI can refuse).
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return std::getenv("PMIX_RANK") != nullptr ? -1 : 0;  // PMIx names no size: "some"
}

// Narrows CUDA_VISIBLE_DEVICES to the `local_rank`-th visible device ("0,1,2,3" or unset -> one entry).
void select_local_device(int local_rank) {
  std::vector<std::string> visible;
  if (const char* list = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::istringstream in(list);
    for (std::string entry; std::getline(in, entry, ',');) visible.push_back(entry);
  }
  const std::string device = visible.empty() ? std::to_string(local_rank)
                             : local_rank < static_cast<int>(visible.size()) ? visible[local_rank]
                                                                              : std::string();
  if (device.empty())
    ROSETTA_INPUT_ERROR("local rank " << local_rank << " has no GPU of its own: CUDA_VISIBLE_DEVICES lists "
                                      << visible.size());
  ROSETTA_CHECK(setenv("CUDA_VISIBLE_DEVICES", device.c_str(), 1) == 0, "setenv CUDA_VISIBLE_DEVICES");
}

}  // namespace

bool comm_choice_from_name(const std::string& name, CommChoice* choice) {
  if (name == "auto") return *choice = CommChoice::automatic, true;
  if (name == "nccl") return *choice = CommChoice::nccl, true;
  return false;
}

CommEngines comm_engines() {
  // A built engine whose library does not answer says so instead of throwing.
  [[maybe_unused]] const auto version = [](std::string (*query)()) {
    try {
      return query();
    } catch (const Error& e) {
      return std::string("built, unavailable: ") + e.what();
    }
  };
  CommEngines engines;
#if ROSETTA_WITH_MPI
  engines.mpi = version(mpi_library_version);
#else
  engines.mpi = "not built (no MPI found at configure time)";
#endif
#if ROSETTA_WITH_NCCL
  engines.nccl = version(nccl_library_version);
#else
  engines.nccl = "not built (no NCCL, or no CUDA, at configure time)";
#endif
  return engines;
}

Job::Job() {
  const int announced = launcher_world_size();
  if (announced == 0) return;
#if ROSETTA_WITH_MPI
  mpi_init();
  mpi_ = true;
  mpi_world_ = make_mpi_communicator();
  rank_ = mpi_world_->rank(), size_ = mpi_world_->size();
  const std::pair<int, int> local = mpi_local_rank();
  if (local.second > 1) select_local_device(local.first);
#else
  if (announced != 1)
    ROSETTA_INPUT_ERROR("started by an MPI launcher, but this build of rosetta has no MPI: run one process, or "
                        "build with MPI (docs/distributed.md)");
#endif
}

Job::~Job() {
  nccl_.reset();
  mpi_world_.reset();
#if ROSETTA_WITH_MPI
  // A destructor must not throw; a finalize that fails at exit has nothing left to report.
  if (mpi_) {
    try {
      mpi_finalize();
    } catch (const Error&) {
    }
  }
#endif
}

const Communicator& Job::connect(CommChoice choice, Device device) {
  ROSETTA_CHECK(communicator_ == nullptr, "Job::connect called twice");
  const Communicator& host = mpi_world_ ? *mpi_world_ : Communicator::single_process();
  const bool nccl = device == Device::cuda && (choice == CommChoice::nccl || size_ > 1 || mpi_);
  if (choice == CommChoice::nccl && device != Device::cuda)
    ROSETTA_INPUT_ERROR("--comm nccl needs --device cuda (the CPU reduces over MPI)");
  if (!nccl) return *(communicator_ = &host);
#if ROSETTA_WITH_NCCL
  nccl_ = make_nccl_communicator(Context::cuda(), host, [this](const std::string& message) { fail(message, 1); });
  return *(communicator_ = nccl_.get());
#else
  ROSETTA_INPUT_ERROR("a CUDA run " << (mpi_ ? "under mpirun" : "with --comm nccl")
                                    << " needs NCCL, and this build has none (docs/distributed.md)");
#endif
}

const Communicator& Job::communicator() const {
  ROSETTA_CHECK(communicator_ != nullptr, "Job::communicator before connect");
  return *communicator_;
}

void Job::fail(const std::string& message, int code) const {
  std::fprintf(stderr, "rosetta: rank %d of %d: error: %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
#if ROSETTA_WITH_NCCL
  if (nccl_) static_cast<const NcclCommunicator&>(*nccl_).abort();
#endif
#if ROSETTA_WITH_MPI
  if (mpi_) mpi_abort(code);
#endif
  std::_Exit(code);
}

}  // namespace rosetta::comm
