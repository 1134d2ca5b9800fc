// The Batcher: complete batches only, every example once per epoch, seeded shuffles that differ across epochs
// and follow the documented Fisher-Yates, file order with shuffle off, CPU batches equal to the dataset's rows,
// no allocation after construction; on a GPU, device batches equal to CPU batches through the pipelined feed,
// also under a slow consumer, and a steady state that allocates nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "datasets/batcher.h"
#include "datasets/shuffle.h"
#include "datasets/synthetic.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

// N examples of shape (3,) i32 holding (i, -i, 7), label i % 10: a batch reveals which rows it holds.
Dataset index_dataset(std::int64_t n) {
  Dataset d;
  d.name = "index";
  d.num_classes = 10;
  d.inputs = Tensor::empty({n, 3}, DType::i32);
  d.labels = Tensor::empty({n}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) {
    d.inputs.data<std::int32_t>()[3 * i] = static_cast<std::int32_t>(i);
    d.inputs.data<std::int32_t>()[3 * i + 1] = static_cast<std::int32_t>(-i);
    d.inputs.data<std::int32_t>()[3 * i + 2] = 7;
    d.labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % 10);
  }
  return d;
}

Dataset small_images(std::int64_t n, std::uint64_t seed) {
  SyntheticImagesOptions o;
  o.train_examples = n;
  o.test_examples = 0;
  o.seed = seed;
  return synthetic_images(o).train;
}

// The dataset rows of one CPU batch of the index dataset, checking the other columns and the labels on the way.
std::vector<std::int64_t> rows_of(const Batch& batch) {
  std::vector<std::int64_t> rows;
  const std::int32_t* x = batch.inputs.data<std::int32_t>();
  for (std::int64_t j = 0; j < batch.inputs.dim(0); ++j) {
    EXPECT_EQ(x[3 * j + 1], -x[3 * j]);
    EXPECT_EQ(x[3 * j + 2], 7);
    EXPECT_EQ(batch.labels.data<std::int32_t>()[j], x[3 * j] % 10);
    rows.push_back(x[3 * j]);
  }
  return rows;
}

// All rows of one epoch, in batch order.
std::vector<std::int64_t> epoch_rows(Batcher& batcher, std::int64_t epoch) {
  batcher.start_epoch(epoch);
  std::vector<std::int64_t> rows;
  for (std::int64_t b = 0; b < batcher.batches_per_epoch(); ++b) {
    const std::vector<std::int64_t> r = rows_of(batcher.next(Context::cpu()));
    rows.insert(rows.end(), r.begin(), r.end());
  }
  return rows;
}

std::vector<std::int32_t> labels_of(const Tensor& labels) {
  const Tensor host = labels.device() == Device::cpu ? labels : labels.to(Device::cpu);
  return std::vector<std::int32_t>(host.data<std::int32_t>(), host.data<std::int32_t>() + host.numel());
}

TEST(Batcher, CompleteBatchesOnly) {
  EXPECT_EQ(Batcher(index_dataset(50000), 64, Device::cpu, true, 0).batches_per_epoch(), 781);
  Batcher batcher(index_dataset(1000), 64, Device::cpu, true, 0);
  ASSERT_EQ(batcher.batches_per_epoch(), 15);  // 1000 = 15 * 64 + 40; the 40 are dropped
  EXPECT_THROW(batcher.next(Context::cpu()), Error);  // before start_epoch
  batcher.start_epoch(0);
  for (int b = 0; b < 15; ++b) {
    const Batch batch = batcher.next(Context::cpu());
    EXPECT_EQ(batch.inputs.shape(), (Shape{64, 3}));
    EXPECT_EQ(batch.inputs.dtype(), DType::i32);
    EXPECT_EQ(batch.labels.shape(), (Shape{64}));
  }
  EXPECT_THROW(batcher.next(Context::cpu()), Error);
  batcher.start_epoch(1);
  EXPECT_NO_THROW(batcher.next(Context::cpu()));
}

