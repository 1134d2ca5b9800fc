// The NCCL engine of nccl_engine.h: NCCL for the device sums, the host communicator (MPI, or the single process) for
// everything on the host, a watchdog thread for NCCL's asynchronous errors.
#include "runtime/comm/nccl_engine.h"

#include <nccl.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/error.h"

// ROSETTA_NCCL_CHECK(ncclAllReduce(...)): throws with the expression, NCCL's error string and its last message.
#define ROSETTA_NCCL_CHECK(expr)                                                                           \
  do {                                                                                                     \
    const ncclResult_t rosetta_nccl_status_ = (expr);                                                      \
    if (rosetta_nccl_status_ != ncclSuccess)                                                               \
      ROSETTA_FAIL("NCCL error: " #expr ": " << ncclGetErrorString(rosetta_nccl_status_) << " ("            \
                                             << ncclGetLastError(nullptr) << ")");                         \
  } while (0)

namespace rosetta::comm {
namespace {

constexpr auto kWatchdogPeriod = std::chrono::milliseconds(100);

class Nccl final : public NcclCommunicator {
 public:
  Nccl(const Context& ctx, const Communicator& host, std::function<void(const std::string&)> on_async_error)
      : host_(host), on_async_error_(std::move(on_async_error)) {
    ROSETTA_CHECK(ctx.device() == Device::cuda, "the NCCL engine needs a CUDA context");
    ncclUniqueId id;
    if (host_.rank() == 0) ROSETTA_NCCL_CHECK(ncclGetUniqueId(&id));
    host_.broadcast_from_first(&id, sizeof id);
    ROSETTA_NCCL_CHECK(ncclCommInitRank(&comm_, host_.size(), id, host_.rank()));
    if (host_.size() > 1) watchdog_ = std::thread([this] { watch(); });
  }

  ~Nccl() override {
    stop_ = true;
    if (watchdog_.joinable()) watchdog_.join();
    // A destructor must not throw; a communicator that fails to close has nothing left to report.
    if (!aborted_.exchange(true)) ncclCommDestroy(comm_);
  }

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  std::string engine() const override { return nccl_library_version(); }

  void all_reduce_sum(const Context& ctx, std::initializer_list<Tensor> tensors) const override {
    ROSETTA_CHECK(ctx.device() == Device::cuda, "the NCCL engine sums device memory; a CPU context needs MPI");
    ROSETTA_NCCL_CHECK(ncclGroupStart());
    for (const Tensor& t : tensors) {
      ROSETTA_CHECK(t.device() == Device::cuda && (t.dtype() == DType::f32 || t.dtype() == DType::i32),
                    "all_reduce_sum of a " << dtype_name(t.dtype()) << t.shape().str() << " tensor on "
                                           << device_name(t.device()) << " (expected f32 or i32 on cuda)");
      ROSETTA_NCCL_CHECK(ncclAllReduce(t.raw(), t.raw(), static_cast<std::size_t>(t.numel()),
                                       t.dtype() == DType::f32 ? ncclFloat32 : ncclInt32, ncclSum, comm_,
                                       ctx.stream()));
    }
    ROSETTA_NCCL_CHECK(ncclGroupEnd());
  }

  void all_gather(const void* mine, std::size_t bytes, void* all) const override { host_.all_gather(mine, bytes, all); }
  void gather_to_first(const void* mine, std::size_t bytes, void* all, std::size_t all_bytes) const override {
    host_.gather_to_first(mine, bytes, all, all_bytes);
  }
  void broadcast_from_first(void* data, std::size_t bytes) const override { host_.broadcast_from_first(data, bytes); }

  void abort() const override {
    if (!aborted_.exchange(true)) ncclCommAbort(comm_);
  }

 private:
  // Polls NCCL's asynchronous error state; on an error, hands the message to on_async_error_, which ends the job.
  void watch() {
    while (!stop_) {
      std::this_thread::sleep_for(kWatchdogPeriod);
      ncclResult_t state = ncclSuccess;
      const ncclResult_t query = ncclCommGetAsyncError(comm_, &state);
      if (query == ncclSuccess && (state == ncclSuccess || state == ncclInProgress)) continue;
      const ncclResult_t failure = query != ncclSuccess ? query : state;
      on_async_error_(std::string("NCCL asynchronous error: ") + ncclGetErrorString(failure) + " (" +
                      ncclGetLastError(comm_) + ")");
      return;
    }
  }

  const Communicator& host_;
  std::function<void(const std::string&)> on_async_error_;
  ncclComm_t comm_ = nullptr;
  mutable std::atomic<bool> aborted_{false};
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<NcclCommunicator> make_nccl_communicator(const Context& ctx, const Communicator& host,
                                                         std::function<void(const std::string&)> on_async_error) {
  return std::make_unique<Nccl>(ctx, host, std::move(on_async_error));
}

std::string nccl_library_version() {
  int code = 0;
  ROSETTA_NCCL_CHECK(ncclGetVersion(&code));
  // NCCL_VERSION(X, Y, Z): X * 10000 + Y * 100 + Z from 2.9 on.
  return "NCCL " + std::to_string(code / 10000) + "." + std::to_string(code / 100 % 100) + "." +
         std::to_string(code % 100);
}

}  // namespace rosetta::comm
