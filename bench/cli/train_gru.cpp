#include "bench/cli/train_gru.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "bench/cli/arguments.h"
#include "datasets/imdb.h"
#include "datasets/synthetic_text.h"
#include "kernels/gru_algorithm_cache.h"
#include "models/flops.h"
#include "models/imdb_gru.h"

namespace rosetta::cli {
namespace {

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

// The GRU algorithm cache's file: --rnn-cache, else rnn-algorithms.json in the folder of the convolution cache's
// default (bench/cli/algorithm_cache_file.h): $XDG_CACHE_HOME/rosetta, ~/.cache/rosetta, or the working folder.
std::string rnn_cache_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  for (const auto& [variable, folder] : {std::pair<const char*, const char*>{"XDG_CACHE_HOME", "/rosetta/"},
                                         {"HOME", "/.cache/rosetta/"}}) {
    const char* root = std::getenv(variable);
    if (root != nullptr && *root != '\0') return std::string(root) + folder + "rnn-algorithms.json";
  }
  return ".rosetta-rnn-algorithms.json";
}

// "cudnn persist_static_small_h": what a plan runs.
std::string choice_text(const kernels::GruPlan& plan) {
  std::string text = kernels::gru_implementation_name(plan.options.implementation);
  if (plan.options.algorithm) text += std::string(" ") + kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
  return text;
}

class GruWorkload : public TrainingWorkload {
 public:
  explicit GruWorkload(const TrainGruOptions& o) : o_(o) {}

  const char* name() const override { return "gru"; }

  void parse(Device device) override {
    GruOptions& g = gru_;
    g.precision = parse_precision(o_.common.precision, {Precision::fp32, Precision::tf32});
    ROSETTA_CHECK_ARG(kernels::gru_implementation_from_name(o_.rnn, &g.implementation),
                      "--rnn " << o_.rnn << ": expected cudnn or naive");
    kernels::GruCudnnAlgorithm algorithm = kernels::GruCudnnAlgorithm::standard;
    ROSETTA_CHECK_ARG(o_.rnn_algorithm == "auto" || kernels::gru_cudnn_algorithm_from_name(o_.rnn_algorithm, &algorithm),
                      "--rnn-algo " << o_.rnn_algorithm
                                    << ": expected auto, standard, persist_static, persist_dynamic or "
                                       "persist_static_small_h");
    // auto with --autotune on leaves the algorithm empty: the GRU's plan times every one cuDNN accepts at setup.
    if (o_.rnn_algorithm != "auto" || !parse_on_off("--autotune", o_.common.autotune)) g.algorithm = algorithm;
    ROSETTA_CHECK_ARG(sequence_layout_from_name(o_.layout, &g.layout), "--layout " << o_.layout << ": expected tnc or ntc");
    ImdbGruOptions model;
    model.gru = g;
    if (const std::optional<OptionRule> rule = model.broken_rule(device))
      ROSETTA_INPUT_ERROR("--" << rule->option << " " << rule->value << " needs --" << rule->required << " "
                               << rule->required_value << " (the CPU runs its one GRU)");
    device_ = device;
  }

  void check_outputs() const override { check_output_path("--export-data", o_.export_data_path); }

  DatasetSplits load_data() const override {
    if (!o_.data_path.empty()) return read_imdb(o_.data_path);
    SyntheticTextOptions synthetic;
    synthetic.train_examples = o_.synthetic_train;
    synthetic.test_examples = o_.synthetic_test;
    synthetic.min_length = o_.synthetic_min_length;
    synthetic.signal_words = o_.synthetic_signal_words;
    synthetic.seed = o_.common.seed;
    return synthetic_text(synthetic);
  }

  std::string data_name() const override {
    return !o_.data_name.empty() ? o_.data_name : o_.data_path.empty() ? "synthetic" : "imdb";
  }

  bool export_data(const DatasetSplits& data) const override {
    if (o_.export_data_path.empty()) return false;
    write_imdb_tokens(data, o_.export_data_path);
    std::printf("wrote %s tokens (%lld train, %lld test) to %s\n", data_name().c_str(), (long long)data.train.size(),
                (long long)data.test.size(), o_.export_data_path.c_str());
    return true;
  }

  void create_model(Device device) override { model_ = std::make_unique<ImdbGRU>(device); }
  ParameterSet& parameters() override { return model_->parameters(); }
  void init(std::uint64_t seed) override { model_->init_default(seed); }

