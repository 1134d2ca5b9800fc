// 2-D convolution (cross-correlation, as PyTorch), groups 1, dilation 1, in NCHW or NHWC (ConvLayout).
//
// A ConvPlan is made once per (layer, batch shape), outside the training step: on CUDA it owns the cuDNN
// descriptors and the chosen forward / backward-data / backward-filter algorithms (autotuned with
// cudnnFind*AlgorithmEx on first use of a shape, or cuDNN's heuristics when autotune is off), and it grows the
// context's workspace to what those algorithms need. The step itself then creates nothing and allocates
// nothing. On the CPU a plan holds only the shape.
//
// The three passes are declared once (conv.inc) for both twins.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/context.h"

namespace rosetta::kernels {

struct ConvShape {
  std::int64_t n = 0, c = 0, h = 0, w = 0;  // input (N, C, H, W)
  std::int64_t k = 0, r = 0, s = 0;         // filter (K, C, R, S)
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1;
  std::int64_t out_h() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  std::int64_t out_w() const { return (w + 2 * pad_w - s) / stride_w + 1; }
  std::string str() const;  // "x(64, 3, 32, 32) w(50, 3, 3, 3) pad 1 stride 1"
};

// Memory layout of a convolution's tensors. ConvShape always names the logical dimensions (N, C, H, W), (K, C, R, S).
//   nchw: x (N, C, H, W), w (K, C, R, S), y (N, K, OH, OW)
//   nhwc: x (N, H, W, C), w (K, R, S, C) (cuDNN's NHWC filter order), y (N, OH, OW, K)
// CPU plans run NHWC forward-only, by transposing to NCHW in the workspace around the NCHW passes.
enum class ConvLayout : std::int32_t { nchw = 0, nhwc = 1 };
const char* conv_layout_name(ConvLayout layout);  // "nchw", "nhwc"

struct ConvOptions {
  Precision precision = Precision::fp32;  // fp32: CUDNN_FMA_MATH; tf32: CUDNN_TENSOR_OP_MATH allowed; bf16: bf16
                                          // x, w, y (conv2d_forward_bf16), float accumulation, tensor ops;
                                          // needs layout nhwc and forward_only
  bool autotune = true;                   // false: cudnnGetConvolution*Algorithm_v7 heuristics (the ablation)
  bool deterministic = false;             // true: only algorithms cuDNN reports as deterministic (no atomics)
  bool forward_only = false;              // true: plan (search, cache) the forward pass only; the backward
                                          // passes of such a plan throw (inference models)
  ConvLayout layout = ConvLayout::nchw;   // of x, w and y (and the fused forward's z)
};

struct CudnnConvState;  // defined in kernels/cuda; null on the CPU

struct ConvPlan {
  ConvShape shape;
  ConvOptions options;
  std::shared_ptr<CudnnConvState> cudnn;
};

// Builds the plan for ctx's device (the autotuning search, if any, happens here).
ConvPlan make_conv_plan(const Context& ctx, const ConvShape& shape, const ConvOptions& options);

// Whether conv2d_bias_activation_forward can run `plan` with (relu) or without (identity) the ReLU: always on
// the CPU; on CUDA, cudnnConvolutionBiasActivationForward takes the identity activation only with the
// IMPLICIT_PRECOMP_GEMM forward algorithm, ReLU with any. Never for a bf16 plan (the fused forward takes floats).
bool conv_bias_activation_supported(const ConvPlan& plan, bool relu);

namespace cpu {
#include "kernels/conv.inc"
}
namespace cuda {
#include "kernels/conv.inc"
}
}  // namespace rosetta::kernels
