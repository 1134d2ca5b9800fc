#include "bench/cli/training_loop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "bench/cli/profile_report.h"
#include "bench/cli/run_metrics.h"
#include "datasets/batcher.h"
#include "kernels/op_class.h"
#include "runtime/cuda_graph.h"
#include "runtime/interrupt.h"
#include "runtime/timer.h"

namespace rosetta::cli {
namespace {

constexpr int kCopies = static_cast<int>(kernels::OpClass::copies);

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

// Stops a diverged run: the first non-finite loss among those that reached the host since the last check is one
// line naming its step and the last finite loss, before anything (a checkpoint, the weights) can be saved.
class LossWatch {
 public:
  LossWatch(const Tensor& step_losses, std::int64_t first_step) : losses_(step_losses), first_step_(first_step) {}
  // Checks the losses of the steps before global step `step`; their copies must have completed.
  void check(std::int64_t step) {
    const float* l = losses_.data<float>();
    for (; checked_ < step - first_step_; ++checked_) {
      if (std::isfinite(l[checked_])) continue;
      std::ostringstream os;
      os << "training diverged: the loss at step " << first_step_ + checked_ + 1 << " is " << l[checked_];
      if (checked_ > 0) os << " (the last finite loss: " << l[checked_ - 1] << " at step " << first_step_ + checked_ << ")";
      os << "; nothing is saved from this run";
      throw Diverged(os.str());
    }
  }

