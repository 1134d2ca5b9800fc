#include "bench/cli/training.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "bench/cli/algorithm_cache_file.h"
#include "bench/cli/arguments.h"
#include "bench/cli/checkpointing.h"
#include "bench/cli/distributed.h"
#include "bench/cli/profile_report.h"
#include "bench/cli/result_record.h"
#include "bench/cli/run_report.h"
#include "bench/cli/training_loop.h"
#include "datasets/batcher.h"
#include "layers/checkpoint.h"
#include "layers/training_checkpoint.h"
#include "runtime/interrupt.h"

namespace rosetta::cli {
namespace {

// The ranges of the shared numeric flags: far beyond any real run, small enough that no product of them
// overflows or asks for unbounded memory before the data's own checks.
constexpr std::int64_t kMaxEpochs = 10000, kMaxBatch = 65536;
constexpr std::int64_t kMaxSteps = std::int64_t(1) << 40, kMaxExamples = std::int64_t(1) << 31;

// A finite loss can precede weights that the last update made non-finite: that too is a diverged run, stopped
// before anything is written.
void check_finite_weights(const ParameterSet& parameters, std::int64_t step) {
  for (int i = 0; i < parameters.size(); ++i)
    if (first_non_finite(parameters.value(i)) >= 0)
      throw Diverged("training diverged: " + parameters.name(i) + " holds a non-finite value after step " +
                     std::to_string(step) + "; nothing is saved from this run");
}

// How --profile's steps ran, for the output and the record.
ProfileMethod profile_method(Device device) {
  return {"step", device == Device::cuda
                      ? "the profiled steps ran eagerly, as a captured CUDA graph hides its kernels from the events"
                      : "CPU ops run to completion inside their region"};
}

}  // namespace

void add_training_flags(CLI::App& cmd, TrainingFlags& f, const std::vector<std::string>& precisions) {
  const CLI::IsMember on_off_choice(std::vector<std::string>{"on", "off"});
  cmd.add_option("--device", f.device, "cpu or cuda (default: cuda when a device is present)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd.add_option("--epochs", f.epochs, "training epochs")->capture_default_str()->check(integer_in(1, kMaxEpochs));
  cmd.add_option("--batch", f.batch, "batch size")->capture_default_str()->check(integer_in(1, kMaxBatch));
  // 0 is allowed: no updates (the data-parallel test compares examples and masks with frozen weights).
  cmd.add_option("--lr", f.lr, "learning rate")->capture_default_str()->check(finite_in(0, 10));
  cmd.add_option("--seed", f.seed, "seed of initial weights, shuffles and dropout masks")
      ->capture_default_str()
      ->check(integer_in(0, std::numeric_limits<std::int64_t>::max()));
  const bool bf16 = std::find(precisions.begin(), precisions.end(), "bf16") != precisions.end();
  cmd.add_option("--precision", f.precision,
                 bf16 ? "fp32 (strict FP32), tf32, or bf16 (mixed precision as PyTorch's autocast: bf16 activations "
                        "and weight copies, float weights, optimizer and loss)"
                      : "fp32 (strict FP32) or tf32")
      ->capture_default_str()
      ->check(CLI::IsMember(precisions));
  cmd.add_option("--autotune", f.autotune,
                 "on: time cuDNN's algorithms per shape and keep the fastest (convolutions: cudnnFind; the GRU: its "
                 "RNN algorithms); off: cuDNN's heuristics (the GRU: its standard algorithm)")
      ->capture_default_str()
      ->check(on_off_choice);
  cmd.add_option("--graph", f.graph, "on: capture the training step in a CUDA graph")
      ->capture_default_str()
      ->check(on_off_choice);
  auto* init = cmd.add_option("--init", f.init_path, "start from these weights (safetensors, PyTorch names)");
  auto* resume = cmd.add_option("--resume", f.resume_path,
                                "continue the run that wrote this checkpoint (--checkpoint): weights, optimizer "
                                "state, step and data position; the options that shape the computation must match");
  resume->excludes(init);
  cmd.add_option("--save", f.save_path, "save the final weights here (safetensors)");
  cmd.add_option("--checkpoint", f.checkpoint_path,
                 "write a training checkpoint here (atomically) every --checkpoint-every steps and at the run's last "
                 "step (its end, or an interruption)");
  cmd.add_option("--checkpoint-every", f.checkpoint_every, "steps between checkpoints (0: only the last step's)")
      ->capture_default_str()
      ->check(integer_in(0, kMaxSteps));
  cmd.add_option("--json", f.json_path, "write the result record (JSON) here");
  cmd.add_option("--log-steps", f.log_steps_path, "write one line per step: step loss");
  cmd.add_option("--max-steps", f.max_steps,
                 "stop at this global step (a resumed run's earlier steps count; 0: save the initial weights and stop)")
      ->check(integer_in(0, kMaxSteps));
  cmd.add_option("--train-examples", f.train_examples,
                 "train on the first N training examples only (a short run on the real data; default all)")
      ->check(integer_in(1, kMaxExamples));
  cmd.add_flag("--no-shuffle", f.no_shuffle, "take batches in file order");
  cmd.add_flag("--profile", f.profile,
               "time the run's last 20 steps op by op (eagerly on a GPU: CUDA events around each op) and print and "
               "record the breakdown by class, pass and op call");
  cmd.add_option("--test-batches", f.test_batches, "test batches for the accuracy (default all; 0: no test pass)")
      ->check(integer_in(0, kMaxSteps));
  cmd.add_option("--algo-cache", f.algo_cache_path, "cuDNN algorithm cache file (default ~/.cache/rosetta/...)");
  cmd.add_option("--comm", f.comm, "auto: MPI/NCCL under mpirun, else one process; nccl: NCCL even for one process")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "nccl"}));
}

