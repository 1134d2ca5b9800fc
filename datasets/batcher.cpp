// The Batcher: per-epoch order, host gather and decode, and on CUDA the double-buffered pinned -> device feed
// described in batcher.h (asynchronous copies on the copy stream, ordered by StreamEvents).
#include "datasets/batcher.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "datasets/shuffle.h"
#include "runtime/philox.h"

namespace rosetta {
namespace {

Shape with_leading(std::int64_t n, const Shape& example) {
  std::int64_t dims[Shape::kMaxDims + 1] = {n};
  std::copy(example.begin(), example.end(), dims + 1);
  return Shape(dims, dims + 1 + example.rank());
}

}  // namespace

Batcher::Batcher(const Dataset& data, std::int64_t batch_size, Device device, bool shuffle, std::uint64_t seed,
                 bool time_major, BatchShard shard)
    : data_(data),
      batch_size_(shard.count >= 1 ? batch_size / shard.count : 0),
      device_(device),
      shuffle_(shuffle),
      seed_(seed),
      time_major_(time_major),
      shard_(shard),
      copied_{StreamEvent(device), StreamEvent(device)},
      released_{StreamEvent(device), StreamEvent(device)} {
  data_.validate();
  ROSETTA_CHECK(!time_major || (data_.example_shape().rank() >= 1 && data_.inputs.dtype() != DType::u8),
                "time-major batches need sequence examples (not pixels); dataset '" << data_.name << "'");
  ROSETTA_CHECK(batch_size >= 1, "batch size must be >= 1, got " << batch_size);
  ROSETTA_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count && batch_size % shard.count == 0,
                "shard " << shard.index << " of " << shard.count << " of a batch of " << batch_size
                         << " (the batch must split into equal shares)");
  ROSETTA_CHECK(data_.size() >= batch_size, "dataset '" << data_.name << "' has " << data_.size()
                                                        << " examples, fewer than one batch of " << batch_size);
  example_numel_ = data_.example_shape().numel();
  order_.resize(static_cast<std::size_t>(data_.size()));
  for (int byte = 0; byte < 256; ++byte) pixel_table_[byte] = pixel_value(static_cast<std::uint8_t>(byte));

  const Shape inputs_shape = input_shape();
  const bool cuda = device == Device::cuda;
  for (int s = 0; s < 2; ++s) {
    host_inputs_[s] = Tensor::empty(inputs_shape, input_dtype(), Device::cpu, /*pinned=*/cuda);
    host_labels_[s] = Tensor::empty({batch_size_}, DType::i32, Device::cpu, /*pinned=*/cuda);
    if (cuda) {
      device_inputs_[s] = Tensor::empty(inputs_shape, input_dtype(), Device::cuda);
      device_labels_[s] = Tensor::empty({batch_size_}, DType::i32, Device::cuda);
    }
  }
}

Batcher::~Batcher() {
  // The pinned slots may still be read by an in-flight copy: wait for it before they are freed (device slots are
  // freed by cudaFree, which synchronizes the device). Destructors must not throw, and a failed wait at teardown has
  // nothing left to report.
  for (const StreamEvent& copied : copied_) {
    try {
      copied.synchronize();
    } catch (const Error&) {
    }
  }
}

Shape Batcher::input_shape() const {
  const Shape example = data_.example_shape();
  if (!time_major_) return with_leading(batch_size_, example);
  std::int64_t dims[Shape::kMaxDims + 1] = {example[0], batch_size_};
  std::copy(example.begin() + 1, example.end(), dims + 2);
  return Shape(dims, dims + 1 + example.rank());
}

void Batcher::start_epoch(std::int64_t epoch, std::int64_t first_batch) {
  ROSETTA_CHECK(epoch >= 0, "epoch must be >= 0, got " << epoch);
  ROSETTA_CHECK(first_batch == 0 || (first_batch > 0 && first_batch < batches_per_epoch()),
                "first batch " << first_batch << " of an epoch of " << batches_per_epoch());
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  if (shuffle_) {
    const std::uint64_t stream = philox_step_stream(kShuffleUse, static_cast<std::uint64_t>(epoch));
    philox_shuffle(order_.data(), data_.size(), seed_, stream);
  }
  epoch_started_ = true;
  next_batch_ = first_batch;
}

std::int64_t Batcher::take_batch() {
  ROSETTA_CHECK(epoch_started_, "Batcher: call start_epoch before next");
  ROSETTA_CHECK(next_batch_ < batches_per_epoch(), "Batcher: the epoch's " << batches_per_epoch()
                                                       << " batches are used up; call start_epoch");
  return next_batch_++;
}

