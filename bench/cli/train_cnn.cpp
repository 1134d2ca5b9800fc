#include "bench/cli/train_cnn.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "bench/cli/arguments.h"
#include "bench/cli/result_record.h"
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

  void parse(Device device) override {
    kernels::ConvOptions& conv = model_options_.conv;
    conv.precision = parse_precision(o_.common.precision, {Precision::fp32, Precision::tf32, Precision::bf16});
    conv.autotune = parse_on_off("--autotune", o_.common.autotune);
    model_options_.fuse = parse_on_off("--fuse", o_.fuse);
    ROSETTA_CHECK_ARG(relu_order_from_name(o_.relu_order, &model_options_.relu_order),
                      "--relu-order " << o_.relu_order << ": expected before-pool or after-pool");
    ROSETTA_CHECK_ARG(o_.layout == "auto" || layout_from_name(o_.layout, &conv.layout),
                      "--layout " << o_.layout << ": expected auto, nchw or nhwc");
    // auto: channels-last where cuDNN's tensor-core kernels run (bf16 always needs it; tf32 on a GPU, as ResNet-50
    // measured NHWC faster there), NCHW for strict FP32 and the CPU; the unfused step is NCHW only.
    if (o_.layout == "auto")
      conv.layout = model_options_.fuse && (conv.precision == Precision::bf16 ||
                                            (conv.precision == Precision::tf32 && device == Device::cuda))
                        ? Layout::nhwc
                        : Layout::nchw;
    if (o_.pad_channels == "auto") {
      model_options_.channel_multiple = conv.layout == Layout::nhwc ? 8 : 1;
    } else {
      char* end = nullptr;
      const long multiple = std::strtol(o_.pad_channels.c_str(), &end, 10);
      ROSETTA_CHECK_ARG(!o_.pad_channels.empty() && *end == '\0' && multiple >= 1 && multiple <= 64,
                        "--pad-channels " << o_.pad_channels << ": expected auto or a multiple from 1 to 64");
      model_options_.channel_multiple = multiple;
    }
    if (const std::optional<OptionRule> rule = model_options_.broken_rule())
      ROSETTA_INPUT_ERROR("--" << rule->option << " " << rule->value << " needs --" << rule->required << " "
                               << rule->required_value);
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
    const CifarVggOptions& m = model_options_;
    return std::string("autotune ") + on_off(m.conv.autotune) + ", CUDA graph " + on_off(use_graph) + ", " +
           (m.fuse ? "fused" : "unfused") + ", ReLU " + relu_order_name(m.relu_order) + ", " +
           layout_name(m.conv.layout) + (m.channel_multiple > 1 ? ", channels padded to " + std::to_string(m.channel_multiple) : "");
  }
  bool uses_conv_algorithm_cache() const override { return true; }
  bool time_major() const override { return false; }
  double flops_per_example(const DatasetSplits&) const override { return cnn_training_flops_per_example(); }
  void add_checkpoint_options(CheckpointOptions& options) const override {
    char momentum[32];
    std::snprintf(momentum, sizeof momentum, "%.9g", o_.momentum);
    options["momentum"] = momentum;
    options["dropout"] = o_.no_dropout ? "off" : "on";
    // How the step runs changes which kernels sum in which order: a resumed run computes the same bits only in the
    // same mode.
    const CifarVggOptions& m = model_options_;
    options["fuse"] = on_off(m.fuse);
    options["relu_order"] = relu_order_name(m.relu_order);
    options["layout"] = layout_name(m.conv.layout);
    options["pad_channels"] = std::to_string(m.channel_multiple);
  }
  NamedTensors training_state() const override { return model_->training_state(); }

  void setup(const Context& ctx, std::int64_t batch, const DatasetSplits&, const Communicator& communicator) override {
    CifarVggOptions mo = model_options_;
    mo.batch = batch, mo.lr = o_.common.lr, mo.momentum = o_.momentum, mo.dropout = !o_.no_dropout;
    mo.seed = o_.common.seed, mo.communicator = &communicator;
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
    const CifarVggOptions& m = model_options_;
    record["autotune"] = m.conv.autotune;
    record["mode"] = std::string(record["graph"].get<bool>() ? "graph" : "eager") + (m.conv.autotune ? "" : ", heuristics") +
                     (m.fuse ? ", fused" : ", unfused") + ", relu " + relu_order_name(m.relu_order) + ", " +
                     layout_name(m.conv.layout) + (m.channel_multiple > 1 ? ", pad " + std::to_string(m.channel_multiple) : "");
    record["momentum"] = o_.momentum;
    record["dropout"] = !o_.no_dropout;
    record["fuse"] = m.fuse;
    record["relu_order"] = relu_order_name(m.relu_order);
    record["layout"] = layout_name(m.conv.layout);
    record["pad_channels"] = m.channel_multiple;
    // Each convolution's backend and algorithm per pass, and whether its bias (+ ReLU) epilogue ran inside the
    // forward's call (the rest: the convolution, then the epilogue kernel).
    nlohmann::json convolutions = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) {
      const kernels::ConvPlan& plan = model_->conv_plan(i);
      const bool relu = i % 2 == 0 || m.relu_order == ReluOrder::before_pool;
      convolutions.push_back(convolution_record("conv" + std::to_string(i + 1), plan,
                                                m.fuse && kernels::conv_epilogue_fused(plan, relu)));
    }
    record["convolutions"] = convolutions;
  }

 private:
  const TrainCnnOptions& o_;
  CifarVggOptions model_options_;
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
  add_training_flags(*cmd, o.common, {"fp32", "tf32", "bf16"});
  const CLI::IsMember on_off_choice(std::vector<std::string>{"on", "off"});
  cmd->add_option("--fuse", o.fuse,
                   "on: the fused step (bias + ReLU in each convolution, pooling + ReLU + dropout in one kernel and its "
                   "gradient with the bias gradient in one, the linear layers' epilogues); off: one kernel per layer "
                   "(fp32/tf32, NCHW)")
      ->capture_default_str()
      ->check(on_off_choice);
  cmd->add_option("--relu-order", o.relu_order,
                  "before-pool: each ReLU that meets a max pool runs before it, inside the convolution's epilogue; "
                  "after-pool: the seed's order (the same model: max and ReLU commute)")
      ->capture_default_str()
      ->check(CLI::IsMember({"before-pool", "after-pool"}));
  cmd->add_option("--layout", o.layout,
                  "memory layout of the activations: nchw, nhwc (channels-last; needs --fuse on), or auto (nhwc for "
                  "bf16, and for tf32 on a GPU; else nchw)")
      ->capture_default_str();
  cmd->add_option("--pad-channels", o.pad_channels,
                  "round every channel count up to this multiple in the device layout (8: 3 -> 8, 50 -> 56, 100 -> "
                  "104, the tensor-core widths; needs --layout nhwc), or auto (8 in nhwc, else 1); parameters and "
                  "checkpoints keep PyTorch's shapes")
      ->capture_default_str();
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
