// ROSETTA_KERNEL(device, op): the CPU reference or the CUDA twin of `op`, chosen by the device of the data.
// Both twins are declared from one .inc file, so they have one signature by construction. In a CPU-only build
// asking for the CUDA twin throws.
#pragma once
#include "runtime/device.h"
#include "runtime/error.h"

namespace rosetta::kernels {
inline void require_cuda_build(Device device) {
  ROSETTA_CHECK(device == Device::cpu || ROSETTA_WITH_CUDA, "CUDA data in a build without CUDA");
}
}  // namespace rosetta::kernels

#if ROSETTA_WITH_CUDA
#define ROSETTA_KERNEL(device, op) \
  ((device) == ::rosetta::Device::cuda ? &::rosetta::kernels::cuda::op : &::rosetta::kernels::cpu::op)
#else
#define ROSETTA_KERNEL(device, op) (::rosetta::kernels::require_cuda_build(device), &::rosetta::kernels::cpu::op)
#endif
