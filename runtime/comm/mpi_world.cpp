// The MPI engine of mpi_world.h over MPI_COMM_WORLD.
#include "runtime/comm/mpi_world.h"

#include <mpi.h>

#include <climits>
#include <vector>

#include "runtime/error.h"

// ROSETTA_MPI_CHECK(MPI_Allreduce(...)): throws with the expression and MPI's error string.
#define ROSETTA_MPI_CHECK(expr)                                                                        \
  do {                                                                                                 \
    const int rosetta_mpi_status_ = (expr);                                                            \
    if (rosetta_mpi_status_ != MPI_SUCCESS) {                                                          \
      char rosetta_mpi_text_[MPI_MAX_ERROR_STRING];                                                    \
      int rosetta_mpi_length_ = 0;                                                                     \
      MPI_Error_string(rosetta_mpi_status_, rosetta_mpi_text_, &rosetta_mpi_length_);                  \
      ROSETTA_FAIL("MPI error: " #expr ": " << std::string(rosetta_mpi_text_, rosetta_mpi_length_));   \
    }                                                                                                  \
  } while (0)

namespace rosetta::comm {
namespace {

int checked_count(std::size_t bytes) {
  ROSETTA_CHECK(bytes <= static_cast<std::size_t>(INT_MAX), "an MPI message of " << bytes << " bytes exceeds INT_MAX");
  return static_cast<int>(bytes);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    ROSETTA_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    ROSETTA_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string engine() const override { return "MPI (" + mpi_library_version() + ")"; }

  void all_reduce_sum(const Context& ctx, std::initializer_list<Tensor> tensors) const override {
    ROSETTA_CHECK(ctx.device() == Device::cpu, "the MPI engine sums host memory; a CUDA context needs NCCL");
    for (const Tensor& t : tensors) {
      ROSETTA_CHECK(t.device() == Device::cpu && (t.dtype() == DType::f32 || t.dtype() == DType::i32),
                    "all_reduce_sum of a " << dtype_name(t.dtype()) << t.shape().str() << " tensor on "
                                           << device_name(t.device()) << " (expected f32 or i32 on the cpu)");
      ROSETTA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t.raw(), checked_count(static_cast<std::size_t>(t.numel())),
                                      t.dtype() == DType::f32 ? MPI_FLOAT : MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    }
  }

  void all_gather(const void* mine, std::size_t bytes, void* all) const override {
    const int count = checked_count(bytes);
    ROSETTA_MPI_CHECK(MPI_Allgather(mine, count, MPI_BYTE, all, count, MPI_BYTE, MPI_COMM_WORLD));
  }

  void gather_to_first(const void* mine, std::size_t bytes, void* all, std::size_t all_bytes) const override {
    const int count = checked_count(bytes);
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));  // (ranks,)
    ROSETTA_MPI_CHECK(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (rank_ == 0) {
      std::size_t total = 0;
      for (int r = 0; r < size_; ++r) {
        offsets[static_cast<std::size_t>(r)] = checked_count(total);
        total += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
      }
      ROSETTA_CHECK(total == all_bytes, "gather of " << total << " bytes from " << size_ << " ranks into " << all_bytes);
    }
    ROSETTA_MPI_CHECK(MPI_Gatherv(mine, count, MPI_BYTE, all, counts.data(), offsets.data(), MPI_BYTE, 0,
                                  MPI_COMM_WORLD));
  }

  void broadcast_from_first(void* data, std::size_t bytes) const override {
    ROSETTA_MPI_CHECK(MPI_Bcast(data, checked_count(bytes), MPI_BYTE, 0, MPI_COMM_WORLD));
  }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace

void mpi_init() {
  int provided = 0;
  ROSETTA_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
  ROSETTA_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
}

void mpi_finalize() { ROSETTA_MPI_CHECK(MPI_Finalize()); }

std::pair<int, int> mpi_local_rank() {
  MPI_Comm node;
  ROSETTA_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int rank = 0, size = 1;
  ROSETTA_MPI_CHECK(MPI_Comm_rank(node, &rank));
  ROSETTA_MPI_CHECK(MPI_Comm_size(node, &size));
  ROSETTA_MPI_CHECK(MPI_Comm_free(&node));
  return {rank, size};
}

void mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  ROSETTA_MPI_CHECK(MPI_Get_library_version(text, &length));
  std::string version(text, static_cast<std::size_t>(length));
  version = version.substr(0, version.find_first_of(",\n"));
  return version;
}

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace rosetta::comm
