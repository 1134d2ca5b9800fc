// Timers. SteadyTimer reads the host's monotonic clock. CudaEventTimer records events on a stream, so device
// work is timed without stalling the host until elapsed_ms() is asked for. Timeline marks points in a context's
// work: on a GPU a timing event recorded on the main stream (the time the device reaches that point, idle time
// included), on the CPU the host clock; its events are created with it, so marking in a training loop creates and
// allocates nothing and never waits.
#pragma once
#include <chrono>
#include <vector>

#include "runtime/device.h"

struct CUstream_st;
struct CUevent_st;

namespace rosetta {

class SteadyTimer {
 public:
  SteadyTimer() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

class CudaEventTimer {
 public:
  CudaEventTimer();
  ~CudaEventTimer();
  CudaEventTimer(const CudaEventTimer&) = delete;
  CudaEventTimer& operator=(const CudaEventTimer&) = delete;

  void start(CUstream_st* stream);
  void stop(CUstream_st* stream);
  // Waits for the stop event, then returns milliseconds between the two events.
  float elapsed_ms() const;

 private:
  CUevent_st* start_ = nullptr;
  CUevent_st* stop_ = nullptr;
};

class Context;

class Timeline {
 public:
  // Room for `capacity` marks on ctx's device.
  Timeline(const Context& ctx, int capacity);
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // Marks the work enqueued on ctx's main stream so far (an Error past the capacity).
  void mark();
  int marks() const { return count_; }
  // Seconds from each mark to the next (marks() - 1 values); waits for the last mark's work first.
  std::vector<double> intervals_s() const;

 private:
  const Context& ctx_;
  std::vector<CUevent_st*> events_;                           // (capacity) on a GPU
  std::vector<std::chrono::steady_clock::time_point> times_;  // (capacity) on the CPU
  int count_ = 0;
};

}  // namespace rosetta
