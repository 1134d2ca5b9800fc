// InputDoubleBuffer: two device slots for a forward-only loop over host batches, so that the host-to-device copy
// of batch b + 1 (on the context's copy stream) overlaps the forward of batch b (on its main stream). The event
// protocol is datasets/batcher.h's, without its host gather: the batches are already in pinned memory.
//
// Protocol, for b = 0, 1, 2, ... in order: `const Tensor& x = load(ctx, host_batch, b);` enqueue the work that
// reads x on ctx.stream(); `release(ctx, b);`. Slot b % 2 holds batch b. load(b) makes the copy stream wait for
// release(b - 2) (the last work that read the slot), copies, and makes the main stream wait for the copy; nothing
// blocks the host. The host batch must be pinned and unchanged until the copy has run (ctx.synchronize()).
// On the CPU, load copies synchronously and release does nothing.
// Invariants: both slots and every event are made by the constructor; load and release allocate nothing and may
// not run under stream capture (they record and wait on events). A graph captured on slot(s) reads that slot.
#pragma once
#include <cstdint>

#include "runtime/context.h"
#include "runtime/stream_event.h"
#include "runtime/tensor.h"

namespace rosetta::cli {

class InputDoubleBuffer {
 public:
  InputDoubleBuffer(const Context& ctx, const Shape& batch_shape);  // slots of batch_shape, f32, on ctx's device
  InputDoubleBuffer(const InputDoubleBuffer&) = delete;
  InputDoubleBuffer& operator=(const InputDoubleBuffer&) = delete;

  const Tensor& slot(int s) const { return slots_[s]; }
  const Tensor& load(const Context& ctx, const Tensor& host_batch, std::int64_t b);
  void release(const Context& ctx, std::int64_t b);

 private:
  Tensor slots_[2];          // (batch_shape) each, on the context's device
  StreamEvent copied_[2];    // copy stream: slot s holds its batch
  StreamEvent released_[2];  // main stream: the work reading slot s is done
};

}  // namespace rosetta::cli
