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
// setup() builds what the forward runs, for one batch shape: with fold_bn (the default) every BatchNorm is folded
// into its convolution's weight and bias (layers/batchnorm2d.h) in a second arena, and with fuse the bias, the
// residual add and the ReLU run inside the convolution (cudnnConvolutionBiasActivationForward) wherever cuDNN
// supports it; without fold_bn each convolution is followed by its BatchNorm2d and the residual/ReLU kernel (the
// ablation). Convolution plans are forward-only (kernels/conv.h), autotuned through the algorithm cache. The
// parameters must be loaded before setup(): it snapshots them. forward() allocates nothing, creates nothing and
// never waits for the host, so it can be captured in a CUDA graph as is.
//
// Layout: with ResNet50Options::layout nhwc (needs fold_bn) every activation is channels-last (N, H, W, C): the
// forward first transposes the images (after the optional normalisation, which runs in NCHW) to (B, S, S, 3), the
// convolutions run on NHWC descriptors with the folded weights stored (K, R, S, C) (converted at setup), the max
// pool and the global average pool read NHWC, and the features are (B, 2048) either way. Images are always given
// NCHW (B, 3, S, S).
//
// Precision bf16 (needs nhwc, so fold_bn): the folded weights are rounded to bf16 once at setup (the biases stay
// float), the transposed images are rounded to bf16, every convolution runs conv2d_forward_bf16 (bf16 in and out,
// float accumulation) followed by the bf16 epilogue kernel (bias + residual + ReLU in float, one rounding), the max
// pool and the global average pool read bf16, and the features are float (B, 2048). Nothing runs fused in bf16. The
// CPU twin computes each layer in float on the bf16-rounded inputs and rounds its output to bf16, so it is the
// reference the GPU's bf16 network is compared against.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "layers/batchnorm2d.h"
#include "layers/parameters.h"

namespace rosetta {

struct ResNet50Options {
  std::int64_t batch = 32;
  std::int64_t image_size = 224;
  Precision precision = Precision::fp32;  // fp32 or tf32 (the convolutions' math), or bf16 (needs nhwc)
  bool autotune = true;                   // cudnnFind through the algorithm cache; false: cuDNN heuristics
  bool fold_bn = true;                    // BatchNorm folded into the convolutions at setup
  bool fuse = true;                       // bias + residual + ReLU inside the convolution (needs fold_bn)
  bool normalize = false;                 // (x - ImageNet mean) / ImageNet std per channel first
  kernels::ConvLayout layout = kernels::ConvLayout::nchw;  // of the activations; nhwc needs fold_bn
};

// One convolution (no bias) and the BatchNorm after it, with the epilogue the network needs there: an optional
// residual input added before an optional ReLU. Exposed for the tests.
class ConvBn {
 public:
  ConvBn(ParameterSet& params, const std::string& conv_name, const std::string& bn_name, std::int64_t in_channels,
         std::int64_t out_channels, int kernel, int stride, int pad, bool relu);

  // Plans the convolution (forward-only) for an input of dimensions `input` (N, C, H, W) (stored in
  // options.layout) and allocates the output (zeroed). With fold_bn the model then hands the unit its folded weight
  // and bias through use_folded() (in NHWC, the weight in (K, R, S, C) order).
  void setup(const Context& ctx, const Shape& input, const ResNet50Options& options);
  // y = act(bn(conv(x)) + residual) (residual may be null).
  const Tensor& forward(const Context& ctx, const Tensor& x, const Tensor* residual);

  const Shape& output_shape() const { return y_.shape(); }  // as stored: (N, K, OH, OW) or (N, OH, OW, K)
  Shape output_dims() const;                                // (N, K, OH, OW) whatever the layout
  const kernels::ConvPlan& plan() const { return plan_; }
  const std::string& name() const { return params_.name(weight_); }  // "<conv name>.weight"
  bool fused() const { return fused_; }
  const Shape& weight_shape() const;  // (K, C, R, S)
  std::int64_t out_channels() const { return out_channels_; }
  // Writes the folded weight and bias into `weight` (K, C, R, S) and `bias` (K) (CPU) from the parameters.
  void fold_into(const Tensor& weight, const Tensor& bias) const;
  // Points the unit at its folded weight and bias (views on the context's device, the weight in the plan's layout).
  void use_folded(const Tensor& weight, const Tensor& bias) { folded_weight_ = weight, folded_bias_ = bias; }

 private:
  const ParameterSet& params_;
  std::int64_t in_channels_, out_channels_;
  int kernel_, stride_, pad_;
  bool relu_;
  int weight_;
  BatchNorm2d bn_;
  bool fold_ = true, fused_ = false;
  kernels::ConvPlan plan_;
  Tensor folded_weight_;  // (K, C, R, S), or (K, R, S, C) in NHWC (bf16 in bf16)
  Tensor folded_bias_;    // (K)
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

  void setup(const Context& ctx, const ResNet50Options& options);
  // images (B, 3, S, S) f32 on the device (NCHW in either layout) -> features (B, 2048), valid until the next
  // forward.
  const Tensor& forward(const Context& ctx, const Tensor& images);

  // How many of the 53 convolutions run fused (cudnnConvolutionBiasActivationForward).
  int fused_convolutions() const;
  int convolutions() const { return static_cast<int>(units_.size()); }
  // The units in parameter order (stem conv1, then per block conv1, conv2, conv3, downsample): for the tests.
  const std::vector<ConvBn*>& units() const { return units_; }

 private:
  struct Bottleneck {
    std::unique_ptr<ConvBn> conv1, conv2, conv3, downsample;  // downsample null when the identity fits
  };

  ParameterSet params_;
  std::unique_ptr<ConvBn> stem_;
  std::vector<Bottleneck> blocks_;
  std::vector<ConvBn*> units_;
  ResNet50Options options_;
  Tensor folded_;      // the folded arena: each unit's weight (K, C, R, S) and bias (K), 64-element aligned
  Tensor normalize_;   // (4, 3): BN-form ImageNet normalisation: weight 1, bias 0, mean, var = std^2 (eps 0)
  Tensor normalized_;  // (B, 3, S, S)
  Tensor channels_last_;  // (B, S, S, 3): the images transposed, in NHWC
  Tensor channels_last_bf16_;  // (B, S, S, 3) bf16: the transposed images rounded, in bf16
  Tensor folded_bf16_;    // bf16: the folded arena rounded (bf16 only; the units read their weights from it)
  Tensor pooled_;      // (B, 64, S/4, S/4) or (B, S/4, S/4, 64) (bf16 in bf16): after the 3x3/2 max pool
  Tensor argmax_;      // (B, 64, S/4, S/4) i32, NCHW only: the max pool's arg-max (unused, required by the kernel)
  Tensor features_;    // (B, 2048)
};

}  // namespace rosetta
