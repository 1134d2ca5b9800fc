#include "bench/cli/info.h"

#include <cstdio>

#include "runtime/device.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta::cli {
#if ROSETTA_WITH_CUDA
namespace {
std::string dotted(int major, int minor) { return std::to_string(major) + "." + std::to_string(minor); }
}  // namespace
#endif

VersionInfo collect_versions() {
  VersionInfo v{ROSETTA_VERSION, "not built", "not built", "not built", "not built"};
#if ROSETTA_WITH_CUDA
  int runtime = 0, driver = 0;
  v.cuda_runtime = cudaRuntimeGetVersion(&runtime) == cudaSuccess ? dotted(runtime / 1000, runtime % 1000 / 10) : "unavailable";
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

void print_info() {
  const VersionInfo v = collect_versions();
  std::printf("rosetta %s (%s build)\n", v.rosetta.c_str(), ROSETTA_BUILD_TYPE);
  std::printf("  CUDA paths:    %s\n", built_with_cuda() ? "built" : "not built (ROSETTA_CUDA=OFF)");
  if (built_with_cuda()) std::printf("  architectures: %s\n", ROSETTA_CUDA_ARCHITECTURES);
  std::printf("  CUDA runtime:  %s\n  CUDA driver:   %s\n  cuDNN:         %s\n  cuBLAS:        %s\n",
              v.cuda_runtime.c_str(), v.cuda_driver.c_str(), v.cudnn.c_str(), v.cublas.c_str());
  const CudaProbe& probe = probe_cuda();
  if (probe.device_count == 0) {
    std::printf("  devices:       %s\n", probe.reason.c_str());
    return;
  }
#if ROSETTA_WITH_CUDA
  for (int d = 0; d < probe.device_count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    std::printf("  device %d:      %s, sm_%d%d, %d SMs, %.1f GiB\n", d, prop.name, prop.major, prop.minor,
                prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);
  }
#endif
}

}  // namespace rosetta::cli
