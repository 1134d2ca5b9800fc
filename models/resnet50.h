// ResNet50: torchvision's resnet50 (V1.5: the stride sits on each bottleneck's 3x3 convolution) as a feature
// extractor, cut after the global average pool: images (B, 3, S, S) -> features (B, 2048). Inference only.
//   conv1 7x7/2 (3->64) bn1 relu  maxpool 3x3/2 pad 1
//   layer1..layer4: [3, 4, 6, 3] bottlenecks of width 64, 128, 256, 512 (output 4 x width); the first block of
//   layer2..4 has stride 2; the first block of every layer has downsample = 1x1 conv (stride as the block) + bn
//   bottleneck: relu(bn1(conv1 1x1)) -> relu(bn2(conv2 3x3, stride)) -> bn3(conv3 1x1) + identity -> relu
//   global average pool -> (B, 2048)
//
// Parameters carry torchvision's state_dict names ("conv1.weight", "bn1.running_var",
// "layer1.0.downsample.1.weight", ...), so torchvision's safetensors file (timm/resnet50.tv_in1k) loads as is; its
// fc.* head and num_batches_tracked counters are ignored. They live in one arena on the model's device, without
// a gradient arena; BatchNorm running statistics are parameters of that arena too.
//
// setup() builds what the forward runs, for one batch shape. With fold_bn (the default) every BatchNorm is folded
// into its convolution's weight and bias (layers/batchnorm2d.h), kept in a second ParameterSet under the
// convolutions' names ("conv1.weight", "conv1.bias", ...), and each convolution runs with its epilogue (bias, the
// residual add, the ReLU: kernels/conv.inc's conv2d_bias_activation_forward), declared to its plan, so the plan can
// time the backends that fuse it (cuDNN's graph API, cuBLASLt for the 1x1s) against legacy cuDNN (whose own call
// fuses it for float data) and keep the fastest per layer (ResNet50Options::backend forces one); without fold_bn
// each convolution is followed by its BatchNorm2d and the epilogue kernel (the ablation). Convolution plans are
// forward-only, autotuned through the algorithm cache. The parameters must be loaded before setup(): it snapshots
// them. forward() allocates nothing, creates nothing and never waits for the host, so it can be captured in a CUDA
// graph as is.
//
// Layout (ResNet50Options::layout): every activation is stored in it, the folded weights too ((K, R, S, C) in
// NHWC); images are always given NCHW (B, 3, S, S) and, in NHWC, converted once after the optional normalisation
// (which runs NCHW) into NHWC of the activations' type with the channels zero-padded to a tensor-core width
// (pad_stem: 8 bf16 or 4 float channels, 16 bytes; the stem's folded weight is zero there too, so the stem computes
// exactly the unpadded convolution). Precision bf16: the folded weights and biases are rounded to bf16 once at setup,
// the images after the transpose, and every activation is bf16 (float accumulation inside each op); the features
// are float either way. The forward is one templated body over the activation type; the CPU twin of each op computes in float
// on the bf16 values and rounds as the GPU does, so it is the reference the GPU's bf16 network is compared against.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/pool.h"
#include "layers/batchnorm2d.h"
#include "layers/parameters.h"
#include "models/option_rule.h"

namespace rosetta {

struct ResNet50Options {
  std::int64_t batch = 32;
  std::int64_t image_size = 224;
  Precision precision = Precision::fp32;  // fp32 or tf32 (the convolutions' math), or bf16 activations and weights
  bool autotune = true;                   // cudnnFind through the algorithm cache; false: cuDNN heuristics
  bool fold_bn = true;                    // BatchNorm folded into the convolutions at setup
  bool fuse = true;                       // the epilogue inside the convolution call where the plan can
  bool normalize = false;                 // (x - ImageNet mean) / ImageNet std per channel first
  Layout layout = Layout::nchw;           // of the activations and folded weights
  // The convolutions' backend (kernels/conv.h ConvBackend), forced where it accepts a layer (elsewhere legacy
  // cuDNN); empty: each layer's fastest, chosen by timing.
  std::optional<kernels::ConvBackend> backend;
  bool pad_stem = true;  // NHWC: the images' channels padded 3 -> 16 bytes' worth (no effect in NCHW); off: the ablation

  // The stem's input channels as stored: 3, or in NHWC with pad_stem the 16-byte width (8 bf16, 4 float).
  std::int64_t stem_channels() const;

  // The layout measured fastest for a precision on a device: NHWC for bf16 and, on a GPU with fold_bn, for tf32
  // (cuDNN's tensor-core kernels read channels-last: 1.75x NCHW on an H200); NCHW for strict FP32 (NHWC was 1.4x
  // slower there) and on the CPU.
  static Layout fastest_layout(Precision precision, Device device, bool fold_bn);
  // The first of the model's rules these options break, or none: bf16 needs the NHWC layout and folded batch norm
  // (cuDNN's bf16 tensor-core convolutions are NHWC; BatchNorm2d runs NCHW float), NHWC needs folded batch norm, the
  // forced cudnn-graph backend needs NHWC and tf32 or bf16 (where it runs: forcing it elsewhere would force
  // nothing).
  std::optional<OptionRule> broken_rule() const;
};

// One convolution (no bias) and the BatchNorm after it, with the epilogue the network needs there: a residual input
// added (`residual`: the block's last convolution) before an optional ReLU. Exposed for the tests.
class ConvBn {
 public:
  ConvBn(ParameterSet& params, const std::string& conv_name, const std::string& bn_name, std::int64_t in_channels,
         std::int64_t out_channels, int kernel, int stride, int pad, bool residual, bool relu);

