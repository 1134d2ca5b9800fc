#include "runtime/device.h"

#if ROSETTA_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace rosetta {

const char* device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

bool built_with_cuda() { return ROSETTA_WITH_CUDA != 0; }

const CudaProbe& probe_cuda() {
  static const CudaProbe probe = [] {
    CudaProbe p;
#if ROSETTA_WITH_CUDA
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error so later calls are not poisoned
      p.reason = std::string("no CUDA device: ") + cudaGetErrorString(status);
    } else if (count == 0) {
      p.reason = "no CUDA device: the driver reports zero devices";
    } else {
      p.device_count = count;
    }
#else
    p.reason = "no CUDA device: rosetta was built without CUDA (ROSETTA_CUDA=OFF)";
#endif
    return p;
  }();
  return probe;
}

}  // namespace rosetta