 private:
  const Tensor& losses_;
  std::int64_t first_step_;
  std::int64_t checked_ = 0;  // local steps checked
};

// "  epoch 1/10: step 120/781, 14.2 s": within a long epoch, without reading the device (no sync).
void print_progress_line(int epoch, int epochs, std::int64_t step_in_epoch, std::int64_t steps_per_epoch,
                         double epoch_seconds) {
  std::printf("  epoch %d/%d: step %lld/%lld, %.1f s\n", epoch + 1, epochs, static_cast<long long>(step_in_epoch),
              static_cast<long long>(steps_per_epoch), epoch_seconds);
  std::fflush(stdout);
}

}  // namespace

void run_timed_training(const Context& ctx, Batcher& batches, const LoopLength& length, bool use_graph,
                        const TrainingSteps& model, TrainingSummary& summary) {
  // Eager steps before the capture let cuBLAS and cuDNN finish their lazy initialisation outside it.
  constexpr std::int64_t kEagerStepsBeforeCapture = 2;
  const Device device = ctx.device();
  const std::int64_t per_epoch = batches.batches_per_epoch();
  summary.steps_per_epoch = per_epoch;
  summary.first_step = length.first_step;
  const std::int64_t all_steps = per_epoch * length.epochs;
  const std::int64_t last_step = length.max_steps >= 0 ? std::min(length.max_steps, all_steps) : all_steps;
  ROSETTA_CHECK(length.first_step < last_step, "training from step " << length.first_step << " to " << last_step);
  const std::int64_t run_steps = last_step - length.first_step;  // this run's steps; local index = step - first
  summary.step_losses = Tensor::empty({run_steps}, DType::f32, Device::cpu, device == Device::cuda);  // (run_steps,)
  LossWatch watch(summary.step_losses, length.first_step);
  // One captured step per batcher slot, each reading its slot's tensors: a replay needs no copy of the batch.
  CudaGraph graphs[2];
  const std::vector<std::int64_t> window_bounds = plan_windows(per_epoch, run_steps).boundaries();  // local steps
  Timeline windows(ctx, static_cast<int>(window_bounds.size()));
  const auto mark_window_bound = [&](std::int64_t local) {
    if (windows.marks() < static_cast<int>(window_bounds.size()) && local == window_bounds[windows.marks()]) windows.mark();
  };

  // --profile: the last kProfileSteps local steps, never the first (lazy library initialisation) unless it is alone.
  const std::int64_t profile_from = std::max<std::int64_t>(std::min<std::int64_t>(1, run_steps - 1),
                                                           run_steps - kProfileSteps);
  DeviceUsage usage(device);
  bool measuring = false;  // the steady region's energy: from the first epoch's end
  SteadyTimer total;
  model.setup();
  summary.setup_seconds = total.elapsed_s();
  std::int64_t step = length.first_step;  // global: the next step to take
  bool first_epoch = true;
  while (step < last_step && !summary.interrupted) {
    const std::int64_t epoch = step / per_epoch, local_first = step - length.first_step;
    SteadyTimer epoch_timer;
    double last_line = 0.0;  // the epoch timer's reading at the last line printed
    const std::int64_t epoch_end = std::min(last_step, (epoch + 1) * per_epoch);
    batches.start_epoch(epoch, step % per_epoch);
    while (step < epoch_end) {
      const std::int64_t local = step - length.first_step;
      mark_window_bound(local);
      const double elapsed = epoch_timer.elapsed_s();
      if (elapsed - last_line >= kProgressSeconds) {
        print_progress_line(int(epoch), length.epochs, step % per_epoch, per_epoch, elapsed);
        last_line = elapsed;
      }
      const bool profiled = model.profiler != nullptr && local >= profile_from;
      std::optional<ProfilerAttachment> attached;  // none: every region below is one pointer test
      if (profiled) {
        attached.emplace(*model.profiler);
        model.profiler->begin_step();
      }
      const Batch batch = [&] {
        const ProfilePass data(ctx, "data");
        const ProfileRegion feed(ctx, "batch_feed", kCopies);
        return batches.next(ctx);
      }();
      if (use_graph && !profiled && local >= kEagerStepsBeforeCapture) {
        CudaGraph& graph = graphs[batch.slot];
        if (!graph.captured()) graph.capture(ctx, [&] { model.step(batch.inputs, batch.labels); });
        graph.launch(ctx);
      } else {
        model.step(batch.inputs, batch.labels);
      }
      {
        const ProfilePass data(ctx, "data");
        const ProfileRegion copy(ctx, "loss_to_host", kCopies);
        summary.step_losses.view(local, {1}).copy_from(model.loss(), ctx.stream());
      }
      if (profiled) model.profiler->end_step();
      attached.reset();
      ++step;
      // Losses reach the host without a sync: read them where the host waits anyway (the CPU: every step).
      if (device == Device::cpu) watch.check(step);
      const bool checkpoint_due = model.checkpoint_every > 0 && step % model.checkpoint_every == 0;
      // Every rank stops at the same step (a rank that stopped alone would leave the others in an all-reduce).
      const bool interrupted = model.any_rank ? model.any_rank(interrupt_signal() != 0) : interrupt_signal() != 0;
      if (checkpoint_due || interrupted) {
        ctx.synchronize();
        watch.check(step);
      }
      if (checkpoint_due && model.checkpoint) model.checkpoint(step);
      if (interrupted) {
        summary.interrupted = true;
        break;
      }
    }
    ctx.synchronize();
    watch.check(step);
    if (first_epoch && step - length.first_step == per_epoch && step < last_step) {
      usage.start();
      measuring = true;
    }
    summary.epoch_seconds.push_back(epoch_timer.elapsed_s() + (first_epoch ? summary.setup_seconds : 0.0));
    print_epoch_line(int(epoch), length.epochs, summary.step_losses, local_first, step - length.first_step,
                     batches.global_batch_size(), summary.epoch_seconds.back(), total.elapsed_s());
    first_epoch = false;
  }
  if (model.profiler != nullptr) model.profiler->finish();
  const std::int64_t done = step - length.first_step;
  mark_window_bound(done);
  if (measuring) {
    usage.stop();
    summary.energy_joules_per_epoch = usage.joules_per(double(done - per_epoch) / double(per_epoch));
  }
  summary.peak_memory_bytes = usage.peak_memory_bytes();
  summary.seconds_total = total.elapsed_s();
  summary.steps = done;
  if (summary.interrupted) {
    summary.why_no_steady = "the run was interrupted";
    return;
  }
  if (length.first_step % per_epoch != 0) {
    summary.why_no_steady = "a run resumed inside an epoch: its epochs do not align with the protocol's; time a "
                            "straight run";
    return;
  }
  summary.steady = training_steady_state(per_epoch, done, batches.global_batch_size(), summary.epoch_seconds,
                                         windows.intervals_s(), summary.why_no_steady);
}

double test_accuracy(const Dataset& test, std::int64_t batch, std::int64_t max_batches, const Context& ctx,
                     const EvaluateBatch& evaluate, bool time_major, const Communicator& communicator) {
  if (max_batches == 0 || test.size() < batch) return std::nan("");
  Batcher batches(test, batch, ctx.device(), /*shuffle=*/false, 0, time_major,
                  BatchShard{communicator.rank(), communicator.size()});
  const std::int64_t count =
      max_batches < 0 ? batches.batches_per_epoch() : std::min(max_batches, batches.batches_per_epoch());
  Tensor correct = Tensor::zeros({1}, DType::i32, ctx.device());
  batches.start_epoch(0);
  for (std::int64_t b = 0; b < count; ++b) {
    const Batch batch = batches.next(ctx);
    evaluate(batch.inputs, batch.labels, correct);
  }
  communicator.all_reduce_sum(ctx, {correct});
  ctx.synchronize();
  const std::int32_t right = correct.to(Device::cpu).data<std::int32_t>()[0];
  return double(right) / double(count * batch);
}

}  // namespace rosetta::cli