void Batcher::gather(std::int64_t batch, void* inputs, std::int32_t* labels) const {
  const std::int64_t* rows = order_.data() + batch * global_batch_size() + shard_.index * batch_size_;
  const std::int32_t* source_labels = data_.labels.data<std::int32_t>();
  for (std::int64_t j = 0; j < batch_size_; ++j) labels[j] = source_labels[rows[j]];
  if (data_.inputs.dtype() == DType::u8) {
    const std::uint8_t* source = data_.inputs.data<std::uint8_t>();
    float* out = static_cast<float*>(inputs);
    for (std::int64_t j = 0; j < batch_size_; ++j) {
      const std::uint8_t* row = source + rows[j] * example_numel_;
      float* out_row = out + j * example_numel_;
      for (std::int64_t e = 0; e < example_numel_; ++e) out_row[e] = pixel_table_[row[e]];
    }
    return;
  }
  const std::size_t row_bytes = static_cast<std::size_t>(example_numel_) * dtype_size(data_.inputs.dtype());
  const char* source = static_cast<const char*>(data_.inputs.raw());
  char* out = static_cast<char*>(inputs);
  if (time_major_) {  // example j's step t goes to out[t][j]
    const std::int64_t steps = data_.example_shape()[0];
    const std::size_t step_bytes = row_bytes / static_cast<std::size_t>(steps);
    for (std::int64_t j = 0; j < batch_size_; ++j)
      for (std::int64_t t = 0; t < steps; ++t)
        std::memcpy(out + (t * batch_size_ + j) * step_bytes, source + rows[j] * row_bytes + t * step_bytes, step_bytes);
    return;
  }
  for (std::int64_t j = 0; j < batch_size_; ++j) {
    std::memcpy(out + j * row_bytes, source + rows[j] * row_bytes, row_bytes);
  }
}

Batch Batcher::next(const Context& ctx) {
  ROSETTA_CHECK(ctx.device() == device_, "Batcher on " << device_name(device_) << " called with a "
                                                      << device_name(ctx.device()) << " context");
  const std::int64_t batch = take_batch();
  const int s = static_cast<int>(calls_++ % 2);
  if (device_ == Device::cpu) {
    gather(batch, host_inputs_[s].raw(), host_labels_[s].data<std::int32_t>());
    return {host_inputs_[s], host_labels_[s], s};
  }
  // Pinned slot s: the copy of call k-2 has finished reading it.
  copied_[s].synchronize();
  gather(batch, host_inputs_[s].raw(), host_labels_[s].data<std::int32_t>());
  // Device slot s: the main-stream work that reads batch k-2 is done.
  released_[s].wait(ctx.copy_stream());
  device_inputs_[s].copy_from(host_inputs_[s], ctx.copy_stream());
  device_labels_[s].copy_from(host_labels_[s], ctx.copy_stream());
  copied_[s].record(ctx.copy_stream());
  // Every use of batch k-1 (slot 1 - s) is enqueued by now: call k+1 overwrites that slot after this point.
  released_[1 - s].record(ctx.stream());
  copied_[s].wait(ctx.stream());
  return {device_inputs_[s], device_labels_[s], s};
}

void Batcher::next_into(const Context& ctx, Tensor inputs, Tensor labels) {
  ROSETTA_CHECK(inputs.device() == device_ && labels.device() == device_,
                "Batcher on " << device_name(device_) << " asked to fill tensors on " << device_name(inputs.device())
                              << " and " << device_name(labels.device()));
  ROSETTA_CHECK(inputs.shape() == input_shape() && inputs.dtype() == input_dtype(),
                "batch inputs must be " << dtype_name(input_dtype()) << input_shape().str() << ", got "
                                        << dtype_name(inputs.dtype()) << inputs.shape().str());
  ROSETTA_CHECK(labels.shape() == Shape{batch_size_} && labels.dtype() == DType::i32,
                "batch labels must be I32(" << batch_size_ << ",), got " << dtype_name(labels.dtype())
                                            << labels.shape().str());
  if (device_ == Device::cpu) {
    ROSETTA_CHECK(ctx.device() == Device::cpu, "Batcher on cpu called with a " << device_name(ctx.device())
                                                                               << " context");
    gather(take_batch(), inputs.raw(), labels.data<std::int32_t>());
    return;
  }
  const Batch batch = next(ctx);
  inputs.copy_from(batch.inputs, ctx.stream());
  labels.copy_from(batch.labels, ctx.stream());
}

}  // namespace rosetta
