#include "runtime/device.h"

#if ROSETTA_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
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

LibraryVersions library_versions() {
  LibraryVersions v{"not built", "not built", "not built", "not built"};
#if ROSETTA_WITH_CUDA
  const auto dotted = [](int major, int minor) { return std::to_string(major) + "." + std::to_string(minor); };
  int runtime = 0, driver = 0;
  v.cuda_runtime = cudaRuntimeGetVersion(&runtime) == cudaSuccess ? dotted(runtime / 1000, runtime % 1000 / 10)
                                                                   : "unavailable";
  v.cuda_driver = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0 ? dotted(driver / 1000, driver % 1000 / 10)
                                                                            : "no driver";
  const std::size_t cudnn = cudnnGetVersion();  // 9.19.0 -> 91900
  v.cudnn = std::to_string(cudnn / 10000) + "." + std::to_string(cudnn % 10000 / 100) + "." + std::to_string(cudnn % 100);
  int major = 0, minor = 0, patch = 0;
  const bool blas_ok = cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
                       cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
                       cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS;
  v.cublas = blas_ok ? dotted(major, minor) + "." + std::to_string(patch) : "unavailable";
#endif
  return v;
}

std::vector<CudaDeviceInfo> cuda_devices() {
  std::vector<CudaDeviceInfo> devices;
#if ROSETTA_WITH_CUDA
  for (int d = 0; d < probe_cuda().device_count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    devices.push_back({prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.totalGlobalMem});
  }
#endif
  return devices;
}

}  // namespace rosetta
