// What every `rosetta train` / `rosetta extract` command shares: the common flags, argument parsing with
// one-line errors (InputError -> exit 2), device resolution, the per-epoch progress line, test accuracy over
// complete batches, the summary, the JSON record and the --log-steps file.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {
class Batcher;
}

// A bad command-line value: one line, exit code 2.
#define ROSETTA_CHECK_ARG(cond, message) \
  do {                                   \
    if (!(cond)) ROSETTA_INPUT_ERROR(message); \
  } while (0)

namespace rosetta::cli {

struct TrainingFlags {
  std::string device;  // "cpu" | "cuda"; empty: cuda when present
  int epochs = 0;
  std::int64_t batch = 0;
  float lr = 0;
  std::uint64_t seed = 0;
  std::string precision = "fp32";
  std::string autotune = "on";
  std::string graph = "on";
  std::string init_path, save_path, json_path, log_steps_path;
  std::string algo_cache_path;  // empty: the default cache file (see AlgorithmCacheFile)
  std::int64_t max_steps = -1;  // < 0: no limit; 0: save the initial weights and stop
  std::int64_t test_batches = -1;  // < 0: every complete test batch; 0: no test pass
  bool no_shuffle = false;
};

// Registers the shared flags with these defaults.
void add_training_flags(CLI::App& cmd, TrainingFlags& flags);

Device resolve_device(const std::string& name);
Precision parse_precision(const std::string& name, std::initializer_list<Precision> allowed);
bool parse_on_off(const char* flag, const std::string& value);

// Loads the cuDNN algorithm cache for a CUDA run at construction and saves it on save() (creating its folder);
// nothing on the CPU, which has no algorithm search.
class AlgorithmCacheFile {
 public:
  AlgorithmCacheFile(const Context& ctx, const std::string& path);
  void save() const;

 private:
  const Context& ctx_;
  std::string path_;  // empty: not used
};

// "rosetta cnn on cuda: precision fp32, batch 64, data synthetic, <switches>" (switches: the workload's own,
// e.g. "autotune on, CUDA graph on"); on the CPU a second line says it is the reference path.
void print_run_header(const char* workload, Device device, const std::string& precision, const std::string& data,
                      std::int64_t batch, const std::string& switches);
inline const char* on_off(bool value) { return value ? "on" : "off"; }
// "epoch 1/10  loss 1.9321  12345 images/s  4.2 s (total 4.2 s)"; losses [first, last) are in step_losses.
void print_epoch_line(int epoch, int epochs, const Tensor& step_losses, std::int64_t first, std::int64_t last,
                      std::int64_t batch, double epoch_seconds, double total_seconds);

// Runs `evaluate(images, labels, correct)` over the first `max_batches` complete test batches (all when < 0;
// file order) and returns the fraction correct, or NaN when no batch ran. `correct` is a (1,) i32 counter on
// the device that evaluate adds to.
using EvaluateBatch = std::function<void(const Tensor& inputs, const Tensor& labels, const Tensor& correct)>;
// `time_major` as in Batcher: (T, B) token batches for sequence models.
double test_accuracy(const Dataset& test, std::int64_t batch, std::int64_t max_batches, const Context& ctx,
                     const EvaluateBatch& evaluate, bool time_major = false);

struct TrainingSummary {
  std::string workload;
  Device device;
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

// The model's side of the timed loop. `step` reads the batch from the fixed tensors it is given, so it can be
// captured in a CUDA graph; `setup` runs inside the timing, so planning and cuDNN autotuning count into the first
// epoch, as the seed's cudnn.benchmark did.
struct TrainingSteps {
  std::function<void()> setup;
  std::function<void(const Tensor& inputs, const Tensor& labels)> step;
  std::function<const Tensor&()> loss;  // the last step's (1,) mean loss on the device
};
// The timed loop of DESIGN.md: flags.epochs epochs of complete batches (at most flags.max_steps steps), shuffle
// and host-to-device feed included, the step captured in a CUDA graph after two eager steps when use_graph.
// Prints a line per epoch and fills summary's steps, steps_per_epoch, epoch_seconds, seconds_total,
// setup_seconds and step_losses.
void run_timed_training(const Context& ctx, Batcher& batches, const TrainingFlags& flags, bool use_graph,
                        const TrainingSteps& model, TrainingSummary& summary);
void print_summary(const TrainingSummary& s);
nlohmann::json training_record(const TrainingSummary& s);
// One line per step: "<step> <loss>" (1-based step, %.9g).
void write_step_log(const std::string& path, const Tensor& step_losses, std::int64_t steps);

}  // namespace rosetta::cli
