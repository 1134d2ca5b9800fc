#include "bench/cli/input_double_buffer.h"

#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta::cli {

InputDoubleBuffer::InputDoubleBuffer(const Context& ctx, const Shape& batch_shape) {
  for (Tensor& slot : slots_) slot = Tensor::zeros(batch_shape, DType::f32, ctx.device());
#if ROSETTA_WITH_CUDA
  if (ctx.device() == Device::cuda) {
    for (int s = 0; s < 2; ++s) {
      ROSETTA_CUDA_CHECK(cudaEventCreateWithFlags(&copied_[s], cudaEventDisableTiming));
      ROSETTA_CUDA_CHECK(cudaEventCreateWithFlags(&released_[s], cudaEventDisableTiming));
      ROSETTA_CUDA_CHECK(cudaEventRecord(released_[s], ctx.stream()));  // both slots start free
    }
  }
#endif
}

InputDoubleBuffer::~InputDoubleBuffer() {
#if ROSETTA_WITH_CUDA
  for (int s = 0; s < 2; ++s) {  // destructors must not throw; a failed destroy has nothing left to report
    if (copied_[s] != nullptr) cudaEventDestroy(copied_[s]);
    if (released_[s] != nullptr) cudaEventDestroy(released_[s]);
  }
#endif
}

const Tensor& InputDoubleBuffer::load(const Context& ctx, const Tensor& host_batch, std::int64_t b) {
  const int s = static_cast<int>(b % 2);
  Tensor& slot = slots_[s];
  if (ctx.device() == Device::cpu) {
    slot.copy_from(host_batch);
    return slot;
  }
#if ROSETTA_WITH_CUDA
  ROSETTA_CHECK(host_batch.dtype() == DType::f32 && host_batch.numel() == slot.numel(),
                "input batch " << host_batch.shape().str() << " for a slot of " << slot.shape().str());
  ROSETTA_CUDA_CHECK(cudaStreamWaitEvent(ctx.copy_stream(), released_[s], 0));
  slot.copy_from(host_batch, ctx.copy_stream());
  ROSETTA_CUDA_CHECK(cudaEventRecord(copied_[s], ctx.copy_stream()));
  ROSETTA_CUDA_CHECK(cudaStreamWaitEvent(ctx.stream(), copied_[s], 0));
#endif
  return slot;
}

void InputDoubleBuffer::release(const Context& ctx, std::int64_t b) {
#if ROSETTA_WITH_CUDA
  if (ctx.device() == Device::cuda) ROSETTA_CUDA_CHECK(cudaEventRecord(released_[b % 2], ctx.stream()));
#else
  (void)ctx, (void)b;
#endif
}

}  // namespace rosetta::cli
