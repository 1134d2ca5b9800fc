#include "bench/cli/train_cnn.h"

#include <cstdio>
#include <memory>

#include "bench/cli/arguments.h"
#include "datasets/cifar10.h"
#include "datasets/synthetic.h"
#include "models/cifar_vgg.h"
#include "models/flops.h"

namespace rosetta::cli {
namespace {

class CnnWorkload : public TrainingWorkload {
 public:
  explicit CnnWorkload(const TrainCnnOptions& o) : o_(o) {}

  const char* name() const override { return "cnn"; }

  void parse(Device) override {
    conv_.precision = parse_precision(o_.common.precision, {Precision::fp32, Precision::tf32});
    conv_.autotune = parse_on_off("--autotune", o_.common.autotune);
  }

  void check_outputs() const override { check_output_folder("--export-data", o_.export_data_dir); }

  DatasetSplits load_data() const override {
    if (!o_.data_dir.empty()) return read_cifar10(o_.data_dir);
    SyntheticImagesOptions synthetic;
    synthetic.train_examples = o_.synthetic_train;
    synthetic.test_examples = o_.synthetic_test;
    synthetic.seed = o_.common.seed;
    synthetic.label_noise = o_.synthetic_label_noise;
    return synthetic_images(synthetic);
  }

  std::string data_name() const override {
    return !o_.data_name.empty() ? o_.data_name : o_.data_dir.empty() ? "synthetic" : "cifar10";
  }

  bool export_data(const DatasetSplits& data) const override {
    if (o_.export_data_dir.empty()) return false;
    write_cifar10(data, o_.export_data_dir);
    std::printf("wrote %s data (%lld train, %lld test) to %s\n", data_name().c_str(), (long long)data.train.size(),
                (long long)data.test.size(), o_.export_data_dir.c_str());
    return true;
  }

  void create_model(Device device) override { model_ = std::make_unique<CifarVGG>(device); }
  ParameterSet& parameters() override { return model_->parameters(); }
  void init(std::uint64_t seed) override { model_->init_glorot(seed); }

  std::string switches(bool use_graph) const override {
    return std::string("autotune ") + on_off(conv_.autotune) + ", CUDA graph " + on_off(use_graph);
  }
  bool uses_conv_algorithm_cache() const override { return true; }
  bool time_major() const override { return false; }
  double flops_per_example(const DatasetSplits&) const override { return cnn_training_flops_per_example(); }
  void add_checkpoint_options(CheckpointOptions& options) const override {
    char momentum[32];
    std::snprintf(momentum, sizeof momentum, "%.9g", o_.momentum);
    options["momentum"] = momentum;
    options["dropout"] = o_.no_dropout ? "off" : "on";
  }
  NamedTensors training_state() const override { return model_->training_state(); }

  void setup(const Context& ctx, std::int64_t batch, const DatasetSplits&, const Communicator& communicator) override {
    CifarVggOptions mo;
    mo.batch = batch, mo.lr = o_.common.lr, mo.momentum = o_.momentum, mo.dropout = !o_.no_dropout;
    mo.seed = o_.common.seed, mo.conv = conv_, mo.communicator = &communicator;
    model_->setup(ctx, mo);
  }
  void step(const Context& ctx, const Tensor& images, const Tensor& labels) override {
    model_->step(ctx, images, labels);
  }
  const Tensor& loss() const override { return model_->loss(); }
  void evaluate(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& correct) override {
    model_->evaluate(ctx, x, y, correct);
  }

  void report(nlohmann::json& record) const override {
    record["autotune"] = conv_.autotune;
    record["mode"] = std::string(record["graph"].get<bool>() ? "graph" : "eager") + (conv_.autotune ? "" : ", heuristics");
    record["momentum"] = o_.momentum;
    record["dropout"] = !o_.no_dropout;
  }

 private:
  const TrainCnnOptions& o_;
  kernels::ConvOptions conv_;
  std::unique_ptr<CifarVGG> model_;
};

}  // namespace

void add_train_cnn_command(CLI::App& train, TrainCnnOptions& o) {
  CLI::App* cmd = train.add_subcommand("cnn", "train the VGG-style CNN on CIFAR-10 (or its synthetic stand-in)");
  auto* data = cmd->add_option("--data", o.data_dir, "directory with CIFAR-10 binary files (data_batch_1.bin ...)");
  cmd->add_option("--data-name", o.data_name, "the data's name in the record (default: cifar10 with --data)");
  cmd->add_flag("--synthetic", o.synthetic, "use the learnable synthetic CIFAR-shaped set (the default without --data)")
      ->excludes(data);
  o.common.epochs = 10, o.common.batch = 64, o.common.lr = 0.01f;
  add_training_flags(*cmd, o.common, {"fp32", "tf32"});
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str()->check(finite_in(0, 1));
  cmd->add_flag("--no-dropout", o.no_dropout, "turn every dropout off (the equivalence runs)");
  cmd->add_option("--export-data", o.export_data_dir,
                  "write the data set in CIFAR-10 binary format to this directory (for the peers) and exit");
  // At most 500,000 synthetic images (1.5 GB of pixels, ten CIFAR-10s): bounded memory before any allocation.
  cmd->add_option("--synthetic-train", o.synthetic_train, "synthetic training examples")
      ->capture_default_str()
      ->check(integer_in(1, 500000));
  cmd->add_option("--synthetic-test", o.synthetic_test, "synthetic test examples")
      ->capture_default_str()
      ->check(integer_in(0, 500000));
  cmd->add_option("--synthetic-label-noise", o.synthetic_label_noise,
                  "fraction of synthetic labels redrawn at random (caps accuracy at 1 - 0.9 x this)")
      ->capture_default_str()
      ->check(finite_in(0, 1));
  cmd->callback([&o] { run_train_cnn(o); });
}

void run_train_cnn(const TrainCnnOptions& options) {
  CnnWorkload workload(options);
  run_training(options.common, workload);
}

}  // namespace rosetta::cli
