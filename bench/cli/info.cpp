#include "bench/cli/info.h"

#include <cstdio>

#include "runtime/comm/job.h"
#include "runtime/device.h"

namespace rosetta::cli {

void print_info() {
  const LibraryVersions v = library_versions();
  std::printf("rosetta %s (%s build)\n", ROSETTA_VERSION, ROSETTA_BUILD_TYPE);
  std::printf("  CUDA paths:    %s\n", built_with_cuda() ? "built" : "not built (ROSETTA_CUDA=OFF)");
  if (built_with_cuda()) std::printf("  architectures: %s\n", ROSETTA_CUDA_ARCHITECTURES);
  std::printf("  CUDA runtime:  %s\n  CUDA driver:   %s\n  cuDNN:         %s\n  cuBLAS:        %s\n",
              v.cuda_runtime.c_str(), v.cuda_driver.c_str(), v.cudnn.c_str(), v.cublas.c_str());
  // The data-parallel engines (docs/distributed.md): MPI launches and sums host memory, NCCL sums device memory.
  const comm::CommEngines engines = comm::comm_engines();
  std::printf("  MPI:           %s\n  NCCL:          %s\n", engines.mpi.c_str(), engines.nccl.c_str());
  const CudaProbe& probe = probe_cuda();
  if (probe.device_count == 0) {
    std::printf("  devices:       %s\n", probe.reason.c_str());
    return;
  }
  const std::vector<CudaDeviceInfo> devices = cuda_devices();
  for (std::size_t d = 0; d < devices.size(); ++d)
    std::printf("  device %zu:      %s, sm_%d%d, %d SMs, %.1f GiB\n", d, devices[d].name.c_str(), devices[d].major,
                devices[d].minor, devices[d].multiprocessors, devices[d].memory_bytes / 1073741824.0);
}

}  // namespace rosetta::cli
