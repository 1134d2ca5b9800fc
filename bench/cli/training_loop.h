// The timed training loop of DESIGN.md, shared by every training command: the given epochs of complete batches (at
// most max_steps steps), shuffle and host-to-device feed included, the step captured in a CUDA graph after two
// eager steps when asked, one progress line per epoch; and the test accuracy over complete batches afterwards.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "runtime/communicator.h"
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {
class Batcher;
}

namespace rosetta::cli {

struct TrainingSummary {
  std::string workload;
  Device device = Device::cpu;
  std::string precision;
  std::int64_t batch = 0;
  int epochs = 0;
  std::string data;
  std::int64_t steps = 0;
  std::int64_t steps_per_epoch = 0;
  std::vector<double> epoch_seconds;  // the first includes setup (autotuning)
  double seconds_total = 0;
  double setup_seconds = 0;
  Tensor step_losses;  // (>= steps,) f32 on the CPU
  double test_accuracy = 0;
};

// The model's side of the loop. `step` reads the batch from the fixed tensors it is given, so it can be captured in
// a CUDA graph; `setup` runs inside the timing, so planning and cuDNN autotuning count into the first epoch, as the
// seed's cudnn.benchmark did.
struct TrainingSteps {
  std::function<void()> setup;
  std::function<void(const Tensor& inputs, const Tensor& labels)> step;
  std::function<const Tensor&()> loss;  // the last step's (1,) mean loss on the device
};

struct LoopLength {
  int epochs = 1;
  std::int64_t max_steps = -1;  // < 0: no limit
};

// Runs the loop and fills summary's steps, steps_per_epoch, epoch_seconds, seconds_total, setup_seconds and
// step_losses.
void run_timed_training(const Context& ctx, Batcher& batches, const LoopLength& length, bool use_graph,
                        const TrainingSteps& model, TrainingSummary& summary);

// Runs `evaluate(inputs, labels, correct)` over the first `max_batches` complete test batches (all when < 0; file
// order) and returns the fraction correct, or NaN when no batch ran. `correct` is a (1,) i32 counter on the device
// that evaluate adds to. `time_major` as in Batcher: (T, B) token batches for sequence models. `batch` is the global
// batch: each of `communicator`'s ranks evaluates its share of every test batch, and the counts are summed.
using EvaluateBatch = std::function<void(const Tensor& inputs, const Tensor& labels, const Tensor& correct)>;
double test_accuracy(const Dataset& test, std::int64_t batch, std::int64_t max_batches, const Context& ctx,
                     const EvaluateBatch& evaluate, bool time_major = false,
                     const Communicator& communicator = Communicator::single_process());

}  // namespace rosetta::cli
