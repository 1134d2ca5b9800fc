// Devices and the cheap CUDA probe. probe_cuda() never throws: on a machine without a GPU or driver it reports
// zero devices and the reason, which is what GPU tests print when they skip.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace rosetta {

enum class Device { cpu, cuda };

const char* device_name(Device device);

struct CudaProbe {
  int device_count = 0;
  std::string reason;  // why there is no usable device; empty when device_count > 0
};

// Cached after the first call.
const CudaProbe& probe_cuda();
inline bool cuda_available() { return probe_cuda().device_count > 0; }

// True when this build compiled the CUDA paths (ROSETTA_WITH_CUDA).
bool built_with_cuda();

// The loaded libraries' versions as "13.0" / "9.19.0" strings: "not built" in a build without CUDA, "unavailable"
// (or "no driver") when a query fails. Never throws.
struct LibraryVersions {
  std::string cuda_runtime, cuda_driver, cudnn, cublas;
};
LibraryVersions library_versions();

// What `rosetta info` and the result records say of each CUDA device; empty without one. Never throws.
struct CudaDeviceInfo {
  std::string name;  // cudaDeviceProp::name, e.g. "NVIDIA H200"
  int major = 0, minor = 0, multiprocessors = 0;
  std::size_t memory_bytes = 0;
};
std::vector<CudaDeviceInfo> cuda_devices();

}  // namespace rosetta
