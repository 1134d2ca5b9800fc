// Communicator: the ranks of one data-parallel job and the collectives that its training step and its start-up use.
// The header names no MPI or NCCL type, so layers and models call it in every build; the engines live in runtime/comm
// (rosetta_comm), which only bench/ links.
//
// Invariants:
// - Every rank calls the same collectives in the same order with the same sizes (a data-parallel step does: one
//   model, one batch shape on every rank).
// - all_reduce_sum on a CUDA context only enqueues work on the context's main stream (one NCCL group): no host wait,
//   no allocation, no handle or descriptor creation, so a step that calls it can be captured in a CUDA graph and
//   replayed. On the CPU it blocks until the sums are in place (MPI_Allreduce).
// - Every rank ends with the same bits: NCCL's ring and MPI's reduction hand every rank one result (checked at the
//   end of training by a hash of the parameters across ranks, bench/cli/distributed.h).
// - The host collectives (all_gather, gather_to_first) are for start-up, results and decisions taken between steps
// (whether any rank was interrupted), never inside a step.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <string>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // What sums the tensors, with its version: "none (one process)", "MPI (Open MPI v4.1.4)", "NCCL 2.28.9".
  virtual std::string engine() const = 0;

  // Sums each tensor (f32 or i32, contiguous, on ctx's device) element by element across the ranks, in place.
  virtual void all_reduce_sum(const Context& ctx, std::initializer_list<Tensor> tensors) const = 0;
  // Host memory, blocking: every rank's `bytes` bytes, in rank order, into `all` (size() * bytes).
  virtual void all_gather(const void* mine, std::size_t bytes, void* all) const = 0;
  // Host memory, blocking: rank 0 receives every rank's bytes (their counts may differ) concatenated in rank order
  // into `all`, which holds `all_bytes` (their sum: checked); the other ranks pass nullptr and 0.
  virtual void gather_to_first(const void* mine, std::size_t bytes, void* all, std::size_t all_bytes) const = 0;
  // Host memory, blocking: rank 0's `bytes` bytes of `data` into every rank's `data`.
  virtual void broadcast_from_first(void* data, std::size_t bytes) const = 0;

  // The communicator of a process that is the whole job: rank 0 of 1, every collective a copy or nothing.
  static const Communicator& single_process();
};

}  // namespace rosetta