TEST(Batcher, RejectsBadConfigurations) {
  EXPECT_THROW(Batcher(index_dataset(10), 64, Device::cpu, true, 0), Error);  // fewer examples than a batch
  EXPECT_THROW(Batcher(index_dataset(100), 0, Device::cpu, true, 0), Error);
  Dataset bad = index_dataset(100);
  bad.labels.data<std::int32_t>()[17] = 10;
  EXPECT_THROW(Batcher(bad, 10, Device::cpu, true, 0), Error);
  Batcher batcher(index_dataset(100), 10, Device::cpu, true, 0);
  EXPECT_THROW(batcher.start_epoch(-1), Error);
}

TEST(Batcher, NoShuffleIsFileOrder) {
  Batcher batcher(index_dataset(1000), 64, Device::cpu, /*shuffle=*/false, 123);
  std::vector<std::int64_t> expected(15 * 64);
  std::iota(expected.begin(), expected.end(), std::int64_t{0});
  EXPECT_EQ(epoch_rows(batcher, 0), expected);
  EXPECT_EQ(epoch_rows(batcher, 5), expected);
}

TEST(Batcher, EveryIndexExactlyOncePerEpoch) {
  Batcher exact(index_dataset(640), 64, Device::cpu, true, 9);  // no remainder: all 640 rows
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<std::int64_t> rows = epoch_rows(exact, epoch);
    std::sort(rows.begin(), rows.end());
    std::vector<std::int64_t> all(640);
    std::iota(all.begin(), all.end(), std::int64_t{0});
    EXPECT_EQ(rows, all) << "epoch " << epoch;
  }
  Batcher partial(index_dataset(1000), 64, Device::cpu, true, 9);  // 960 distinct rows, 40 left out
  const std::vector<std::int64_t> rows = epoch_rows(partial, 0);
  EXPECT_EQ(std::set<std::int64_t>(rows.begin(), rows.end()).size(), 960u);
  std::vector<std::int64_t> order = partial.order();  // a permutation of all 1000; batches are its first 960
  EXPECT_TRUE(std::equal(rows.begin(), rows.end(), order.begin()));
  std::sort(order.begin(), order.end());
  for (std::int64_t i = 0; i < 1000; ++i) ASSERT_EQ(order[i], i);
}

TEST(Batcher, ShufflesDifferAcrossEpochsAndRepeatForASeed) {
  Batcher a(index_dataset(1000), 64, Device::cpu, true, 42), b(index_dataset(1000), 64, Device::cpu, true, 42);
  Batcher other_seed(index_dataset(1000), 64, Device::cpu, true, 43);
  const std::vector<std::int64_t> a0 = epoch_rows(a, 0), a1 = epoch_rows(a, 1), a2 = epoch_rows(a, 2);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a1, a2);
  EXPECT_NE(a0, a2);
  EXPECT_EQ(epoch_rows(b, 0), a0);
  EXPECT_EQ(epoch_rows(b, 2), a2);  // an epoch's order depends on (seed, epoch) only, not on history
  EXPECT_EQ(epoch_rows(b, 1), a1);
  EXPECT_EQ(epoch_rows(a, 0), a0);
  EXPECT_NE(epoch_rows(other_seed, 0), a0);
}

// The order is the Fisher-Yates of shuffle.h on philox_step_stream(kShuffleUse, epoch), restated here from the
// specification (with philox_u32 only) so a peer can rely on it.
TEST(Batcher, ShuffleFollowsTheSpecification) {
  const std::int64_t n = 1000;
  const std::uint64_t seed = 2024, epoch = 3;
  std::vector<std::int64_t> expected(n);
  std::iota(expected.begin(), expected.end(), std::int64_t{0});
  std::uint64_t word = 0;
  for (std::int64_t i = n - 1; i >= 1; --i) {
    const std::uint64_t bound = static_cast<std::uint64_t>(i + 1);
    const std::uint64_t threshold = ((std::uint64_t{1} << 32) % bound);
    std::uint64_t m;
    do {
      m = philox_u32(seed, philox_step_stream(kShuffleUse, epoch), word++) * bound;
    } while ((m & 0xffffffffu) < threshold);
    std::swap(expected[i], expected[m >> 32]);
  }
  Batcher batcher(index_dataset(n), 10, Device::cpu, true, seed);
  batcher.start_epoch(static_cast<std::int64_t>(epoch));
  EXPECT_EQ(batcher.order(), expected);
}

