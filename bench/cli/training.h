// The training skeleton shared by `rosetta train cnn` and `rosetta train gru`. A training command is its flags plus
// a TrainingWorkload: its data, its model, and what its run header and record add; run_training does the rest, in
// one order for every workload:
//   parse the shared flags and the workload's own; check every output path -> load the data (or export it for the
//   peers and stop) -> make the model on the device, from --init, --resume or its default initialisation (with
//   --max-steps 0: save those weights and stop) -> the header line -> the timed loop (training_loop.h), writing a
//   checkpoint every --checkpoint-every steps -> test accuracy -> summary, record, step log and final weights.
// Interrupted (SIGINT, SIGTERM) at a step's end, it writes the checkpoint (when asked for), the step log and the
// record marked "interrupted", and exits 128 + signal; a diverged loss stops it with nothing saved.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "layers/parameters.h"
#include "layers/training_checkpoint.h"
#include "runtime/communicator.h"
#include "runtime/context.h"

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
  std::string checkpoint_path, resume_path;  // a training checkpoint to write / to continue from
  std::int64_t checkpoint_every = 0;         // steps between checkpoints; 0: only the last step's
  std::string algo_cache_path;     // empty: the default cache file (algorithm_cache_file.h)
  std::int64_t train_examples = 0;  // > 0: only the first N training examples
  std::int64_t max_steps = -1;     // < 0: no limit; 0: save the initial weights and stop
  std::int64_t test_batches = -1;  // < 0: every complete test batch; 0: no test pass
  bool no_shuffle = false;
  bool profile = false;            // time the last steps op by op (profile_report.h)
  std::string comm = "auto";       // auto | nccl (bench/cli/distributed.h)
};

// Registers the shared flags with these defaults; `precisions`: the workload's --precision choices.
void add_training_flags(CLI::App& cmd, TrainingFlags& flags, const std::vector<std::string>& precisions);

// A workload's side of the skeleton, in the order run_training calls it.
class TrainingWorkload {
 public:
  virtual ~TrainingWorkload() = default;
  virtual const char* name() const = 0;  // "cnn": the header's and the record's workload
  // Parses the workload's own flags for `device` (InputError on a bad value), before any data is read.
  virtual void parse(Device device) = 0;
  // Checks the workload's own output paths (--export-data) before any work (arguments.h's check_output_*).
  virtual void check_outputs() const = 0;
  // The splits of --data, or the learnable synthetic set, and the name the record gives them.
  virtual DatasetSplits load_data() const = 0;
  virtual std::string data_name() const = 0;
  // With --export-data: writes `data` for the peers, says so, and returns true (the run ends there).
  virtual bool export_data(const DatasetSplits& data) const = 0;
  // The model on `device` and its parameters; init draws its default initial weights from `seed`.
  virtual void create_model(Device device) = 0;
  virtual ParameterSet& parameters() = 0;
  virtual void init(std::uint64_t seed) = 0;
  // The header's workload switches ("autotune on, CUDA graph on").
  virtual std::string switches(bool use_graph) const = 0;
  // Whether the run uses the cuDNN convolution algorithm cache's file.
  virtual bool uses_conv_algorithm_cache() const = 0;
  // Whether batches are time-major (T, B) (sequence models).
  virtual bool time_major() const = 0;
  // The options a resumed run must share, beyond checkpointing.h's common ones ("momentum", "layout", ...).
  virtual void add_checkpoint_options(CheckpointOptions& options) const = 0;
  // After setup: the state beyond the parameters that the next step depends on (the model's training_state()).
  virtual NamedTensors training_state() const = 0;
  // Choices setup made by timing that a resumed run must repeat to compute the same bits (the GRU's cuDNN
  // algorithm): written into a checkpoint's metadata after setup, and taken back before a resumed run's setup.
  virtual void add_checkpoint_choices(SafetensorsMetadata&) const {}
  virtual void resume_choices(const SafetensorsMetadata&) {}
  // The arithmetic of one training example (models/flops.h), for the record's achieved TFLOP/s.
  virtual double flops_per_example(const DatasetSplits& data) const = 0;
  // Inside the timed region: plans and buffers for the batch (cuDNN autotuning counts into the first epoch). batch:
  // this rank's rows of the global batch, which `communicator`'s ranks share.
  virtual void setup(const Context& ctx, std::int64_t batch, const DatasetSplits& data,
                     const Communicator& communicator) = 0;
  virtual void step(const Context& ctx, const Tensor& inputs, const Tensor& labels) = 0;
  virtual const Tensor& loss() const = 0;
  virtual void evaluate(const Context& ctx, const Tensor& inputs, const Tensor& labels, const Tensor& correct) = 0;
  // After the summary: extra lines (the GRU's algorithm trials) and the record's workload fields.
  virtual void report(nlohmann::json& record) const = 0;
};

void run_training(const TrainingFlags& flags, TrainingWorkload& workload);

}  // namespace rosetta::cli
