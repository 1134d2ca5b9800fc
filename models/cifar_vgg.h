// CifarVGG: the seed's CIFAR-10 CNN, layer for layer (PyTorch state_dict names):
//   conv1(3->50, 3x3, pad 1) relu  conv2(50->50) maxpool2 relu dropout(0.25)
//   conv3(50->100) relu  conv4(100->100) maxpool2 relu dropout(0.25)
//   flatten(6400)  fc1(6400->512) relu dropout(0.5)  fc2(512->10)
// and its training: softmax cross-entropy (mean) and SGD with momentum, one step = forward, loss, backward,
// update. How the forward and backward run is CifarVggOptions' (models/cifar_vgg_options.h): the fused step
// (models/cifar_vgg_fused.h: fp32, tf32 or bf16, NCHW or NHWC, channels padded or not, either ReLU order) or the
// seed's one kernel per layer (below); all compute the same model, and the parameters and checkpoints are the same
// PyTorch-shaped float arena in every mode. Data-parallel (options.communicator of several ranks): each rank holds `batch` rows of the global batch
// (batch x ranks), its dropout masks and loss are those of its rows of the global batch, and between backward and
// update one all-reduce sums the gradient arena and the loss, so every rank applies the global batch's gradient.
// Parameters live in one arena; every buffer is sized by setup() for one batch size, so step() and
// evaluate() allocate nothing, create no descriptor and never wait for the host: a step can be captured in a
// CUDA graph as is.
#pragma once
#include <cstdint>

#include <memory>

#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sgd.h"
#include "layers/softmax_cross_entropy.h"
#include "models/cifar_vgg_fused.h"
#include "models/cifar_vgg_options.h"
#include "runtime/communicator.h"

namespace rosetta {

class CifarVGG {
 public:
  static constexpr std::int64_t kClasses = 10;
  static constexpr std::int64_t kChannels = 3, kSize = 32;
  // The `use` words of the three dropout layers' masks (runtime/philox.h): kDropoutUse + 0, 1, 2; distinct from
  // kInitUse.
  static constexpr std::uint32_t kDropoutUse = 16;

  // Declares every parameter and allocates the arena (zeros) on `device`.
  explicit CifarVGG(Device device);

  ParameterSet& parameters() { return params_; }
  // The seed's lesson 7: Glorot-uniform weights, zero biases, drawn from Philox under `seed`.
  void init_glorot(std::uint64_t seed);

  // Plans the convolutions (cuDNN autotuning happens here) and sizes every buffer for options.batch. Throws on options
  // that break a rule (CifarVggOptions::broken_rule).
  void setup(const Context& ctx, const CifarVggOptions& options);

  // One SGD step on a batch already on the device: images (B, 3, 32, 32) f32, labels (B,) i32. The mean loss
  // is left in loss() (device memory).
  void step(const Context& ctx, const Tensor& images, const Tensor& labels);
  const Tensor& loss() const { return fused_ ? fused_->loss() : loss_.loss(); }
  // The options setup() took.
  const CifarVggOptions& options() const { return options_; }
  // Convolution i's (0..3) plan, for reports (algorithm choices, whether the epilogue fused).
  const kernels::ConvPlan& conv_plan(int i) const;
  // Everything beyond the parameters that the next step depends on (after setup): SGD's momentum and the step
  // counter the dropout masks are drawn under. A training checkpoint saves and restores it.
  NamedTensors training_state() const;
  // Forward without dropout; adds the number of correct predictions to correct (1,) i32.
  void evaluate(const Context& ctx, const Tensor& images, const Tensor& labels, const Tensor& correct);

 private:
  // The unfused step: one layer object per layer of the seed's model, in either ReLU order.
  const Tensor& forward(const Context& ctx, const Tensor& images, bool training);
  void backward(const Context& ctx, const Tensor& dlogits);
  bool relu_after_pool() const { return options_.relu_order == ReluOrder::after_pool; }

  ParameterSet params_;
  CifarVggOptions options_;
  std::unique_ptr<FusedCifarVgg> fused_;  // the fused step; null when options.fuse is false
  // The layers declare the parameters (in PyTorch's order) and run the unfused step.
  Conv2d conv1_, conv2_, conv3_, conv4_;
  ReLU relu1_, relu2_, relu3_, relu4_, relu5_;
  MaxPool2d pool1_{2, 2}, pool2_{2, 2};
  Dropout drop1_, drop2_, drop3_;
  Flatten flatten_;
  Linear fc1_, fc2_;
  SoftmaxCrossEntropy loss_;
  std::unique_ptr<SgdMomentum> sgd_;
  const Communicator* communicator_ = &Communicator::single_process();
  Tensor step_;  // (1,) u64: steps taken; dropout masks are drawn under it
};

}  // namespace rosetta
