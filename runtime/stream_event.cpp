#include "runtime/stream_event.h"

#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta {

StreamEvent::StreamEvent(Device device) {
  if (device != Device::cuda) return;
#if ROSETTA_WITH_CUDA
  ROSETTA_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
#else
  ROSETTA_FAIL("a CUDA stream event needs a CUDA build");
#endif
}

StreamEvent::~StreamEvent() {
#if ROSETTA_WITH_CUDA
  if (event_ != nullptr) cudaEventDestroy(event_);  // destructors must not throw; nothing is left to report
#endif
}

void StreamEvent::record(CUstream_st* stream) {
#if ROSETTA_WITH_CUDA
  if (event_ != nullptr) ROSETTA_CUDA_CHECK(cudaEventRecord(event_, stream));
#else
  (void)stream;
#endif
}

void StreamEvent::wait(CUstream_st* stream) const {
#if ROSETTA_WITH_CUDA
  if (event_ != nullptr) ROSETTA_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0));
#else
  (void)stream;
#endif
}

void StreamEvent::synchronize() const {
#if ROSETTA_WITH_CUDA
  if (event_ != nullptr) ROSETTA_CUDA_CHECK(cudaEventSynchronize(event_));
#endif
}

}  // namespace rosetta
