// The single-process communicator: rank 0 of 1. Sums over one rank are the tensors themselves; gathers are copies.
#include "runtime/communicator.h"

#include <cstring>

#include "runtime/error.h"

namespace rosetta {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string engine() const override { return "none (one process)"; }
  void all_reduce_sum(const Context&, std::initializer_list<Tensor>) const override {}
  void all_gather(const void* mine, std::size_t bytes, void* all) const override { std::memcpy(all, mine, bytes); }
  void gather_to_first(const void* mine, std::size_t bytes, void* all, std::size_t all_bytes) const override {
    ROSETTA_CHECK(all_bytes == bytes, "gather of " << bytes << " bytes into " << all_bytes);
    std::memcpy(all, mine, bytes);
  }
  void broadcast_from_first(void*, std::size_t) const override {}
};

}  // namespace

const Communicator& Communicator::single_process() {
  static const SingleProcess instance;
  return instance;
}

}  // namespace rosetta
