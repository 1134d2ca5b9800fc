// runtime/allocator.h's device byte tally: device Storage raises the bytes in use and the peak, freeing lowers the
// bytes in use but never the peak, and host memory counts in neither.
#include <gtest/gtest.h>

#include "runtime/allocator.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

TEST(PeakDeviceBytes, HostMemoryIsNotCounted) {
  const std::size_t in_use = device_bytes_in_use(), peak = peak_device_bytes();
  { Storage host(Memory::host, 1 << 20); }
  EXPECT_EQ(device_bytes_in_use(), in_use);
  EXPECT_EQ(peak_device_bytes(), peak);
}

TEST(PeakDeviceBytes, DeviceStorageRaisesThePeakAndFreeingKeepsIt) {
  ROSETTA_REQUIRE_CUDA();
  const std::size_t in_use = device_bytes_in_use();
  constexpr std::size_t kBytes = std::size_t(64) << 20;
  {
    Storage a(Memory::device, kBytes);
    EXPECT_EQ(device_bytes_in_use(), in_use + kBytes);
    EXPECT_GE(peak_device_bytes(), in_use + kBytes);
    Storage b(Memory::device, 0);  // a zero-sized tensor holds one byte
    EXPECT_EQ(device_bytes_in_use(), in_use + kBytes + 1);
  }
  EXPECT_EQ(device_bytes_in_use(), in_use);
  EXPECT_GE(peak_device_bytes(), in_use + kBytes + 1);
}

}  // namespace
}  // namespace rosetta
