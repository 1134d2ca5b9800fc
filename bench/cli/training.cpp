#include "bench/cli/training.h"

#include <cstdio>
#include <optional>

#include "bench/cli/algorithm_cache_file.h"
#include "bench/cli/arguments.h"
#include "bench/cli/distributed.h"
#include "bench/cli/result_record.h"
#include "bench/cli/run_report.h"
#include "bench/cli/training_loop.h"
#include "datasets/batcher.h"
#include "layers/checkpoint.h"

namespace rosetta::cli {

void add_training_flags(CLI::App& cmd, TrainingFlags& f) {
  cmd.add_option("--device", f.device, "cpu or cuda (default: cuda when a device is present)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd.add_option("--epochs", f.epochs, "training epochs")->capture_default_str();
  cmd.add_option("--batch", f.batch, "batch size")->capture_default_str();
  cmd.add_option("--lr", f.lr, "learning rate")->capture_default_str();
  cmd.add_option("--seed", f.seed, "seed of initial weights, shuffles and dropout masks")->capture_default_str();
  cmd.add_option("--precision", f.precision, "fp32 (strict FP32) or tf32")->capture_default_str();
  cmd.add_option("--autotune", f.autotune,
                 "on: time cuDNN's algorithms per shape and keep the fastest (convolutions: cudnnFind; the GRU: its "
                 "RNN algorithms); off: cuDNN's heuristics (the GRU: its standard algorithm)")
      ->capture_default_str();
  cmd.add_option("--graph", f.graph, "on: capture the training step in a CUDA graph")->capture_default_str();
  cmd.add_option("--init", f.init_path, "start from these weights (safetensors, PyTorch names)");
  cmd.add_option("--save", f.save_path, "save the final weights here (safetensors)");
  cmd.add_option("--json", f.json_path, "write the result record (JSON) here");
  cmd.add_option("--log-steps", f.log_steps_path, "write one line per step: step loss");
  cmd.add_option("--max-steps", f.max_steps, "stop after this many steps (0: save the initial weights and stop)");
  cmd.add_flag("--no-shuffle", f.no_shuffle, "take batches in file order");
  cmd.add_option("--test-batches", f.test_batches, "test batches for the accuracy (default all; 0: no test pass)");
  cmd.add_option("--algo-cache", f.algo_cache_path, "cuDNN algorithm cache file (default ~/.cache/rosetta/...)");
  cmd.add_option("--comm", f.comm, "auto: MPI/NCCL under mpirun, else one process; nccl: NCCL even for one process")
      ->capture_default_str();
}

namespace {

void train(const TrainingFlags& c, TrainingWorkload& workload, const Communicator& comm, Device device) {
  const bool use_graph = parse_on_off("--graph", c.graph) && device == Device::cuda;
  ROSETTA_CHECK_ARG(c.batch > 0, "--batch must be positive, got " << c.batch);
  ROSETTA_CHECK_ARG(c.epochs > 0, "--epochs must be positive, got " << c.epochs);
  workload.parse(device);

  const DatasetSplits data = workload.load_data();
  if (workload.export_data(data)) return;

  Context& ctx = Context::of(device);
  workload.create_model(device);
  const SafetensorsMetadata metadata{{"workload", workload.name()}};
  if (!c.init_path.empty()) {
    load_parameters(workload.parameters(), c.init_path);
  } else {
    workload.init(c.seed);
  }
  if (c.max_steps == 0) {  // nothing to train: the initial weights are the result (how peers get rosetta's init)
    if (!c.save_path.empty() && comm.rank() == 0) save_parameters(workload.parameters(), c.save_path, metadata);
    std::printf("0 steps: saved the initial weights%s\n", c.save_path.empty() ? " nowhere (no --save)" : "");
    return;
  }
  const std::string data_name = workload.data_name();
  const BatchShard shard = batch_shard(comm, c.batch);
  const std::int64_t rows = c.batch / shard.count;  // this rank's share of each global batch
  const std::string job = job_description(comm, rows);
  print_run_header(workload.name(), device, c.precision, data_name, c.batch,
                   workload.switches(use_graph) + (job.empty() ? "" : ", " + job));

  ROSETTA_CHECK_ARG(data.train.size() >= c.batch,
                    "--batch " << c.batch << " exceeds the " << data.train.size() << " training examples");
  Batcher batches(data.train, c.batch, device, !c.no_shuffle, c.seed, workload.time_major(), shard);
  std::optional<AlgorithmCacheFile> algo_cache;
  if (workload.uses_conv_algorithm_cache()) algo_cache.emplace(ctx, c.algo_cache_path);
  TrainingSummary summary;
  summary.workload = workload.name(), summary.device = device, summary.precision = c.precision;
  summary.batch = c.batch, summary.epochs = c.epochs, summary.data = data_name;
  run_timed_training(ctx, batches, LoopLength{c.epochs, c.max_steps}, use_graph,
                     {[&] { workload.setup(ctx, rows, data, comm); },
                      [&](const Tensor& inputs, const Tensor& labels) { workload.step(ctx, inputs, labels); },
                      [&]() -> const Tensor& { return workload.loss(); }},
                     summary);
  if (algo_cache) algo_cache->save();
  summary.test_accuracy = test_accuracy(
      data.test, c.batch, c.test_batches, ctx,
      [&](const Tensor& x, const Tensor& y, const Tensor& correct) { workload.evaluate(ctx, x, y, correct); },
      workload.time_major(), comm);
  check_replicas_agree(comm, workload.parameters());
  print_summary(summary);
  nlohmann::json record = training_record(summary);
  record["graph"] = use_graph;
  record["lr"] = c.lr;
  record["ranks"] = comm.size();
  record["communicator"] = comm.engine();
  workload.report(record);
  if (comm.rank() != 0) return;  // rank 0 alone writes
  if (!c.json_path.empty()) write_record(c.json_path, record);
  if (!c.log_steps_path.empty()) write_step_log(c.log_steps_path, summary.step_losses, summary.steps);
  if (!c.save_path.empty()) save_parameters(workload.parameters(), c.save_path, metadata);
}

}  // namespace

void run_training(const TrainingFlags& c, TrainingWorkload& workload) {
  run_as_job(c.comm, c.device, [&](const Communicator& comm, Device device) { train(c, workload, comm, device); });
}

}  // namespace rosetta::cli
