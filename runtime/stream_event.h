// StreamEvent: a CUDA event that orders work between the context's two streams (the copy stream feeding the main
// stream) without blocking the host, and without timing. On the CPU it orders nothing: CPU work runs in program
// order, so record, wait and synchronize do nothing there. The event is created with the object (setup time) and
// destroyed with it; record and wait allocate nothing.
//
//   copied.record(ctx.copy_stream());   // after enqueuing the copy
//   copied.wait(ctx.stream());          // the main stream's later work sees the copied data
#pragma once
#include "runtime/device.h"

struct CUstream_st;  // cudaStream_t
struct CUevent_st;   // cudaEvent_t

namespace rosetta {

class StreamEvent {
 public:
  explicit StreamEvent(Device device);
  ~StreamEvent();
  StreamEvent(const StreamEvent&) = delete;
  StreamEvent& operator=(const StreamEvent&) = delete;

  // Marks the work enqueued on `stream` so far.
  void record(CUstream_st* stream);
  // Makes `stream` wait, on the device, for the work the last record marked (none before the first record).
  void wait(CUstream_st* stream) const;
  // Blocks the host until that work is done.
  void synchronize() const;

 private:
  CUevent_st* event_ = nullptr;  // null on the CPU
};

}  // namespace rosetta
