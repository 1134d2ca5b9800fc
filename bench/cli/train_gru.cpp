#include "bench/cli/train_gru.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/cli/result_record.h"
#include "datasets/batcher.h"
#include "datasets/imdb.h"
#include "datasets/synthetic_text.h"
#include "layers/checkpoint.h"
#include "models/imdb_gru.h"

namespace rosetta::cli {
namespace {

DatasetSplits load_data(const TrainGruOptions& o) {
  if (!o.data_path.empty()) return read_imdb(o.data_path);
  SyntheticTextOptions synthetic;
  synthetic.train_examples = o.synthetic_train;
  synthetic.test_examples = o.synthetic_test;
  synthetic.min_length = o.synthetic_min_length;
  synthetic.signal_words = o.synthetic_signal_words;
  synthetic.seed = o.common.seed;
  return synthetic_text(synthetic);
}

GruOptions parse_gru_options(const TrainGruOptions& o, Device device) {
  GruOptions g;
  g.precision = parse_precision(o.common.precision, {Precision::fp32, Precision::tf32});
  ROSETTA_CHECK_ARG(kernels::gru_implementation_from_name(o.rnn, &g.implementation), "--rnn " << o.rnn << ": expected cudnn or naive");
  kernels::GruCudnnAlgorithm algorithm = kernels::GruCudnnAlgorithm::standard;
  ROSETTA_CHECK_ARG(o.rnn_algorithm == "auto" || kernels::gru_cudnn_algorithm_from_name(o.rnn_algorithm, &algorithm),
                    "--rnn-algo " << o.rnn_algorithm << ": expected auto, standard, persist_static, persist_dynamic or "
                                                        "persist_static_small_h");
  // auto with --autotune on leaves the algorithm empty: the GRU layer times every one cuDNN accepts at setup.
  if (o.rnn_algorithm != "auto" || !parse_on_off("--autotune", o.common.autotune)) g.algorithm = algorithm;
  ROSETTA_CHECK_ARG(sequence_layout_from_name(o.layout, &g.layout), "--layout " << o.layout << ": expected tnc or ntc");
  ROSETTA_CHECK_ARG(device == Device::cuda || o.rnn == "cudnn",
                    "--rnn " << o.rnn << " needs --device cuda (the CPU runs its reference GRU)");
  return g;
}

// The run header's algorithm: the one asked for, or how setup will choose it.
std::string algorithm_text(const GruOptions& g) {
  return g.algorithm ? kernels::gru_cudnn_algorithm_name(*g.algorithm) : "the fastest, timed at setup";
}

// "  cuDNN GRU algorithms timed at setup (forward + backward): standard 5.731 ms, ...; kept persist_static_small_h"
std::string trials_text(const kernels::GruPlan& plan) {
  std::string text = "  cuDNN GRU algorithms timed at setup (forward + backward):";
  char buffer[64];
  for (const kernels::GruAlgorithmTrial& t : plan.trials) {
    std::snprintf(buffer, sizeof buffer, " %.3f ms,", t.milliseconds);
    text += std::string(" ") + kernels::gru_cudnn_algorithm_name(t.algorithm) + (t.accepted ? buffer : " refused,");
  }
  text.back() = ';';
  return text + " kept " + kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
}

}  // namespace

void add_train_gru_command(CLI::App& train, TrainGruOptions& o) {
  CLI::App* cmd = train.add_subcommand("gru", "train the GRU sentiment model on IMDB (or its synthetic stand-in)");
  auto* data = cmd->add_option("--data", o.data_path, "Keras imdb.npz (or a token .npz written by --export-data)");
  cmd->add_option("--data-name", o.data_name, "the data's name in the record (default: imdb with --data)");
  cmd->add_flag("--synthetic", o.synthetic, "use the learnable synthetic IMDB-shaped set (the default without --data)")
      ->excludes(data);
  o.common.epochs = 3, o.common.batch = 64, o.common.lr = 1e-3f;
  add_training_flags(*cmd, o.common);
  cmd->add_option("--rnn", o.rnn, "cudnn (cuDNN's fused RNN) or naive (hand-built GRU: the ablation)")
      ->capture_default_str();
  cmd->add_option("--rnn-algo", o.rnn_algorithm,
                  "cuDNN RNN algorithm: auto (the fastest cuDNN accepts, timed at setup; standard with --autotune "
                  "off), standard, persist_static, persist_dynamic or persist_static_small_h")
      ->capture_default_str();
  cmd->add_option("--layout", o.layout, "tnc (time-major, cuDNN's native) or ntc (batch-first, transposed)")
      ->capture_default_str();
  cmd->add_option("--export-data", o.export_data_path, "write the preprocessed tokens as .npz (for the peers) and exit");
  cmd->add_option("--synthetic-train", o.synthetic_train, "synthetic training reviews")->capture_default_str();
  cmd->add_option("--synthetic-test", o.synthetic_test, "synthetic test reviews")->capture_default_str();
  cmd->add_option("--synthetic-min-length", o.synthetic_min_length,
                  "shortest synthetic review in tokens (longer reviews: less padding to remember across)")
      ->capture_default_str();
  cmd->add_option("--synthetic-signal-words", o.synthetic_signal_words,
                  "sentiment words per class in the synthetic set (fewer: each is seen more often, easier)")
      ->capture_default_str();
  cmd->callback([&o] { run_train_gru(o); });
}

void run_train_gru(const TrainGruOptions& o) {
  const TrainingFlags& c = o.common;
  const Device device = resolve_device(c.device);
  const GruOptions gru = parse_gru_options(o, device);
  const bool use_graph = parse_on_off("--graph", c.graph) && device == Device::cuda;
  ROSETTA_CHECK_ARG(c.batch > 0, "--batch must be positive, got " << c.batch);
  ROSETTA_CHECK_ARG(c.epochs > 0, "--epochs must be positive, got " << c.epochs);

  const DatasetSplits data = load_data(o);
  const std::string data_name = !o.data_name.empty() ? o.data_name : o.data_path.empty() ? "synthetic" : "imdb";
  if (!o.export_data_path.empty()) {
    write_imdb_tokens(data, o.export_data_path);
    std::printf("wrote %s tokens (%lld train, %lld test) to %s\n", data_name.c_str(), (long long)data.train.size(),
                (long long)data.test.size(), o.export_data_path.c_str());
    return;
  }

  Context& ctx = Context::of(device);
  ImdbGRU model(device);
  if (!c.init_path.empty()) {
    load_parameters(model.parameters(), c.init_path);
  } else {
    model.init_default(c.seed);
  }
  if (c.max_steps == 0) {
    if (!c.save_path.empty()) save_parameters(model.parameters(), c.save_path, {{"workload", "gru"}});
    std::printf("0 steps: saved the initial weights%s\n", c.save_path.empty() ? " nowhere (no --save)" : "");
    return;
  }
  const std::string gru_text = device == Device::cpu ? "the CPU reference GRU"
                               : o.rnn == "cudnn"     ? "cuDNN GRU (algorithm " + algorithm_text(gru) + ")"
                                                      : "hand-built GRU";
  print_run_header("gru", device, c.precision, data_name, c.batch,
                   gru_text + ", layout " + o.layout + ", CUDA graph " + on_off(use_graph));

  const bool time_major = gru.layout == SequenceLayout::tnc;
  ROSETTA_CHECK_ARG(data.train.size() >= c.batch,
                    "--batch " << c.batch << " exceeds the " << data.train.size() << " training examples");
  Batcher batches(data.train, c.batch, device, !c.no_shuffle, c.seed, time_major);
  ImdbGruOptions mo;
  mo.batch = c.batch, mo.steps = data.train.example_shape()[0], mo.lr = c.lr, mo.gru = gru;
  TrainingSummary summary;
  summary.workload = "gru", summary.device = device, summary.precision = c.precision, summary.batch = c.batch;
  summary.epochs = c.epochs, summary.data = data_name;
  run_timed_training(ctx, batches, c, use_graph,
                     {[&] { model.setup(ctx, mo); },
                      [&](const Tensor& tokens, const Tensor& labels) { model.step(ctx, tokens, labels); },
                      [&]() -> const Tensor& { return model.loss(); }},
                     summary);
  summary.test_accuracy = test_accuracy(
      data.test, c.batch, c.test_batches, ctx,
      [&](const Tensor& x, const Tensor& y, const Tensor& correct) { model.evaluate(ctx, x, y, correct); }, time_major);
  print_summary(summary);
  const kernels::GruPlan& plan = model.gru().plan();
  if (!plan.trials.empty()) std::printf("%s\n", trials_text(plan).c_str());
  nlohmann::json record = training_record(summary);
  record["graph"] = use_graph;
  record["rnn"] = o.rnn;
  if (plan.cudnn) {
    record["rnn_algorithm"] = kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
    record["rnn_algorithm_autotuned"] = !plan.trials.empty();
    nlohmann::json trials = nlohmann::json::array();
    for (const kernels::GruAlgorithmTrial& t : plan.trials)
      trials.push_back({{"algorithm", kernels::gru_cudnn_algorithm_name(t.algorithm)},
                        {"milliseconds", t.accepted ? nlohmann::json(t.milliseconds) : nlohmann::json(nullptr)},
                        {"refusal", t.accepted ? nlohmann::json(nullptr) : nlohmann::json(t.refusal)}});
    if (!plan.trials.empty()) record["rnn_algorithm_trials"] = trials;
  }
  record["layout"] = o.layout;
  record["mode"] = std::string(use_graph ? "graph" : "eager") + ", " + o.rnn + ", " + o.layout;
  record["lr"] = c.lr;
  if (!c.json_path.empty()) write_record(c.json_path, record);
  if (!c.log_steps_path.empty()) write_step_log(c.log_steps_path, summary.step_losses, summary.steps);
  if (!c.save_path.empty()) save_parameters(model.parameters(), c.save_path, {{"workload", "gru"}});
}

}  // namespace rosetta::cli