  std::string switches(bool use_graph) const override {
    const std::string algorithm =
        gru_.algorithm ? kernels::gru_cudnn_algorithm_name(*gru_.algorithm) : "the fastest, timed at setup";
    const std::string gru = device_ == Device::cpu ? "the CPU reference GRU"
                            : o_.rnn == "cudnn"   ? "cuDNN GRU (algorithm " + algorithm + ")"
                                                  : "hand-built GRU";
    return gru + ", layout " + o_.layout + ", CUDA graph " + on_off(use_graph);
  }
  bool uses_conv_algorithm_cache() const override { return false; }
  bool time_major() const override { return gru_.layout == SequenceLayout::tnc; }
  void add_checkpoint_options(CheckpointOptions& options) const override {
    options["rnn"] = o_.rnn;
    options["layout"] = o_.layout;
  }
  NamedTensors training_state() const override { return model_->training_state(); }
  // The algorithm a timed setup chose: a resumed run with --rnn-algo auto takes it instead of timing again, so
  // both halves run the same cuDNN algorithm (the same bits).
  void add_checkpoint_choices(SafetensorsMetadata& fields) const override {
    const kernels::GruPlan& plan = model_->gru().plan();
    if (plan.uses_cudnn()) fields["rnn_algorithm"] = kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
  }
  void resume_choices(const SafetensorsMetadata& checkpoint) override {
    const auto chosen = checkpoint.find("rnn_algorithm");
    if (o_.rnn_algorithm != "auto" || chosen == checkpoint.end() || device_ != Device::cuda) return;
    kernels::GruCudnnAlgorithm algorithm = kernels::GruCudnnAlgorithm::standard;
    ROSETTA_CHECK_ARG(kernels::gru_cudnn_algorithm_from_name(chosen->second, &algorithm),
                      "the checkpoint's rnn_algorithm " << printable_text(chosen->second) << " is not a cuDNN algorithm");
    gru_.algorithm = algorithm;
  }
  double flops_per_example(const DatasetSplits& data) const override {
    return gru_training_flops_per_example(data.train.example_shape()[0]);
  }

  // Inside the timed region, as the search the cache replaces: the cache file is read before the plan and written
  // after it when the plan timed something new (a CUDA run only: the CPU has no search).
  void setup(const Context& ctx, std::int64_t batch, const DatasetSplits& data,
             const Communicator& communicator) override {
    kernels::GruAlgorithmCache& cache = kernels::gru_algorithm_cache();
    const bool use_cache = device_ == Device::cuda && !o_.no_rnn_cache;
    if (use_cache) {
      cache_path_ = rnn_cache_path(o_.rnn_cache_path);
      cache_load_ = cache.load(cache_path_);
    }
    ImdbGruOptions mo;
    mo.batch = batch, mo.steps = data.train.example_shape()[0], mo.lr = o_.common.lr, mo.gru = gru_;
    mo.communicator = &communicator;
    model_->setup(ctx, mo);
    if (use_cache && cache.unsaved() > 0 && communicator.rank() == 0) cache.save(cache_path_);
  }
  void step(const Context& ctx, const Tensor& tokens, const Tensor& labels) override {
    model_->step(ctx, tokens, labels);
  }
  const Tensor& loss() const override { return model_->loss(); }
  void evaluate(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& correct) override {
    model_->evaluate(ctx, x, y, correct);
  }

  void report(nlohmann::json& record) const override {
    const kernels::GruPlan& plan = model_->gru().plan();
    if (!cache_path_.empty())
      std::printf("  RNN algorithm cache %s: %s\n", cache_path_.c_str(),
                  cache_load_.note.empty() ? (std::to_string(cache_load_.entries) + " choices loaded").c_str()
                                           : cache_load_.note.c_str());
    if (!plan.trials.empty()) std::printf("%s\n", trials_text(plan).c_str());
    if (plan.source == kernels::GruChoiceSource::cache)
      std::printf("  GRU choice from the RNN algorithm cache: %s, nothing timed\n", choice_text(plan).c_str());
    record["rnn"] = o_.rnn;
    record["rnn_choice"] = kernels::gru_choice_source_name(plan.source);
    record["rnn_cache"] = cache_path_.empty() ? nlohmann::json(nullptr) : nlohmann::json(cache_path_);
    if (plan.uses_cudnn()) {
      // Whether the parameters are cuDNN's weight space (no copy a step), or why they are copied: never silent.
      const std::string weights = model_->gru().weight_space();
      std::printf("  cuDNN GRU weights: %s\n", weights.c_str());
      record["rnn_weights"] = weights;
      record["rnn_algorithm"] = kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
      record["rnn_algorithm_autotuned"] = plan.source != kernels::GruChoiceSource::given;
      nlohmann::json trials = nlohmann::json::array();
      for (const kernels::GruAlgorithmTrial& t : plan.trials)
        trials.push_back({{"algorithm", kernels::gru_cudnn_algorithm_name(t.algorithm)},
                          {"milliseconds", t.accepted ? nlohmann::json(t.milliseconds) : nlohmann::json(nullptr)},
                          {"refusal", t.accepted ? nlohmann::json(nullptr) : nlohmann::json(t.refusal)}});
      if (!plan.trials.empty()) record["rnn_algorithm_trials"] = trials;
    }
    record["layout"] = o_.layout;
    record["mode"] = std::string(record["graph"].get<bool>() ? "graph" : "eager") + ", " + o_.rnn + ", " + o_.layout;
  }

