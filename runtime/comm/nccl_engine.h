// The NCCL engine (built only with NCCL and CUDA, ROSETTA_WITH_NCCL): the Communicator whose all_reduce_sum sums CUDA
// tensors with NCCL on the context's main stream. The header names no NCCL type; job.cpp is its one user.
// Invariants: the NCCL communicator is made once, at start-up, from a unique id that rank 0 creates and `host`
// broadcasts (over MPI; with one rank and no launcher, `host` is the single process and the id never leaves it);
// a step enqueues one ncclGroupStart/ncclAllReduce.../ncclGroupEnd on ctx.stream() and nothing else (capturable in a
// CUDA graph). Every NCCL status is checked: a failure is an exception naming the call, NCCL's error string and its
// last error message. With several ranks a watchdog thread polls ncclCommGetAsyncError every 100 ms, so that a peer's
// failure that NCCL sees (a broken connection, a remote error) is reported instead of hanging in a kernel.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "runtime/communicator.h"

namespace rosetta::comm {

class NcclCommunicator : public Communicator {
 public:
  // Stops the collectives now (ncclCommAbort): kernels waiting for a peer return. Thread-safe against the watchdog.
  virtual void abort() const = 0;
};

// The NCCL communicator of `host`'s ranks on ctx's device (CUDA). `on_async_error(message)` runs on the watchdog
// thread when NCCL reports an asynchronous error; it must end the job (it never returns to the watchdog's loop).
std::unique_ptr<NcclCommunicator> make_nccl_communicator(const Context& ctx, const Communicator& host,
                                                         std::function<void(const std::string&)> on_async_error);
// "NCCL 2.28.9": the loaded library's ncclGetVersion.
std::string nccl_library_version();

}  // namespace rosetta::comm
