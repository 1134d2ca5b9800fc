#include "runtime/timer.h"

#include "runtime/context.h"
#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta {

#if ROSETTA_WITH_CUDA
CudaEventTimer::CudaEventTimer() {
  ROSETTA_CUDA_CHECK(cudaEventCreate(&start_));
  ROSETTA_CUDA_CHECK(cudaEventCreate(&stop_));
}
CudaEventTimer::~CudaEventTimer() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}
void CudaEventTimer::start(CUstream_st* stream) { ROSETTA_CUDA_CHECK(cudaEventRecord(start_, stream)); }
void CudaEventTimer::stop(CUstream_st* stream) { ROSETTA_CUDA_CHECK(cudaEventRecord(stop_, stream)); }
float CudaEventTimer::elapsed_ms() const {
  ROSETTA_CUDA_CHECK(cudaEventSynchronize(stop_));
  float ms = 0;
  ROSETTA_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return ms;
}
#else
CudaEventTimer::CudaEventTimer() { ROSETTA_FAIL("CUDA event timers need a CUDA build"); }
CudaEventTimer::~CudaEventTimer() = default;
void CudaEventTimer::start(CUstream_st*) {}
void CudaEventTimer::stop(CUstream_st*) {}
float CudaEventTimer::elapsed_ms() const { return 0; }
#endif

Timeline::Timeline(const Context& ctx, int capacity) : ctx_(ctx) {
  ROSETTA_CHECK(capacity >= 0, "Timeline capacity " << capacity);
  if (ctx.device() == Device::cpu) {
    times_.resize(static_cast<std::size_t>(capacity));
    return;
  }
#if ROSETTA_WITH_CUDA
  events_.assign(static_cast<std::size_t>(capacity), nullptr);
  for (CUevent_st*& e : events_) ROSETTA_CUDA_CHECK(cudaEventCreate(&e));
#else
  ROSETTA_FAIL("a CUDA timeline needs a CUDA build");
#endif
}

Timeline::~Timeline() {
#if ROSETTA_WITH_CUDA
  for (CUevent_st* e : events_) cudaEventDestroy(e);
#endif
}

void Timeline::mark() {
  const std::size_t capacity = ctx_.device() == Device::cpu ? times_.size() : events_.size();
  ROSETTA_CHECK(static_cast<std::size_t>(count_) < capacity, "Timeline: mark " << count_ + 1 << " past its capacity of " << capacity);
  if (ctx_.device() == Device::cpu) {
    times_[count_++] = std::chrono::steady_clock::now();
    return;
  }
#if ROSETTA_WITH_CUDA
  ROSETTA_CUDA_CHECK(cudaEventRecord(events_[count_++], ctx_.stream()));
#endif
}

std::vector<double> Timeline::intervals_s() const {
  std::vector<double> seconds;
  if (count_ < 2) return seconds;
  if (ctx_.device() == Device::cpu) {
    for (int i = 1; i < count_; ++i) seconds.push_back(std::chrono::duration<double>(times_[i] - times_[i - 1]).count());
    return seconds;
  }
#if ROSETTA_WITH_CUDA
  ROSETTA_CUDA_CHECK(cudaEventSynchronize(events_[count_ - 1]));
  for (int i = 1; i < count_; ++i) {
    float ms = 0;
    ROSETTA_CUDA_CHECK(cudaEventElapsedTime(&ms, events_[i - 1], events_[i]));
    seconds.push_back(ms / 1e3);
  }
#endif
  return seconds;
}

}  // namespace rosetta