TEST(Batcher, BoundedDrawsAreUnbiased) {
  // bound = 2^31 + 1 rejects almost half of all words (threshold 2^31 - 1): every draw is still < bound and
  // the word count shows the rejections happened.
  PhiloxWords words(1, 2);
  const std::uint32_t bound = (1u << 31) + 1;
  for (int i = 0; i < 1000; ++i) ASSERT_LT(words.below(bound), bound);
  EXPECT_GT(words.words_used(), 1700u);  // expected ~2000; a binomial sd of ~30 words
  // Where element 0 lands over 5000 shuffles of 5 items: each position has probability 1/5, so a count of
  // 1000 with sd sqrt(5000 * 0.2 * 0.8) ~ 28; the bound 150 is over 5 sd.
  std::vector<int> position_count(5, 0);
  for (std::uint64_t s = 0; s < 5000; ++s) {
    std::int64_t items[5] = {0, 1, 2, 3, 4};
    philox_shuffle(items, 5, 77, s);
    ++position_count[std::find(items, items + 5, 0) - items];
  }
  for (int p = 0; p < 5; ++p) EXPECT_NEAR(position_count[p], 1000, 150) << "position " << p;
}

TEST(Batcher, CpuBatchesEqualDatasetRows) {
  const Dataset data = small_images(300, 4);
  Batcher batcher(data, 32, Device::cpu, true, 8);
  EXPECT_EQ(batcher.input_shape(), (Shape{32, 3, 32, 32}));
  EXPECT_EQ(batcher.input_dtype(), DType::f32);
  const std::int64_t pixels = 3 * 32 * 32;
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    batcher.start_epoch(epoch);
    for (std::int64_t b = 0; b < batcher.batches_per_epoch(); ++b) {
      const Batch batch = batcher.next(Context::cpu());
      ASSERT_EQ(batch.inputs.shape(), (Shape{32, 3, 32, 32}));
      ASSERT_EQ(batch.inputs.device(), Device::cpu);
      for (std::int64_t j = 0; j < 32; ++j) {
        const std::int64_t row = batcher.order()[b * 32 + j];
        ASSERT_EQ(batch.labels.data<std::int32_t>()[j], data.labels.data<std::int32_t>()[row]);
        for (std::int64_t k = 0; k < pixels; ++k) {
          ASSERT_EQ(batch.inputs.data<float>()[j * pixels + k],
                    pixel_value(data.inputs.data<std::uint8_t>()[row * pixels + k]))
              << "batch " << b << " example " << j << " pixel " << k;
        }
      }
    }
  }
}

TEST(Batcher, CpuSlotsAlternateAndAllocateNothing) {
  Batcher batcher(index_dataset(1000), 64, Device::cpu, true, 1);
  const std::uint64_t allocations = allocation_count();
  batcher.start_epoch(0);
  const Batch b0 = batcher.next(Context::cpu());
  const Batch b1 = batcher.next(Context::cpu());
  const std::vector<std::int64_t> rows0 = rows_of(b0);
  const Batch b2 = batcher.next(Context::cpu());
  EXPECT_NE(b0.inputs.raw(), b1.inputs.raw());
  EXPECT_NE(b0.labels.raw(), b1.labels.raw());
  EXPECT_EQ(b0.inputs.raw(), b2.inputs.raw());  // call k+2 reuses call k's slot
  EXPECT_NE(rows_of(b2), rows0);
  for (std::int64_t epoch = 1; epoch < 3; ++epoch) {
    batcher.start_epoch(epoch);
    for (std::int64_t b = 0; b < batcher.batches_per_epoch(); ++b) batcher.next(Context::cpu());
  }
  EXPECT_EQ(allocation_count(), allocations);
}

