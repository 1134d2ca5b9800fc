#include "bench/cli/input_double_buffer.h"

namespace rosetta::cli {

InputDoubleBuffer::InputDoubleBuffer(const Context& ctx, const Shape& batch_shape)
    : copied_{StreamEvent(ctx.device()), StreamEvent(ctx.device())},
      released_{StreamEvent(ctx.device()), StreamEvent(ctx.device())} {
  for (Tensor& slot : slots_) slot = Tensor::zeros(batch_shape, DType::f32, ctx.device());
  for (StreamEvent& released : released_) released.record(ctx.stream());  // both slots start free
}

const Tensor& InputDoubleBuffer::load(const Context& ctx, const Tensor& host_batch, std::int64_t b) {
  const int s = static_cast<int>(b % 2);
  Tensor& slot = slots_[s];
  ROSETTA_CHECK(host_batch.dtype() == DType::f32 && host_batch.numel() == slot.numel(),
                "input batch " << host_batch.shape().str() << " for a slot of " << slot.shape().str());
  if (ctx.device() == Device::cpu) {
    slot.copy_from(host_batch);
    return slot;
  }
  released_[s].wait(ctx.copy_stream());
  slot.copy_from(host_batch, ctx.copy_stream());
  copied_[s].record(ctx.copy_stream());
  copied_[s].wait(ctx.stream());
  return slot;
}

void InputDoubleBuffer::release(const Context& ctx, std::int64_t b) { released_[b % 2].record(ctx.stream()); }

}  // namespace rosetta::cli