 private:
  const TrainGruOptions& o_;
  Device device_ = Device::cpu;
  GruOptions gru_;
  std::unique_ptr<ImdbGRU> model_;
  std::string cache_path_;  // empty: no cache file used
  kernels::GruCacheLoad cache_load_;
};

}  // namespace

void add_train_gru_command(CLI::App& train, TrainGruOptions& o) {
  CLI::App* cmd = train.add_subcommand("gru", "train the GRU sentiment model on IMDB (or its synthetic stand-in)");
  auto* data = cmd->add_option("--data", o.data_path, "Keras imdb.npz (or a token .npz written by --export-data)");
  cmd->add_option("--data-name", o.data_name, "the data's name in the record (default: imdb with --data)");
  cmd->add_flag("--synthetic", o.synthetic, "use the learnable synthetic IMDB-shaped set (the default without --data)")
      ->excludes(data);
  o.common.epochs = 3, o.common.batch = 64, o.common.lr = 1e-3f;
  add_training_flags(*cmd, o.common, {"fp32", "tf32"});
  cmd->add_option("--rnn", o.rnn, "cudnn (cuDNN's fused RNN) or naive (hand-built GRU: the ablation)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cudnn", "naive"}));
  cmd->add_option("--rnn-algo", o.rnn_algorithm,
                  "cuDNN RNN algorithm: auto (the fastest cuDNN accepts, timed at setup; standard with --autotune "
                  "off), standard, persist_static, persist_dynamic or persist_static_small_h")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "standard", "persist_static", "persist_dynamic", "persist_static_small_h"}));
  auto* cache = cmd->add_option("--rnn-cache", o.rnn_cache_path,
                                "the GRU algorithm cache file: the search's choice per GPU, cuDNN and shape, so a second "
                                "run times nothing (default: rnn-algorithms.json beside the convolution cache)");
  cmd->add_flag("--no-rnn-cache", o.no_rnn_cache, "neither read nor write the GRU algorithm cache file")->excludes(cache);
  cmd->add_option("--layout", o.layout, "tnc (time-major, cuDNN's native) or ntc (batch-first, transposed)")
      ->capture_default_str()
      ->check(CLI::IsMember({"tnc", "ntc"}));
  cmd->add_option("--export-data", o.export_data_path, "write the preprocessed tokens as .npz (for the peers) and exit");
  // At most 1,000,000 synthetic reviews of 150 tokens (600 MB of int32): bounded memory before any allocation.
  cmd->add_option("--synthetic-train", o.synthetic_train, "synthetic training reviews")
      ->capture_default_str()
      ->check(integer_in(1, 1000000));
  cmd->add_option("--synthetic-test", o.synthetic_test, "synthetic test reviews")
      ->capture_default_str()
      ->check(integer_in(0, 1000000));
  cmd->add_option("--synthetic-min-length", o.synthetic_min_length,
                  "shortest synthetic review in tokens (longer reviews: less padding to remember across)")
      ->capture_default_str()
      ->check(integer_in(8, kImdbMaxLength));
  cmd->add_option("--synthetic-signal-words", o.synthetic_signal_words,
                  "sentiment words per class in the synthetic set (fewer: each is seen more often, easier)")
      ->capture_default_str()
      ->check(integer_in(1, 7499));  // 4 x 7499 ids fit the 29,997 word ids above the reserved ones
  cmd->callback([&o] { run_train_gru(o); });
}

void run_train_gru(const TrainGruOptions& options) {
  GruWorkload workload(options);
  run_training(options.common, workload);
}

}  // namespace rosetta::cli
