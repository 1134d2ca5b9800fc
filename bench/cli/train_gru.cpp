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

// "cudnn/persist_static_small_h", "persistent": a candidate's or a plan's choice.
std::string choice_name(kernels::GruImplementation implementation, kernels::GruCudnnAlgorithm algorithm) {
  std::string text = kernels::gru_implementation_name(implementation);
  if (implementation == kernels::GruImplementation::cudnn) text += std::string("/") + kernels::gru_cudnn_algorithm_name(algorithm);
  return text;
}
std::string choice_name(const kernels::GruPlan& plan) {
  return choice_name(plan.options.implementation, plan.options.algorithm.value_or(kernels::GruCudnnAlgorithm::standard));
}

// "  GRU candidates timed at setup (forward + backward): cudnn/standard 5.731 ms, ...; kept persistent"
std::string trials_text(const kernels::GruPlan& plan) {
  std::string text = "  GRU candidates timed at setup (forward + backward, median of 5):";
  char buffer[64];
  for (const kernels::GruAlgorithmTrial& t : plan.trials) {
    std::snprintf(buffer, sizeof buffer, " %.3f ms,", t.milliseconds);
    text += " " + choice_name(t.implementation, t.algorithm) + (t.accepted ? buffer : " refused,");
  }
  text.back() = ';';
  return text + " kept " + choice_name(plan);
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

class GruWorkload : public TrainingWorkload {
 public:
  explicit GruWorkload(const TrainGruOptions& o) : o_(o) {}

  const char* name() const override { return "gru"; }

  void parse(Device device) override {
    GruOptions& g = gru_;
    g.precision = parse_precision(o_.common.precision, {Precision::fp32, Precision::tf32});
    ROSETTA_CHECK_ARG(kernels::gru_implementation_from_name(o_.rnn, &g.implementation),
                      "--rnn " << o_.rnn << ": expected auto, cudnn, persistent or naive");
    kernels::GruCudnnAlgorithm algorithm = kernels::GruCudnnAlgorithm::standard;
    ROSETTA_CHECK_ARG(o_.rnn_algorithm == "auto" || kernels::gru_cudnn_algorithm_from_name(o_.rnn_algorithm, &algorithm),
                      "--rnn-algo " << o_.rnn_algorithm
                                    << ": expected auto, standard, persist_static, persist_dynamic or "
                                       "persist_static_small_h");
    ROSETTA_CHECK_ARG(o_.rnn_algorithm == "auto" || g.implementation == kernels::GruImplementation::cudnn,
                      "--rnn-algo " << o_.rnn_algorithm << " needs --rnn cudnn (it names a cuDNN algorithm)");
    // --autotune off: cuDNN's standard algorithm, untimed (auto included: no timing means cuDNN's default).
    const bool autotune = parse_on_off("--autotune", o_.common.autotune);
    if (!autotune && g.implementation == kernels::GruImplementation::automatic)
      g.implementation = kernels::GruImplementation::cudnn;
    // A cudnn GRU with --rnn-algo auto and --autotune on leaves the algorithm empty: the plan times cuDNN's at setup.
    if (g.implementation == kernels::GruImplementation::cudnn && (o_.rnn_algorithm != "auto" || !autotune))
      g.algorithm = algorithm;
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
    using kernels::GruImplementation;
    std::string gru = "the CPU reference GRU";
    if (device_ == Device::cuda) {
      switch (gru_.implementation) {
        case GruImplementation::automatic: gru = "GRU: the fastest of cuDNN's and the persistent one"; break;
        case GruImplementation::cudnn:
          gru = std::string("cuDNN GRU (algorithm ") +
                (gru_.algorithm ? kernels::gru_cudnn_algorithm_name(*gru_.algorithm) : "the fastest") + ")";
          break;
        case GruImplementation::persistent: gru = "persistent GRU"; break;
        case GruImplementation::naive: gru = "hand-built GRU"; break;
      }
      if (!gru_.algorithm && gru_.implementation != GruImplementation::persistent &&
          gru_.implementation != GruImplementation::naive)
        gru += ", timed at setup or from the RNN algorithm cache";
    }
    return gru + ", layout " + o_.layout + ", CUDA graph " + on_off(use_graph);
  }
  bool uses_conv_algorithm_cache() const override { return false; }
  bool time_major() const override { return gru_.layout == SequenceLayout::tnc; }
  void add_checkpoint_options(CheckpointOptions& options) const override {
    options["rnn"] = o_.rnn;
    options["layout"] = o_.layout;
  }
  NamedTensors training_state() const override { return model_->training_state(); }
  // What a timed setup (or the cache) chose: a resumed run that leaves the choice open takes it instead of timing
  // again, so both halves run the same implementation and cuDNN algorithm (the same bits).
  void add_checkpoint_choices(SafetensorsMetadata& fields) const override {
    const kernels::GruPlan& plan = model_->gru().plan();
    if (plan.source == kernels::GruChoiceSource::given) return;
    fields["rnn_implementation"] = kernels::gru_implementation_name(plan.options.implementation);
    if (plan.options.algorithm) fields["rnn_algorithm"] = kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
  }
  void resume_choices(const SafetensorsMetadata& checkpoint) override {
    const auto implementation = checkpoint.find("rnn_implementation");
    const bool open = gru_.implementation == kernels::GruImplementation::automatic ||
                      (gru_.implementation == kernels::GruImplementation::cudnn && !gru_.algorithm);
    if (!open || implementation == checkpoint.end() || device_ != Device::cuda) return;
    kernels::GruImplementation chosen = kernels::GruImplementation::cudnn;
    ROSETTA_CHECK_ARG(kernels::gru_implementation_from_name(implementation->second, &chosen) &&
                          (chosen == kernels::GruImplementation::cudnn ||
                           (chosen == kernels::GruImplementation::persistent &&
                            gru_.implementation == kernels::GruImplementation::automatic)),
                      "the checkpoint's rnn_implementation " << printable_text(implementation->second)
                                                             << " is not one --rnn " << o_.rnn << " can choose");
    gru_.implementation = chosen;
    if (chosen != kernels::GruImplementation::cudnn) return;
    const auto algorithm = checkpoint.find("rnn_algorithm");
    kernels::GruCudnnAlgorithm cudnn = kernels::GruCudnnAlgorithm::standard;
    ROSETTA_CHECK_ARG(algorithm != checkpoint.end() && kernels::gru_cudnn_algorithm_from_name(algorithm->second, &cudnn),
                      "the checkpoint's rnn_algorithm "
                          << (algorithm == checkpoint.end() ? std::string("is missing") : printable_text(algorithm->second))
                          << " is not a cuDNN algorithm");
    gru_.algorithm = cudnn;
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
      std::printf("  GRU choice from the RNN algorithm cache: %s, nothing timed\n", choice_name(plan).c_str());
    record["rnn"] = o_.rnn;
    record["rnn_choice"] = kernels::gru_choice_source_name(plan.source);
    record["rnn_cache"] = cache_path_.empty() ? nlohmann::json(nullptr) : nlohmann::json(cache_path_);
    if (device_ == Device::cuda) record["rnn_implementation"] = kernels::gru_implementation_name(plan.options.implementation);
    if (!plan.trials.empty()) {
      nlohmann::json trials = nlohmann::json::array();
      for (const kernels::GruAlgorithmTrial& t : plan.trials)
        trials.push_back({{"implementation", kernels::gru_implementation_name(t.implementation)},
                          {"algorithm", t.implementation == kernels::GruImplementation::cudnn
                                            ? nlohmann::json(kernels::gru_cudnn_algorithm_name(t.algorithm))
                                            : nlohmann::json(nullptr)},
                          {"milliseconds", t.accepted ? nlohmann::json(t.milliseconds) : nlohmann::json(nullptr)},
                          {"refusal", t.accepted ? nlohmann::json(nullptr) : nlohmann::json(t.refusal)}});
      record["rnn_algorithm_trials"] = trials;
    }
    record["rnn_algorithm_autotuned"] = plan.source != kernels::GruChoiceSource::given;
    if (plan.uses_cudnn()) {
      // Whether the parameters are cuDNN's weight space (no copy a step), or why they are copied: never silent.
      const std::string weights = model_->gru().weight_space();
      std::printf("  cuDNN GRU weights: %s\n", weights.c_str());
      record["rnn_weights"] = weights;
      record["rnn_algorithm"] = kernels::gru_cudnn_algorithm_name(*plan.options.algorithm);
    }
    if (plan.persistent) {
      const kernels::GruPersistentLayout& l = *plan.persistent;
      const kernels::GruPersistentVariant& tile = kernels::kGruPersistentVariants[l.variant];
      std::printf("  persistent GRU: %d blocks of %d sequence(s), W_hh in %dx%d register tiles, %d forward and %d "
                  "backward threads a block\n",
                  l.blocks, l.sequences_per_block, tile.rows_per_thread, tile.columns_per_thread, l.forward_threads,
                  l.backward_threads);
      record["rnn_persistent"] = {{"blocks", l.blocks},
                                  {"sequences_per_block", l.sequences_per_block},
                                  {"tile", std::to_string(tile.rows_per_thread) + "x" +
                                               std::to_string(tile.columns_per_thread)},
                                  {"forward_threads", l.forward_threads},
                                  {"backward_threads", l.backward_threads}};
    }
    record["layout"] = o_.layout;
    const std::string ran = device_ == Device::cuda ? kernels::gru_implementation_name(plan.options.implementation)
                                                    : "cpu";
    record["mode"] = std::string(record["graph"].get<bool>() ? "graph" : "eager") + ", " + ran + ", " + o_.layout;
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
  cmd->add_option("--rnn", o.rnn,
                  "auto (the fastest of cuDNN's algorithms and the persistent GRU, timed at setup or taken from the "
                  "RNN algorithm cache; cuDNN's standard with --autotune off), cudnn (cuDNN's fused RNN), persistent "
                  "(rosetta's one-launch GRU, W_hh held in registers) or naive (hand-built per-step GRU: the "
                  "ablation); on the CPU auto and cudnn run its one GRU")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cudnn", "persistent", "naive"}));
  cmd->add_option("--rnn-algo", o.rnn_algorithm,
                  "with --rnn cudnn, cuDNN's RNN algorithm: auto (the fastest cuDNN accepts, timed at setup or from "
                  "the cache; standard with --autotune off), standard, persist_static, persist_dynamic or "
                  "persist_static_small_h")
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
