#include "runtime/allocator.h"

#include <atomic>
#include <cstdlib>

#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta {
namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::size_t> g_device_bytes{0};
std::atomic<std::size_t> g_peak_device_bytes{0};

#if ROSETTA_WITH_CUDA
void count_device_allocation(std::size_t bytes) {
  const std::size_t now = g_device_bytes.fetch_add(bytes) + bytes;
  std::size_t peak = g_peak_device_bytes.load();
  while (now > peak && !g_peak_device_bytes.compare_exchange_weak(peak, now)) {
  }
}
#endif

// A zero-sized tensor still owns a valid pointer: it allocates one byte.
std::size_t request_of(std::size_t bytes) { return bytes == 0 ? 1 : bytes; }

const char* memory_name(Memory memory) {
  switch (memory) {
    case Memory::host: return "host";
    case Memory::pinned: return "pinned host";
    case Memory::device: return "device";
  }
  return "?";
}
}  // namespace

std::uint64_t allocation_count() { return g_allocations.load(); }
std::size_t device_bytes_in_use() { return g_device_bytes.load(); }
std::size_t peak_device_bytes() { return g_peak_device_bytes.load(); }

Storage::Storage(Memory memory, std::size_t bytes) : memory_(memory), bytes_(bytes) {
  ++g_allocations;
  const std::size_t request = request_of(bytes);
  switch (memory) {
    case Memory::host: {
      const std::size_t rounded = (request + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
      data_ = std::aligned_alloc(kHostAlignment, rounded);
      break;
    }
#if ROSETTA_WITH_CUDA
    case Memory::pinned: ROSETTA_CUDA_CHECK(cudaMallocHost(&data_, request)); break;
    case Memory::device:
      ROSETTA_CUDA_CHECK(cudaMalloc(&data_, request));
      count_device_allocation(request);
      break;
#else
    case Memory::pinned:
    case Memory::device: ROSETTA_FAIL(memory_name(memory) << " memory needs a CUDA build");
#endif
  }
  ROSETTA_CHECK(data_ != nullptr, "out of " << memory_name(memory) << " memory allocating " << bytes << " bytes");
}

Storage::~Storage() {
  switch (memory_) {
    case Memory::host: std::free(data_); break;
#if ROSETTA_WITH_CUDA
    // Destructors must not throw; a failed free at teardown has nothing useful left to report.
    case Memory::pinned: cudaFreeHost(data_); break;
    case Memory::device:
      cudaFree(data_);
      g_device_bytes -= request_of(bytes_);
      break;
#else
    case Memory::pinned:
    case Memory::device: break;
#endif
  }
}

}  // namespace rosetta