TEST(Batcher, CpuNextIntoEqualsNext) {
  const Dataset data = small_images(200, 6);
  Batcher a(data, 16, Device::cpu, true, 3), b(data, 16, Device::cpu, true, 3);
  Tensor inputs = Tensor::empty({16, 3, 32, 32}, DType::f32);
  Tensor labels = Tensor::empty({16}, DType::i32);
  a.start_epoch(1);
  b.start_epoch(1);
  for (std::int64_t i = 0; i < a.batches_per_epoch(); ++i) {
    const Batch batch = a.next(Context::cpu());
    b.next_into(Context::cpu(), inputs, labels);
    ASSERT_EQ(inputs.to_vector(), batch.inputs.to_vector()) << "batch " << i;
    ASSERT_EQ(labels_of(labels), labels_of(batch.labels)) << "batch " << i;
  }
  EXPECT_THROW(b.next_into(Context::cpu(), inputs, labels), Error);  // epoch used up
  b.start_epoch(2);
  EXPECT_THROW(b.next_into(Context::cpu(), Tensor::empty({16, 3, 32, 31}, DType::f32), labels), Error);
  EXPECT_THROW(b.next_into(Context::cpu(), Tensor::empty({16, 3, 32, 32}, DType::u8), labels), Error);
  EXPECT_THROW(b.next_into(Context::cpu(), inputs, Tensor::empty({15}, DType::i32)), Error);
}

// ---- CUDA ----

// Every batch of epochs [0, epochs) of a CPU batcher: (inputs values, labels).
struct HostBatch {
  std::vector<float> inputs;
  std::vector<std::int32_t> labels;
};
std::vector<HostBatch> cpu_batches(const Dataset& data, std::int64_t batch_size, std::uint64_t seed, int epochs) {
  Batcher batcher(data, batch_size, Device::cpu, true, seed);
  std::vector<HostBatch> out;
  for (int e = 0; e < epochs; ++e) {
    batcher.start_epoch(e);
    for (std::int64_t b = 0; b < batcher.batches_per_epoch(); ++b) {
      const Batch batch = batcher.next(Context::cpu());
      out.push_back({batch.inputs.to_vector(), labels_of(batch.labels)});
    }
  }
  return out;
}

TEST(CudaBatcher, DeviceBatchesEqualCpuBatches) {
  ROSETTA_REQUIRE_CUDA();
  const Dataset data = small_images(1000, 12);
  const std::vector<HostBatch> expected = cpu_batches(data, 64, 5, 2);
  Context& ctx = Context::cuda();
  Batcher batcher(data, 64, Device::cuda, true, 5);
  std::size_t i = 0;
  for (int e = 0; e < 2; ++e) {
    batcher.start_epoch(e);
    for (std::int64_t b = 0; b < batcher.batches_per_epoch(); ++b, ++i) {
      const Batch batch = batcher.next(ctx);
      ASSERT_EQ(batch.inputs.device(), Device::cuda);
      ASSERT_EQ(batch.inputs.shape(), (Shape{64, 3, 32, 32}));
      ctx.synchronize();  // host reads of a device batch (Tensor::to copies on the legacy stream)
      ASSERT_EQ(batch.inputs.to_vector(), expected[i].inputs) << "epoch " << e << " batch " << b;
      ASSERT_EQ(labels_of(batch.labels), expected[i].labels) << "epoch " << e << " batch " << b;
    }
  }
}

