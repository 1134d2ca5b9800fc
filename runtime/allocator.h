// The three allocators: aligned host memory, pinned (page-locked) host memory for copy staging, and device
// memory. Every allocation is counted, so a test can prove that a training step allocates nothing, and device bytes
// are tallied (held now, and the most ever held at once) for the records' peak device memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace rosetta {

enum class Memory { host, pinned, device };

// One allocation. Freed by its destructor through the allocator that made it.
class Storage {
 public:
  Storage(Memory memory, std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Memory memory() const { return memory_; }

 private:
  Memory memory_;
  std::size_t bytes_;
  void* data_ = nullptr;
};

// Host allocations are aligned to this many bytes (a cache line, and enough for any vector load).
constexpr std::size_t kHostAlignment = 64;

// Number of Storage objects created since the process started (all kinds).
std::uint64_t allocation_count();

// Bytes of device memory that Storage objects hold now, and the most they held at once since the process started:
// rosetta's own allocations (tensors, arenas, workspaces), as PyTorch's memory_allocated and max_memory_allocated
// count its allocator's. What cuDNN and cuBLAS allocate inside their calls and the CUDA context itself are not in
// them (cudaMemGetInfo sees those, and every other process's).
std::size_t device_bytes_in_use();
std::size_t peak_device_bytes();

}  // namespace rosetta
