// FusedCifarVgg: the fused training step of CifarVGG (CifarVggOptions::fuse), forward, loss and backward, leaving the
// gradients in the model's arena (the update is CifarVGG's). One templated body runs float (fp32, tf32) or bf16
// activations. Per step, batch B:
//
//   stage       the working copies of the parameters the device layout needs (kernels/layout.h's ParameterCopy): the
//               convolutions' weights in NHWC (K, R, S, C) with channels padded, biases padded, and in bf16 every
//               weight and bias rounded to bf16 (a bf16 op's bias is bf16, as cuDNN's and cuBLASLt's epilogues take it);
//               none in float NCHW unpadded, where every op reads the arena
//   images      (B, 3, 32, 32) f32 NCHW -> (B, 32, 32, C0) T channels-last padded, when the layout or type differ
//   conv1       conv + bias + ReLU (one call where the plan fuses it, below)         (B, 50p, 32, 32)
//   conv2       conv + bias (+ ReLU with ReluOrder::before_pool)                     (B, 50p, 32, 32)
//   pool1       max pool + ReLU + dropout 0.25, one kernel                           (B, 50p, 16, 16) + arg-max
//   conv3, conv4, pool2 likewise                                                     (B, 100p, 8, 8)
//   flatten     a view in NCHW unpadded, else a relayout to (B, 6400) in NCHW order (PyTorch's fc1 columns)
//   fc1         GEMM into float, then bias + ReLU + dropout 0.5, one kernel          (B, 512)
//   fc2         GEMM into float, then bias (rounded to T)                            (B, 10) logits
//   loss        softmax cross-entropy from the logits (float inside), dlogits in T
//   backward    fc2: dW, bias gradient, dh; fc1: ReLU + dropout + bias gradient in one kernel, dW, dx; pool2:
//               dropout + ReLU + pool + conv4's bias gradient in one kernel; conv4: filter and data gradients; conv3:
//               ReLU + bias gradient in one kernel, then its gradients; pool1, conv2, conv1 likewise
//   unstage     the working copies' gradients back into the arena, padding stripped, widened to float
//
// Precision bf16 follows PyTorch's autocast for convolution and linear layers: their inputs, weights and biases enter
// as bf16, their outputs are bf16 (float accumulation), the ReLU, pooling and dropout run on bf16 values, the loss in
// float, and every gradient reaching a float parameter is the bf16 gradient of its bf16 copy, widened. Where the
// roundings fall: the convolution's output, then its bias epilogue (cuDNN's convolution then PyTorch's bias add); the
// linear layer's bias-fused output, then the dropout's product; dlogits; every data and weight gradient; the bias
// gradients. The CPU twin rounds at the same places, so it is the reference of the GPU's bf16 step.
//
// Each convolution's plan is declared for the epilogue its forward runs (bias + ReLU, or bias where the ReLU follows
// the pool), so the planner times, for the forward, legacy cuDNN (its fused call where it fuses: float data) against
// cuDNN's graph API with the epilogue built into the kernel (NHWC tf32 and bf16); the gradient passes are legacy
// cuDNN's. Where the graph API fuses a bf16 epilogue, the GPU rounds the convolution's output once, after the bias
// and ReLU, where the CPU twin (and the unfused GPU path) round it before the bias too: one bf16 rounding apart.
//
// Buffers are sized by setup() for one batch; a step allocates nothing, creates nothing and never waits for the host.
#pragma once
#include <cstdint>

#include "kernels/conv.h"
#include "kernels/dropout_draw.h"
#include "kernels/layout.h"
#include "kernels/pool.h"
#include "layers/parameters.h"
#include "models/cifar_vgg_options.h"

namespace rosetta {

class FusedCifarVgg {
 public:
  // The parameters' indices in the model's arena, in the order CifarVGG declares them.
  struct Parameters {
    int conv_weight[4], conv_bias[4], fc_weight[2], fc_bias[2];
  };
  FusedCifarVgg(ParameterSet& params, const Parameters& indices);

  // Plans the convolutions and sizes every buffer. step: the model's (1,) u64 step counter the dropout masks are drawn
  // under; first_row: this rank's first row of the global batch.
  void setup(const Context& ctx, const CifarVggOptions& options, const Tensor& step, std::int64_t first_row);
  // Forward, loss and backward on images (B, 3, 32, 32) f32 and labels (B,) i32: the loss in loss(), the gradients
  // in the arena (overwritten).
  void forward_backward(const Context& ctx, const Tensor& images, const Tensor& labels);
  // Forward without dropout; adds the number of correct predictions to correct (1,) i32.
  void evaluate(const Context& ctx, const Tensor& images, const Tensor& labels, const Tensor& correct);
  const Tensor& loss() const { return loss_; }
  // The plan of convolution i (0..3), for reports.
  const kernels::ConvPlan& plan(int i) const { return conv_[i].plan; }

 private:
  struct Conv {
    std::int64_t in = 0, out = 0, size = 0;  // unpadded channels, output height = width
    bool relu = true;  // its forward's epilogue: bias + ReLU, or bias alone (the plan is declared for it)
    kernels::ConvPlan plan;
    Tensor w, b, dw, db;  // the weight and bias (T) it reads and their gradients (T, float): arena views or working copies
    Tensor y;             // (B, out_p, size, size) stored in the layout, T: bias + (ReLU) applied
    Tensor dz;            // same shape: the gradient with respect to the convolution's output before the ReLU
    Tensor dx;            // (B, in_p, size, size): the gradient with respect to its input (not conv1's)
  };
  struct Pool {
    kernels::PoolShape shape;  // stored channels
    std::int64_t channels = 0;  // unpadded
    kernels::DropoutDraw dropout;
    Tensor y, argmax;  // (B, C_p, size / 2, size / 2)
  };
  struct Linear {
    Tensor w, b, dw, db;  // (out, in) T, (out) T, and their gradients (T, float)
    Tensor z;             // (B, out) float: the GEMM's output
    Tensor y;             // (B, out) T: after the epilogue
    Tensor dz;            // (B, out) T: the gradient before the epilogue (fc1)
  };

  template <typename T>
  void forward(const Context& ctx, const Tensor& images, bool training);
  template <typename T>
  void backward(const Context& ctx);
  template <typename T>
  void conv_forward(const Context& ctx, Conv& conv, const Tensor& x);
  bool staged() const { return copies_.count > 0; }

  ParameterSet& params_;
  Parameters indices_;
  CifarVggOptions options_;
  Layout layout_ = Layout::nchw;
  bool bf16_ = false;
  Conv conv_[4];
  Pool pool_[2];
  Linear fc_[2];
  kernels::DropoutDraw fc1_dropout_;
  kernels::ParameterCopies copies_;
  Tensor working_weights_, working_biases_;  // T: the staged parameters
  Tensor weight_grads_, bias_grads_;         // their gradients
  Tensor images_;        // (B, 32, 32, C0_p) T when the images need a relayout; undefined otherwise
  Tensor flat_;          // (B, 6400) T: pool2's output in NCHW order, when the layout or padding differ
  Tensor dflat_;         // (B, 6400) T: fc1's input gradient
  Tensor dpool2_;        // pool2's output gradient in its stored shape (a view of dflat_ in NCHW unpadded)
  Tensor dlogits_;       // (B, 10) T
  Tensor dh_;            // (B, 512) T: fc2's input gradient
  Tensor loss_;          // (1,) f32
  const Tensor* x0_ = nullptr;  // conv1's input in the last forward: the caller's images or images_
};

}  // namespace rosetta