// The main stream is made slow (large memsets before each use), so any copy that overwrote a slot before the
// main stream had read it, or any gather into a pinned slot still being copied, would corrupt the collected
// batches. The host never synchronizes inside the loop. Checks next() and next_into().
TEST(CudaBatcher, PipelineIsCorrectUnderASlowConsumer) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t batch_size = 64, batches = 40;
  const Dataset data = small_images(batch_size * batches + 17, 21);
  const std::vector<HostBatch> expected = cpu_batches(data, batch_size, 6, 1);
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(batches));
  Context& ctx = Context::cuda();
  const std::int64_t pixels = 3 * 32 * 32;
  Tensor delay = Tensor::empty({std::int64_t{256} << 20}, DType::f32, Device::cuda);  // 1 GiB: ~0.5 ms a memset
  Tensor collected = Tensor::empty({batches, batch_size, 3, 32, 32}, DType::f32, Device::cuda);
  Tensor collected_labels = Tensor::empty({batches, batch_size}, DType::i32, Device::cuda);
  Tensor step_inputs = Tensor::empty({batch_size, 3, 32, 32}, DType::f32, Device::cuda);
  Tensor step_labels = Tensor::empty({batch_size}, DType::i32, Device::cuda);
  for (const bool into : {false, true}) {
    Batcher batcher(data, batch_size, Device::cuda, true, 6);
    batcher.start_epoch(0);
    for (std::int64_t b = 0; b < batches; ++b) {
      Tensor inputs = step_inputs, labels = step_labels;
      if (into) {
        batcher.next_into(ctx, step_inputs, step_labels);
      } else {
        const Batch batch = batcher.next(ctx);
        inputs = batch.inputs;
        labels = batch.labels;
      }
      delay.zero(ctx.stream());
      collected.view(b * batch_size * pixels, {batch_size, 3, 32, 32}).copy_from(inputs, ctx.stream());
      collected_labels.view(b * batch_size, {batch_size}).copy_from(labels, ctx.stream());
    }
    ctx.synchronize();
    const std::vector<float> all = collected.to_vector();
    const Tensor all_labels = collected_labels.to(Device::cpu);
    for (std::int64_t b = 0; b < batches; ++b) {
      const std::vector<float> got(all.begin() + b * batch_size * pixels, all.begin() + (b + 1) * batch_size * pixels);
      ASSERT_EQ(got, expected[b].inputs) << (into ? "next_into" : "next") << " batch " << b;
      const std::int32_t* l = all_labels.data<std::int32_t>() + b * batch_size;
      ASSERT_EQ(std::vector<std::int32_t>(l, l + batch_size), expected[b].labels)
          << (into ? "next_into" : "next") << " batch " << b;
    }
  }
}

TEST(CudaBatcher, SteadyStateAllocatesNothing) {
  ROSETTA_REQUIRE_CUDA();
  const Dataset data = small_images(700, 3);
  Context& ctx = Context::cuda();
  Tensor inputs = Tensor::empty({64, 3, 32, 32}, DType::f32, Device::cuda);
  Tensor labels = Tensor::empty({64}, DType::i32, Device::cuda);
  Batcher batcher(data, 64, Device::cuda, true, 2);
  const std::uint64_t allocations = allocation_count();
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    batcher.start_epoch(epoch);
    for (std::int64_t b = 0; b < batcher.batches_per_epoch(); ++b) {
      if (b % 2 == 0) {
        batcher.next(ctx);
      } else {
        batcher.next_into(ctx, inputs, labels);
      }
    }
  }
  ctx.synchronize();
  EXPECT_EQ(allocation_count(), allocations);
}

TEST(CudaBatcher, RejectsAContextOfAnotherDevice) {
  ROSETTA_REQUIRE_CUDA();
  Batcher batcher(index_dataset(100), 10, Device::cuda, true, 0);
  batcher.start_epoch(0);
  EXPECT_THROW(batcher.next(Context::cpu()), Error);
  EXPECT_THROW(batcher.next_into(Context::cuda(), Tensor::empty({10, 3}, DType::i32), Tensor::empty({10}, DType::i32)),
               Error);
}

}  // namespace
}  // namespace rosetta
