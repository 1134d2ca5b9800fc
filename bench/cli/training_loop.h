// The timed training loop of DESIGN.md, shared by every training command: the given epochs of complete batches (at
// most max_steps steps), shuffle and host-to-device feed included, the step captured in a CUDA graph after two
// eager steps when asked (one graph per batcher slot, each reading its slot's batch: no copy of a batch per step),
// one line per epoch and a progress line at least every kProgressSeconds within one; the steady-state windows
// (steady_state.h) marked on a Timeline; with a profiler, its last steps profiled (profile_report.h); and the test
// accuracy over complete batches afterwards.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/cli/steady_state.h"
#include "runtime/reading.h"
#include "datasets/dataset.h"
#include "runtime/communicator.h"
#include "runtime/context.h"
#include "runtime/error.h"
#include "runtime/profiler.h"
#include "runtime/tensor.h"

namespace rosetta {
class Batcher;
}

namespace rosetta::cli {

// A run whose loss became NaN or infinite: training stops, nothing is saved (the CLI: one line, exit code 1).
class Diverged : public Error {
 public:
  using Error::Error;
};

struct TrainingSummary {
  std::string workload;
  Device device = Device::cpu;
  std::string precision;
  std::int64_t batch = 0;
  int epochs = 0;
  std::string data;
  std::int64_t first_step = 0;  // global steps done before this run (a resumed run)
  std::int64_t steps = 0;       // steps this run took
  std::int64_t steps_per_epoch = 0;
  bool interrupted = false;     // stopped at a step's end by SIGINT or SIGTERM
  std::vector<double> epoch_seconds;   // the first includes setup (autotuning)
  std::optional<SteadyState> steady;   // the epochs after the first, or windows of them (steady_state.h)
  std::string why_no_steady;           // when !steady
  // Over the steady region (every step after the first epoch): energy per epoch, and peak device memory.
  Reading<double> energy_joules_per_epoch = Reading<double>::missing("no steady state");
  Reading<double> peak_memory_bytes = Reading<double>::missing("not measured");
  double seconds_total = 0;
  double setup_seconds = 0;
  Tensor step_losses;  // (>= steps,) f32 on the CPU: this run's steps, first_step + 1 onwards
  double flops_per_example = 0;  // models/flops.h
  double test_accuracy = 0;
};

// The model's side of the loop. `step` reads the batch from the fixed tensors it is given, so it can be captured in
// a CUDA graph; `setup` runs inside the timing, so planning and cuDNN autotuning count into the first epoch, as the
// seed's cudnn.benchmark did.
struct TrainingSteps {
  std::function<void()> setup;
  std::function<void(const Tensor& inputs, const Tensor& labels)> step;
  std::function<const Tensor&()> loss;  // the last step's (1,) mean loss on the device
  // Called with the global step count after every `checkpoint_every` steps (0: never), the device synchronised
  // and the losses so far checked finite.
  std::function<void(std::int64_t step)> checkpoint;
  std::int64_t checkpoint_every = 0;
  // Whether any rank of a data-parallel job says yes (between steps, on the host); empty for one process.
  std::function<bool(bool)> any_rank;
  // --profile: the last kProfileSteps steps (profile_report.h) run eagerly with this profiler attached, each step
  // (its batch feed, the step, its loss's copy to the host) one profiled unit.
  Profiler* profiler = nullptr;
};

struct LoopLength {
  int epochs = 1;
  std::int64_t max_steps = -1;   // < 0: no limit; counts global steps (a resumed run's included)
  std::int64_t first_step = 0;   // a resumed run's global step
};

// Longest wait between two lines of output while training.
inline constexpr double kProgressSeconds = 10.0;

// Runs the loop from global step length.first_step (epoch first_step / steps_per_epoch, inside it) and fills
// summary's first_step, steps, steps_per_epoch, epoch_seconds, steady, seconds_total, setup_seconds, step_losses and
// interrupted. Polls SIGINT/SIGTERM (runtime/interrupt.h) after each step: on one it synchronises, stops and
// returns with interrupted set. Throws Diverged at the first non-finite loss it reads (every step on the CPU; at
// the sync points it already has on a GPU: an epoch's end, a checkpoint, an interruption).
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
