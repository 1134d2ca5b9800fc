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
#include "runtime/cuda_graph.h"
#include "runtime/timer.h"

namespace rosetta::cli {
namespace {

// Steps run eagerly before the step is captured: the first one lets cuBLAS and cuDNN finish their lazy
// initialisation outside the capture.
constexpr std::int64_t kEagerStepsBeforeCapture = 2;

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
  print_run_header("cnn", device, c.precision, conv.autotune, use_graph, data_name, c.batch);

  Batcher batches(data.train, c.batch, device, !c.no_shuffle, c.seed);
  const std::int64_t steps_per_epoch = batches.batches_per_epoch();
  ROSETTA_CHECK_ARG(steps_per_epoch > 0, "the training set has fewer than --batch " << c.batch << " examples");
  const std::int64_t total_steps = c.max_steps > 0 ? std::min<std::int64_t>(c.max_steps, steps_per_epoch * c.epochs)
                                                   : steps_per_epoch * c.epochs;
  Tensor images = Tensor::empty({c.batch, CifarVGG::kChannels, CifarVGG::kSize, CifarVGG::kSize}, DType::f32, device);
  Tensor labels = Tensor::empty({c.batch}, DType::i32, device);
  Tensor step_losses = Tensor::empty({total_steps}, DType::f32, Device::cpu, device == Device::cuda);  // (steps,)
  AlgorithmCacheFile algo_cache(device, c.algo_cache_path);
  CudaGraph graph;

  // Timed from here: planning (cuDNN autotuning) counts into the first epoch, as the seed's cudnn.benchmark did.
  SteadyTimer total;
  CifarVggOptions mo;
  mo.batch = c.batch, mo.lr = c.lr, mo.momentum = o.momentum, mo.dropout = !o.no_dropout, mo.seed = c.seed,
  mo.conv = conv;
  model.setup(ctx, mo);
  const double setup_seconds = total.elapsed_s();

  std::vector<double> epoch_seconds;
  std::int64_t step = 0;
  for (int epoch = 0; epoch < c.epochs && step < total_steps; ++epoch) {
    SteadyTimer epoch_timer;
    const std::int64_t first = step;
    batches.start_epoch(epoch);
    for (std::int64_t b = 0; b < steps_per_epoch && step < total_steps; ++b, ++step) {
      batches.next_into(ctx, images, labels);
      if (use_graph && step >= kEagerStepsBeforeCapture) {
        if (!graph.captured()) graph.capture(ctx, [&] { model.step(ctx, images, labels); });
        graph.launch(ctx);
      } else {
        model.step(ctx, images, labels);
      }
      step_losses.view(step, {1}).copy_from(model.loss(), ctx.stream());
    }
    ctx.synchronize();
    epoch_seconds.push_back(epoch_timer.elapsed_s() + (epoch == 0 ? setup_seconds : 0.0));
    print_epoch_line(epoch, c.epochs, step_losses, first, step, c.batch, epoch_seconds.back(), total.elapsed_s());
  }
  const double seconds_total = total.elapsed_s();
  algo_cache.save();

  const double accuracy = test_accuracy(data.test, c.batch, c.test_batches, ctx, [&](const Tensor& x, const Tensor& y, const Tensor& correct) {
    model.evaluate(ctx, x, y, correct);
  });

  TrainingSummary summary{"cnn", device, c.precision, c.batch, c.epochs, step, steps_per_epoch, epoch_seconds, seconds_total,
                          setup_seconds, accuracy, step_losses, data_name};
  print_summary(summary);
  nlohmann::json record = training_record(summary);
  record["autotune"] = conv.autotune;
  record["graph"] = use_graph;
  record["mode"] = std::string(use_graph ? "graph" : "eager") + (conv.autotune ? "" : ", heuristics");
  record["lr"] = c.lr;
  record["momentum"] = o.momentum;
  record["dropout"] = !o.no_dropout;
  if (!c.json_path.empty()) write_record(c.json_path, record);
  if (!c.log_steps_path.empty()) write_step_log(c.log_steps_path, step_losses, step);
  if (!c.save_path.empty()) save_parameters(model.parameters(), c.save_path, {{"workload", "cnn"}});
}

}  // namespace rosetta::cli
