// The MPI engine (built only with MPI, ROSETTA_WITH_MPI): joining and leaving the job that mpirun launched, and the
// Communicator whose collectives are MPI's. The header names no MPI type; job.cpp is its one user.
// Invariants: MPI's errors on MPI_COMM_WORLD return codes (MPI_ERRORS_RETURN), and every call's code is checked, so
// a failure is an exception naming the call and MPI's error string; MPI is initialised at most once per process.
#pragma once
#include <memory>
#include <string>

#include "runtime/communicator.h"

namespace rosetta::comm {

// MPI_Init (serialised threads: only the main thread calls MPI) and MPI_ERRORS_RETURN on MPI_COMM_WORLD.
void mpi_init();
void mpi_finalize();
// This rank's place among the ranks on its node (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED): (rank, count).
std::pair<int, int> mpi_local_rank();
// Ends every rank of the job with `code` (MPI_Abort on MPI_COMM_WORLD). Returns only if MPI_Abort does.
void mpi_abort(int code);
// "Open MPI v4.1.4" (MPI_Get_library_version's first line).
std::string mpi_library_version();

// The communicator of MPI_COMM_WORLD: all_reduce_sum on the CPU (MPI_Allreduce in place), host collectives by
// MPI_Allgather and MPI_Gatherv. A CUDA context is refused: device memory is reduced by NCCL.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace rosetta::comm
