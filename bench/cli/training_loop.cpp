#include "bench/cli/training_loop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "datasets/batcher.h"
#include "runtime/cuda_graph.h"
#include "runtime/timer.h"

namespace rosetta::cli {
namespace {

double mean_loss(const Tensor& step_losses, std::int64_t first, std::int64_t last) {
  const float* l = step_losses.data<float>();
  double sum = 0;
  for (std::int64_t i = first; i < last; ++i) sum += l[i];
  return last > first ? sum / double(last - first) : 0.0;
}

// "epoch 1/10  loss 1.9321  12345 examples/s  4.2 s  (elapsed 4.2 s)"; losses [first, last) are in step_losses.
void print_epoch_line(int epoch, int epochs, const Tensor& step_losses, std::int64_t first, std::int64_t last,
                      std::int64_t batch, double epoch_seconds, double total_seconds) {
  std::printf("epoch %d/%d  loss %.4f  %.0f examples/s  %.3f s  (elapsed %.3f s)\n", epoch + 1, epochs,
              mean_loss(step_losses, first, last), double((last - first) * batch) / epoch_seconds, epoch_seconds,
              total_seconds);
  std::fflush(stdout);
}

}  // namespace

void run_timed_training(const Context& ctx, Batcher& batches, const LoopLength& length, bool use_graph,
                        const TrainingSteps& model, TrainingSummary& summary) {
  // Eager steps before the capture let cuBLAS and cuDNN finish their lazy initialisation outside it.
  constexpr std::int64_t kEagerStepsBeforeCapture = 2;
  const Device device = ctx.device();
  summary.steps_per_epoch = batches.batches_per_epoch();
  const std::int64_t all_steps = summary.steps_per_epoch * length.epochs;
  const std::int64_t total_steps = length.max_steps >= 0 ? std::min(length.max_steps, all_steps) : all_steps;
  Tensor inputs = Tensor::empty(batches.input_shape(), batches.input_dtype(), device);  // the step's fixed batch
  Tensor labels = Tensor::empty({batches.batch_size()}, DType::i32, device);          // (B,)
  summary.step_losses = Tensor::empty({total_steps}, DType::f32, Device::cpu, device == Device::cuda);  // (steps,)
  CudaGraph graph;

  SteadyTimer total;
  model.setup();
  summary.setup_seconds = total.elapsed_s();
  std::int64_t step = 0;
  for (int epoch = 0; epoch < length.epochs && step < total_steps; ++epoch) {
    SteadyTimer epoch_timer;
    const std::int64_t first = step;
    batches.start_epoch(epoch);
    for (std::int64_t b = 0; b < summary.steps_per_epoch && step < total_steps; ++b, ++step) {
      batches.next_into(ctx, inputs, labels);
      if (use_graph && step >= kEagerStepsBeforeCapture) {
        if (!graph.captured()) graph.capture(ctx, [&] { model.step(inputs, labels); });
        graph.launch(ctx);
      } else {
        model.step(inputs, labels);
      }
      summary.step_losses.view(step, {1}).copy_from(model.loss(), ctx.stream());
    }
    ctx.synchronize();
    summary.epoch_seconds.push_back(epoch_timer.elapsed_s() + (epoch == 0 ? summary.setup_seconds : 0.0));
    print_epoch_line(epoch, length.epochs, summary.step_losses, first, step, batches.global_batch_size(),
                     summary.epoch_seconds.back(), total.elapsed_s());
  }
  summary.seconds_total = total.elapsed_s();
  summary.steps = step;
}

double test_accuracy(const Dataset& test, std::int64_t batch, std::int64_t max_batches, const Context& ctx,
                     const EvaluateBatch& evaluate, bool time_major, const Communicator& communicator) {
  if (max_batches == 0 || test.size() < batch) return std::nan("");
  Batcher batches(test, batch, ctx.device(), /*shuffle=*/false, 0, time_major,
                  BatchShard{communicator.rank(), communicator.size()});
  const std::int64_t count =
      max_batches < 0 ? batches.batches_per_epoch() : std::min(max_batches, batches.batches_per_epoch());
  Tensor inputs = Tensor::empty(batches.input_shape(), batches.input_dtype(), ctx.device());
  Tensor labels = Tensor::empty({batches.batch_size()}, DType::i32, ctx.device());
  Tensor correct = Tensor::zeros({1}, DType::i32, ctx.device());
  batches.start_epoch(0);
  for (std::int64_t b = 0; b < count; ++b) {
    batches.next_into(ctx, inputs, labels);
    evaluate(inputs, labels, correct);
  }
  communicator.all_reduce_sum(ctx, {correct});
  ctx.synchronize();
  const std::int32_t right = correct.to(Device::cpu).data<std::int32_t>()[0];
  return double(right) / double(count * batch);
}

}  // namespace rosetta::cli
