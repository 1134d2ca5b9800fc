// Batcher: turns a Dataset into a stream of complete batches on a device, one epoch at a time.
//
// Order. start_epoch(e) fixes the epoch's order of the N examples: file order with shuffle off, else the
// Fisher-Yates permutation of shuffle.h on stream philox_step_stream(kShuffleUse, e) under the batcher's seed
// (exact bounded draws by Lemire's multiply-and-reject). Batch b holds order positions [b*B, (b+1)*B); only
// complete batches are produced (50000 examples, B = 64 -> 781 batches; the last N mod B positions are dropped).
//
// Shards (data parallelism). With a BatchShard {index i, count n}, B is the GLOBAL batch and this batcher delivers
// share i of each: order positions [b*B + i*B/n, b*B + (i+1)*B/n), B/n rows (batch_size()). Every rank computes the
// same order from the same seed, so the n shards of batch b are exactly one process's batch b, row for row.
//
// Decoding. Inputs are gathered and decoded on the host by Dataset's rule (u8 pixels -> f32 x / 255, f32 and
// i32 unchanged), straight into the destination: a batch costs one gather and, on a GPU, one copy.
//
// Memory. Everything is allocated by the constructor; start_epoch, next and next_into allocate nothing.
// CPU: two host slots. CUDA: two pinned host staging slots and two device slots.
//
// Pipeline on CUDA (call k uses slot s = k % 2, counting calls over the batcher's whole life):
//   1. the host waits for event copied[s] (the copy of call k-2 out of pinned slot s has finished), then
//      gathers and decodes batch k into pinned slot s; meanwhile the device computes the previous batch;
//   2. the copy stream waits for event released[s] (recorded on the main stream at call k-1, i.e. after the
//      work that reads the batch of call k-2 from device slot s), copies pinned -> device slot s, and
//      records copied[s];
//   3. released[1 - s] is recorded on the main stream (all work enqueued so far, so every use of batch k-1),
//      and the main stream waits for copied[s]. Nothing blocks the host except step 1.
//
// Lifetime of a batch (exactly). The Batch returned by call k lives in slot k % 2:
//   - device work may read it when it is enqueued on ctx.stream() after call k returns and before call k+1
//     starts (the training loop `batch = next(ctx); step(batch);` does exactly this);
//   - call k+2 overwrites it, ordered after that work. Host reads of a CUDA batch need ctx.synchronize() first
//     and are valid until call k+2; a CPU batch is host memory, valid until call k+2.
// The stricter "enqueued before call k+1" (not k+2) is what lets the copy of batch k+1 overlap the compute of
// batch k. Work that must read a batch later copies it out first (next_into does that for a CUDA graph).
//
// CUDA graphs. next() and next_into() record events and wait on them: call them outside stream capture. A batch lives
// in one of two fixed slots (Batch::slot), so a captured step needs no copy: capture the step once per slot, on that
// slot's tensors, and replay the graph of the slot next() returned (bench/cli/training_loop.cpp does; the host-to-device
// copy of batch k + 1 still overlaps the step of batch k). next_into() instead copies the batch into caller-owned
// tensors (a device-to-device copy on the main stream, ~0.8 MB for a CIFAR batch of 64), for callers with one fixed
// input buffer.
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/dataset.h"
#include "runtime/context.h"
#include "runtime/stream_event.h"
#include "runtime/tensor.h"

namespace rosetta {

// Which share of every global batch a batcher delivers: share `index` of `count` equal ones.
struct BatchShard {
  int index = 0;
  int count = 1;
};

struct Batch {
  Tensor inputs;  // (B, example dims...) in the dataset's batch dtype; CIFAR-10: (B, 3, 32, 32) f32
  Tensor labels;  // (B,) i32
  int slot = 0;   // which of the batcher's two slots holds it (call k: k % 2): the same tensors every other call
};

class Batcher {
 public:
  // `data` is held by value (tensors share storage: nothing is copied). Needs data.size() >= batch_size, and
  // batch_size (the global batch) divisible by shard.count.
  // `time_major` delivers sequences time-major: examples of shape (T, rest...) become a batch (T, B, rest...)
  // instead of (B, T, rest...) (IMDB tokens in TNC order for cuDNN's RNN). The reordering is part of the host
  // gather, so it costs nothing on the device.
  Batcher(const Dataset& data, std::int64_t batch_size, Device device, bool shuffle, std::uint64_t seed,
          bool time_major = false, BatchShard shard = {});
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  std::int64_t batch_size() const { return batch_size_; }  // this shard's rows of each batch
  std::int64_t global_batch_size() const { return batch_size_ * shard_.count; }
  std::int64_t batches_per_epoch() const { return data_.size() / global_batch_size(); }
  Device device() const { return device_; }
  Shape input_shape() const;                          // (B, example dims...), or (T, B, rest...) time-major
  DType input_dtype() const { return data_.batch_dtype(); }
  const Dataset& dataset() const { return data_; }

  // Fixes epoch `epoch`'s order (see above) and rewinds to its batch `first_batch` (0: the first; a resumed run
  // starts inside an epoch). Must precede next().
  void start_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  // The dataset row at each order position of the current epoch (N entries; the last N mod B are unused).
  const std::vector<std::int64_t>& order() const { return order_; }

  // The next batch of the epoch on ctx (ctx.device() == device()), as views of the batcher's slots; lifetime
  // above. Throws when the epoch has no batch left.
  Batch next(const Context& ctx);
  // The next batch written into caller-owned tensors on device(): inputs (B, example dims...) of input_dtype(),
  // labels (B,) i32. CPU: gathered straight into them. CUDA: next() (so the host-to-device copy overlaps compute
  // as above), then a device-to-device copy on ctx.stream() into the caller's tensors; the caller's tensors are
  // thereby written after all work enqueued earlier on ctx.stream() and before any work enqueued later.
  void next_into(const Context& ctx, Tensor inputs, Tensor labels);

 private:
  // Gathers and decodes batch `batch` of the epoch into inputs (B, example dims...) and labels (B,) on the host.
  void gather(std::int64_t batch, void* inputs, std::int32_t* labels) const;
  // The batch index next() or next_into() consumes; throws when the epoch is over.
  std::int64_t take_batch();

  Dataset data_;
  std::int64_t batch_size_;              // rows of this shard (the global batch / shard_.count)
  Device device_;
  bool shuffle_;
  std::uint64_t seed_;
  bool time_major_;
  BatchShard shard_;
  std::int64_t example_numel_;           // elements of one example
  std::vector<std::int64_t> order_;      // (N,) dataset row per order position
  float pixel_table_[256];               // pixel_value(byte) for every byte
  bool epoch_started_ = false;
  std::int64_t next_batch_ = 0;          // within the epoch
  std::uint64_t calls_ = 0;              // slot of the next call = calls_ % 2

  Tensor host_inputs_[2];    // (B, example dims...) host (CPU device) or pinned staging (CUDA)
  Tensor host_labels_[2];    // (B,) i32, same memory kind
  Tensor device_inputs_[2];  // (B, example dims...) CUDA only
  Tensor device_labels_[2];  // (B,) i32, CUDA only
  StreamEvent copied_[2];    // copy stream: the H2D copy out of pinned slot s is done
  StreamEvent released_[2];  // main stream: the work reading device slot s is done
};

}  // namespace rosetta
