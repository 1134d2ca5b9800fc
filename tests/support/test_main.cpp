// GoogleTest main for every rosetta test binary: says once whether CUDA cases will run or skip, and why.
#include <gtest/gtest.h>

#include <cstdio>

#include "runtime/device.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const rosetta::CudaProbe& probe = rosetta::probe_cuda();
  if (probe.device_count == 0) std::fprintf(stderr, "[rosetta] CUDA tests will skip: %s\n", probe.reason.c_str());
  return RUN_ALL_TESTS();
}
