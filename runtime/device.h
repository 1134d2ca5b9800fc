// Devices and the cheap CUDA probe. probe_cuda() never throws: on a machine without a GPU or driver it reports
// zero devices and the reason, which is what GPU tests print when they skip.
#pragma once
#include <string>

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

}  // namespace rosetta
