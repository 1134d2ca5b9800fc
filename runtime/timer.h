// Timers. SteadyTimer reads the host's monotonic clock. CudaEventTimer records events on a stream, so device
// work is timed without stalling the host until elapsed_ms() is asked for.
#pragma once
#include <chrono>

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

}  // namespace rosetta
