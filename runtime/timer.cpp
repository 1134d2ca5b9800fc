#include "runtime/timer.h"

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

}  // namespace rosetta
