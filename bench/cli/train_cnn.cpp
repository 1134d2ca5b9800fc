#include "bench/cli/train_cnn.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/cli/result_record.h"
#include "bench/cli/workload_common.h"
#include "datasets/batcher.h"
#include "datasets/cifar10.h"
#include "datasets/synthetic.h"
#include "layers/checkpoint.h"
#include "models/cifar_vgg.h"

namespace rosetta::cli {
namespace {

DatasetSplits load_data(const TrainCnnOptions& o) {
  if (!o.data_dir.empty()) return read_cifar10(o.data_dir);
  SyntheticImagesOptions synthetic;
  synthetic.train_examples = o.synthetic_train;
  synthetic.test_examples = o.synthetic_test;
  synthetic.seed = o.common.seed;
  synthetic.label_noise = o.synthetic_label_noise;
  return synthetic_images(synthetic);
}

}  // namespace

void add_train_cnn_command(CLI::App& train, TrainCnnOptions& o) {
  CLI::App* cmd = train.add_subcommand("cnn", "train the VGG-style CNN on CIFAR-10 (or its synthetic stand-in)");
  auto* data = cmd->add_option("--data", o.data_dir, "directory with CIFAR-10 binary files (data_batch_1.bin ...)");
  cmd->add_option("--data-name", o.data_name, "the data's name in the record (default: cifar10 with --data)");
  cmd->add_flag("--synthetic", o.synthetic, "use the learnable synthetic CIFAR-shaped set (the default without --data)")
      ->excludes(data);
  o.common.epochs = 10, o.common.batch = 64, o.common.lr = 0.01f;
  add_training_flags(*cmd, o.common);
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  cmd->add_flag("--no-dropout", o.no_dropout, "turn every dropout off (the equivalence runs)");
  cmd->add_option("--export-data", o.export_data_dir,
                  "write the data set in CIFAR-10 binary format to this directory (for the peers) and exit");
  cmd->add_option("--synthetic-train", o.synthetic_train, "synthetic training examples")->capture_default_str();
  cmd->add_option("--synthetic-test", o.synthetic_test, "synthetic test examples")->capture_default_str();
  cmd->add_option("--synthetic-label-noise", o.synthetic_label_noise,
                  "fraction of synthetic labels redrawn at random (caps accuracy at 1 - 0.9 x this)")
      ->capture_default_str();
  cmd->callback([&o] { run_train_cnn(o); });
}

void run_train_cnn(const TrainCnnOptions& options) {
  const TrainCnnOptions& o = options;
  const TrainingFlags& c = options.common;
  const Device device = resolve_device(c.device);
  kernels::ConvOptions conv;
  conv.precision = parse_precision(c.precision, {Precision::fp32, Precision::tf32});
  conv.autotune = parse_on_off("--autotune", c.autotune);
  const bool use_graph = parse_on_off("--graph", c.graph) && device == Device::cuda;
  ROSETTA_CHECK_ARG(c.batch > 0, "--batch must be positive, got " << c.batch);
  ROSETTA_CHECK_ARG(c.epochs > 0, "--epochs must be positive, got " << c.epochs);

  const DatasetSplits data = load_data(o);
  const std::string data_name = !o.data_name.empty() ? o.data_name : o.data_dir.empty() ? "synthetic" : "cifar10";
  if (!o.export_data_dir.empty()) {
    write_cifar10(data, o.export_data_dir);
    std::printf("wrote %s data (%lld train, %lld test) to %s\n", data_name.c_str(), (long long)data.train.size(),
                (long long)data.test.size(), o.export_data_dir.c_str());
    return;
  }

  Context& ctx = Context::of(device);
  CifarVGG model(device);
  if (!c.init_path.empty()) {
    load_parameters(model.parameters(), c.init_path);
  } else {
    model.init_glorot(c.seed);
  }
  if (c.max_steps == 0) {  // nothing to train: the initial weights are the result (how peers get rosetta's init)
    if (!c.save_path.empty()) save_parameters(model.parameters(), c.save_path, {{"workload", "cnn"}});
    std::printf("0 steps: saved the initial weights%s\n", c.save_path.empty() ? " nowhere (no --save)" : "");
    return;
  }
  print_run_header("cnn", device, c.precision, data_name, c.batch,
                   std::string("autotune ") + on_off(conv.autotune) + ", CUDA graph " + on_off(use_graph));

  ROSETTA_CHECK_ARG(data.train.size() >= c.batch,
                    "--batch " << c.batch << " exceeds the " << data.train.size() << " training examples");
  Batcher batches(data.train, c.batch, device, !c.no_shuffle, c.seed);
  AlgorithmCacheFile algo_cache(ctx, c.algo_cache_path);
  CifarVggOptions mo;
  mo.batch = c.batch, mo.lr = c.lr, mo.momentum = o.momentum, mo.dropout = !o.no_dropout, mo.seed = c.seed,
  mo.conv = conv;
  TrainingSummary summary;
  summary.workload = "cnn", summary.device = device, summary.precision = c.precision, summary.batch = c.batch;
  summary.epochs = c.epochs, summary.data = data_name;
  run_timed_training(ctx, batches, c, use_graph,
                     {[&] { model.setup(ctx, mo); },
                      [&](const Tensor& images, const Tensor& labels) { model.step(ctx, images, labels); },
                      [&]() -> const Tensor& { return model.loss(); }},
                     summary);
  algo_cache.save();
  summary.test_accuracy = test_accuracy(data.test, c.batch, c.test_batches, ctx,
                                        [&](const Tensor& x, const Tensor& y, const Tensor& correct) {
                                          model.evaluate(ctx, x, y, correct);
                                        });
  print_summary(summary);
  nlohmann::json record = training_record(summary);
  record["autotune"] = conv.autotune;
  record["graph"] = use_graph;
  record["mode"] = std::string(use_graph ? "graph" : "eager") + (conv.autotune ? "" : ", heuristics");
  record["lr"] = c.lr;
  record["momentum"] = o.momentum;
  record["dropout"] = !o.no_dropout;
  if (!c.json_path.empty()) write_record(c.json_path, record);
  if (!c.log_steps_path.empty()) write_step_log(c.log_steps_path, summary.step_losses, summary.steps);
  if (!c.save_path.empty()) save_parameters(model.parameters(), c.save_path, {{"workload", "cnn"}});
}

}  // namespace rosetta::cli
