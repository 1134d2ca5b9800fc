// Job: this process's part of a data-parallel job for the length of one command. It joins the job (MPI_Init when an
// MPI launcher started the process), picks the process's GPU by its rank on the node, makes the communicator that
// the model's step reduces with (NCCL for CUDA tensors, MPI for CPU tensors, or the single process), and is the one
// place that ends every rank when one fails.
//
// Invariants:
// - Without a launcher (and without --comm nccl) nothing of MPI or NCCL runs: the process is the single process.
// - Under a launcher, construction precedes every CUDA call of the process, so narrowing CUDA_VISIBLE_DEVICES to the
//   local rank's GPU takes effect: device 0 of the process (the only one Context uses) is that GPU.
// - fail() prints exactly one line, "rosetta: rank R of N: error: ...", then ends every rank: NCCL's collectives
//   aborted (ncclCommAbort), then MPI_Abort, which makes mpirun end the other ranks. It is the only code in rosetta
//   that ends the process, and it runs only with several ranks (one process throws, and the CLI reports it).
#pragma once
#include <memory>
#include <string>

#include "runtime/communicator.h"
#include "runtime/device.h"

namespace rosetta::comm {

// "auto": under a launcher, MPI's world (NCCL for a CUDA run, MPI for a CPU run); without one, the single process.
// "nccl": NCCL even without a launcher: one rank with a locally made unique id (a GPU host without MPI tests the
// NCCL path this way).
enum class CommChoice { automatic, nccl };
bool comm_choice_from_name(const std::string& name, CommChoice* choice);

// The engines this build has, with their versions, or why not ("not built: ..."): for `rosetta info`. Never throws.
struct CommEngines {
  std::string mpi, nccl;
};
CommEngines comm_engines();

class Job {
 public:
  // Joins: under a launcher (Open MPI's OMPI_COMM_WORLD_SIZE, Hydra's PMI_SIZE or PMIx's PMIX_RANK in the environment)
  // MPI_Init; otherwise the single process.
  Job();
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Makes the job's communicator for `device` (InputError when this build or this device cannot: a CUDA run of
  // several ranks without NCCL, --comm nccl on the CPU). Call once, after the device is known.
  const Communicator& connect(CommChoice choice, Device device);
  const Communicator& communicator() const;

  // Prints "rosetta: rank R of N: error: <message>" and ends every rank with `code`. Several ranks only.
  [[noreturn]] void fail(const std::string& message, int code) const;

 private:
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<Communicator> mpi_world_;  // MPI_COMM_WORLD's communicator, under a launcher
  std::unique_ptr<Communicator> nccl_;       // a CUDA run's device communicator (a comm::NcclCommunicator)
  const Communicator* communicator_ = nullptr;
};

}  // namespace rosetta::comm