namespace {

void train(const TrainingFlags& c, TrainingWorkload& workload, const Communicator& comm, Device device) {
  const bool use_graph = parse_on_off("--graph", c.graph) && device == Device::cuda;
  ROSETTA_CHECK_ARG(c.checkpoint_every == 0 || !c.checkpoint_path.empty(), "--checkpoint-every needs --checkpoint FILE");
  workload.parse(device);
  for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{"--save", c.save_path},
                                   {"--json", c.json_path},
                                   {"--log-steps", c.log_steps_path},
                                   {"--checkpoint", c.checkpoint_path}})
    check_output_path(flag, path);
  workload.check_outputs();

  DatasetSplits data = workload.load_data();
  if (workload.export_data(data)) return;
  if (c.train_examples > 0) {
    ROSETTA_CHECK_ARG(c.train_examples <= data.train.size(), "--train-examples " << c.train_examples << " exceeds the "
                                                                  << data.train.size() << " training examples");
    data.train = first_examples(data.train, c.train_examples);
  }
  ROSETTA_CHECK_ARG(data.train.size() >= c.batch,
                    "--batch " << c.batch << " exceeds the " << data.train.size() << " training examples");
  const CheckpointOptions checkpoint_must_match = checkpoint_options(c, workload, data.train);
  std::int64_t first_step = 0;
  SafetensorsMetadata resumed;  // the checkpoint's metadata, with --resume
  if (!c.resume_path.empty()) {
    resumed = read_training_checkpoint_header(c.resume_path, checkpoint_must_match, first_step);
    workload.resume_choices(resumed);
    const std::int64_t all_steps = data.train.size() / c.batch * c.epochs;
    const std::int64_t last_step = c.max_steps >= 0 ? std::min(c.max_steps, all_steps) : all_steps;
    ROSETTA_CHECK_ARG(first_step < last_step, "nothing to train: the run would start at step "
                                                  << first_step << " and end at step " << last_step
                                                  << " (raise --epochs or --max-steps to continue)");
  }

  Context& ctx = Context::of(device);
  workload.create_model(device);
  if (!c.resume_path.empty()) check_training_checkpoint_arena(resumed, c.resume_path, workload.parameters());
  const SafetensorsMetadata metadata{{"workload", workload.name()}};
  if (!c.init_path.empty()) {
    load_parameters(workload.parameters(), c.init_path);
  } else if (c.resume_path.empty()) {
    workload.init(c.seed);
  }
  if (c.max_steps == 0) {  // nothing to train: the initial weights are the result (how peers get rosetta's init)
    if (!c.save_path.empty() && comm.rank() == 0) save_parameters(workload.parameters(), c.save_path, metadata);
    std::printf("0 steps: saved the initial weights%s\n", c.save_path.empty() ? " nowhere (no --save)" : "");
    return;
  }
  const std::string data_name =
      workload.data_name() + (c.train_examples > 0 ? " (first " + std::to_string(c.train_examples) + ")" : "");
  const BatchShard shard = batch_shard(comm, c.batch);
  const std::int64_t rows = c.batch / shard.count;  // this rank's share of each global batch
  const std::string job = job_description(comm, rows);
  print_run_header(workload.name(), device, c.precision, data_name, c.batch,
                   workload.switches(use_graph) + (job.empty() ? "" : ", " + job));
  if (first_step > 0) std::printf("  resuming from %s at step %lld\n", c.resume_path.c_str(), (long long)first_step);

  Batcher batches(data.train, c.batch, device, !c.no_shuffle, c.seed, workload.time_major(), shard);
  std::optional<AlgorithmCacheFile> algo_cache;
  if (workload.uses_conv_algorithm_cache()) algo_cache.emplace(ctx, c.algo_cache_path);
  // Rank 0 alone writes; the replicas are bit-identical (check_replicas_agree), so its state is every rank's.
  const auto write_checkpoint = [&](std::int64_t step) {
    check_finite_weights(workload.parameters(), step);
    if (comm.rank() != 0) return;
    CheckpointOptions fields = checkpoint_must_match;
    workload.add_checkpoint_choices(fields);
    save_training_checkpoint(c.checkpoint_path, workload.parameters(), workload.training_state(), fields, step);
  };
  TrainingSummary summary;
  summary.workload = workload.name(), summary.device = device, summary.precision = c.precision;
  summary.batch = c.batch, summary.epochs = c.epochs, summary.data = data_name;
  summary.flops_per_example = workload.flops_per_example(data);
  TrainingSteps steps{[&] {
                        workload.setup(ctx, rows, data, comm);
                        if (!c.resume_path.empty())
                          load_training_checkpoint(c.resume_path, workload.parameters(), workload.training_state(),
                                                   checkpoint_must_match);
                      },
                      [&](const Tensor& inputs, const Tensor& labels) { workload.step(ctx, inputs, labels); },
                      [&]() -> const Tensor& { return workload.loss(); }, nullptr, c.checkpoint_every, nullptr};
  if (!c.checkpoint_path.empty()) steps.checkpoint = write_checkpoint;
  std::optional<Profiler> profiler;
  if (c.profile) steps.profiler = &profiler.emplace(ctx);
  if (comm.size() > 1) steps.any_rank = [&](bool mine) { return any_rank(comm, mine); };
  run_timed_training(ctx, batches, LoopLength{c.epochs, c.max_steps, first_step}, use_graph, steps, summary);
  if (algo_cache) algo_cache->save();

  const std::int64_t last_step = summary.first_step + summary.steps;
  check_finite_weights(workload.parameters(), last_step);  // before anything of this run is written
  if (!summary.interrupted) {
    summary.test_accuracy = test_accuracy(
        data.test, c.batch, c.test_batches, ctx,
        [&](const Tensor& x, const Tensor& y, const Tensor& correct) { workload.evaluate(ctx, x, y, correct); },
        workload.time_major(), comm);
    check_replicas_agree(comm, workload.parameters());
    print_summary(summary);
  }
  std::optional<nlohmann::json> profile;
  if (profiler && profiler->steps() > 0) {
    profile = profile_record(*profiler, profile_method(device));
    if (comm.rank() == 0) print_profile(*profile);
  }
  // The checkpoint of the last step (an interrupted or a finished run), unless the loop just wrote it.
  if (!c.checkpoint_path.empty() && (c.checkpoint_every == 0 || last_step % c.checkpoint_every != 0))
    write_checkpoint(last_step);
  if (comm.size() > 1)
    summary.energy_joules_per_epoch =
        Reading<double>::missing("a multi-rank job: each GPU meters itself, and rosetta does not sum them");
  nlohmann::json record = training_record(summary);
  record["graph"] = use_graph;
  record["lr"] = c.lr;
  record["ranks"] = comm.size();
  record["communicator"] = comm.engine();
  if (!c.resume_path.empty()) record["resumed_from_step"] = first_step;
  if (profile) record["profile"] = *profile;
  workload.report(record);
  if (comm.rank() == 0) {  // rank 0 alone writes
    if (!c.json_path.empty()) write_record(c.json_path, record);
    if (!c.log_steps_path.empty())
      write_step_log(c.log_steps_path, summary.step_losses, summary.first_step, summary.steps);
  }
  if (summary.interrupted) {
    const int signal = interrupt_signal() != 0 ? interrupt_signal() : SIGTERM;  // another rank's signal
    throw Interrupted(signal, "interrupted by " + signal_name(signal) + " after step " + std::to_string(last_step) +
                                  (c.checkpoint_path.empty() ? "" : "; checkpoint written to " + c.checkpoint_path) +
                                  "; continue with --resume");
  }
  if (!c.save_path.empty() && comm.rank() == 0) save_parameters(workload.parameters(), c.save_path, metadata);
}

}  // namespace

void run_training(const TrainingFlags& c, TrainingWorkload& workload) {
  run_as_job(c.comm, c.device, [&](const Communicator& comm, Device device) { train(c, workload, comm, device); });
}

}  // namespace rosetta::cli