  // Plans the convolution (forward-only) for an input of logical dimensions `input` (N, C, H, W) stored in
  // options.layout (C may exceed the unit's channels in NHWC: zero-padded channels), and allocates the output
  // (zeroed: a fused call without residual reads it, scaled by 0). With fold_bn the model then hands the unit its
  // folded weight and bias through use_folded().
  void setup(const Context& ctx, const Shape& input, const ResNet50Options& options);
  // y = act(bn(conv(x)) + residual), the residual given exactly when the unit was made with one, on activations of
  // type T (float or bf16).
  template <typename T>
  const Tensor& forward(const Context& ctx, const Tensor& x, const Tensor* residual);

  const Shape& output_shape() const { return y_.shape(); }  // as stored: (N, K, OH, OW) or (N, OH, OW, K)
  Shape output_dims() const;                                // (N, K, OH, OW) whatever the layout
  const kernels::ConvPlan& plan() const { return plan_; }
  const std::string& name() const { return params_.name(weight_); }  // "<conv name>.weight"
  // Whether the epilogue runs inside the convolution call (cuDNN's fused forward).
  bool fused() const { return fold_ && kernels::conv_epilogue_fused(plan_, relu_); }
  const Shape& weight_shape() const;  // (K, C, R, S)
  // The folded weight as stored: (K, C', R, S) or (K, R, S, C') in NHWC, C' the planned (maybe padded) channels.
  Shape stored_weight_shape() const;
  std::int64_t out_channels() const { return out_channels_; }
  // Writes the folded weight and bias into `weight` (K, C, R, S) and `bias` (K) (CPU) from the parameters.
  void fold_into(const Tensor& weight, const Tensor& bias) const;
  // Points the unit at its folded weight and bias (views on the context's device, in the activations' type, the
  // weight in the plan's layout).
  void use_folded(const Tensor& weight, const Tensor& bias) { folded_weight_ = weight, folded_bias_ = bias; }

 private:
  const ParameterSet& params_;
  std::int64_t in_channels_, out_channels_;
  int kernel_, stride_, pad_;
  bool residual_, relu_;
  int weight_;
  BatchNorm2d bn_;
  bool fold_ = true;
  kernels::ConvPlan plan_;
  Tensor folded_weight_;  // (K, C, R, S), or (K, R, S, C) in NHWC; bf16 in bf16
  Tensor folded_bias_;    // (K) float; bf16 in bf16
  Tensor y_;              // (N, K, OH, OW), or (N, OH, OW, K) in NHWC; bf16 in bf16
};

class ResNet50 {
 public:
  static constexpr std::int64_t kChannels = 3;
  static constexpr std::int64_t kFeatures = 2048;

  // Declares every parameter and allocates the arena (zeros, no gradients) on `device`.
  explicit ResNet50(Device device);
  ResNet50(const ResNet50&) = delete;
  ResNet50& operator=(const ResNet50&) = delete;

  ParameterSet& parameters() { return params_; }
  // Loads a torchvision-named safetensors file: every expected tensor F32 with its shape; fc.* and
  // *.num_batches_tracked are skipped; anything else missing, unexpected or mismatched is one InputError.
  void load(const std::string& path);
  // Random weights from Philox under `seed` (parameter i draws from stream philox_step_stream(kInitUse, i)), with
  // realistic BatchNorm statistics: convolutions He-uniform U(+-sqrt(6 / fan_in)), BN weight U(0.5, 1), bias
  // U(-0.1, 0.1), running_mean U(-0.1, 0.1), running_var U(0.5, 1.5); the last BN of every block (bn3) has
  // weight U(0.1, 0.3), which keeps the residual stream's scale bounded through 16 blocks.
  void init_random(std::uint64_t seed);

  // Throws InputError naming the rule when the options break one (ResNet50Options::broken_rule).
  void setup(const Context& ctx, const ResNet50Options& options);
  // images (B, 3, S, S) f32 on the device (NCHW in either layout) -> features (B, 2048), valid until the next
  // forward.
  const Tensor& forward(const Context& ctx, const Tensor& images);

  // How many of the 53 convolutions run their epilogue fused into cuDNN's call.
  int fused_convolutions() const;
  int convolutions() const { return static_cast<int>(units_.size()); }
  // The units in parameter order (stem conv1, then per block conv1, conv2, conv3, downsample): for the tests.
  const std::vector<ConvBn*>& units() const { return units_; }

 private:
  struct Bottleneck {
    std::unique_ptr<ConvBn> conv1, conv2, conv3, downsample;  // downsample null when the identity fits
  };
  template <typename T>
  const Tensor& forward_as(const Context& ctx, const Tensor& images);
  void fold(const Context& ctx);

  ParameterSet params_;
  std::unique_ptr<ConvBn> stem_;
  std::vector<Bottleneck> blocks_;
  std::vector<ConvBn*> units_;
  ResNet50Options options_;
  ParameterSet folded_;     // each unit's folded weight "<conv>.weight" (plan layout) and bias "<conv>.bias", f32
  Tensor folded_bf16_;      // (folded_ arena) bf16: the folded arena rounded once, bf16 only (weights and biases
                            // read from it)
  Tensor normalize_;        // (4, 3): BN-form ImageNet normalisation: weight 1, bias 0, mean, var = std^2 (eps 0)
  Tensor normalized_;       // (B, 3, S, S)
  Tensor channels_last_;    // (B, S, S, C') in the activations' type: the images converted, NHWC only
                            // (C' = options.stem_channels())
  kernels::PoolShape pool_;  // the stem's 3x3/2 max pool
  Tensor pooled_;           // (B, 64, S/4, S/4) in the layout and the activations' type
  Tensor features_;         // (B, 2048)
};

}  // namespace rosetta
