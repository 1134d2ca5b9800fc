// 2-D convolution (cross-correlation, as PyTorch), groups 1, dilation 1, in either layout (runtime/layout.h), on
// float or bf16 storage.
//
// A ConvPlan is made once per (layer, batch shape), outside the training step, by make_conv_plan: it checks the
// shape, then the twin of ctx's device plans its part (kernels/conv.inc's plan_conv2d). On CUDA that creates the
// cuDNN descriptors and chooses each pass's algorithm (timed with cudnnFind*AlgorithmEx on first use of a shape and
// kept in the algorithm cache, or cuDNN's heuristics when autotune is off); on the CPU the one algorithm is im2col +
// GEMM. Either way the plan grows the context's workspace to what its passes need, so the step creates and
// allocates nothing. The passes and the algorithm-cache file are declared once (kernels/conv.inc) for both twins.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"
#include "runtime/layout.h"

namespace rosetta::kernels {

struct ConvShape {
  std::int64_t n = 0, c = 0, h = 0, w = 0;  // input (N, C, H, W), logical dimensions whatever the layout
  std::int64_t k = 0, r = 0, s = 0;         // filter (K, C, R, S)
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1;
  std::int64_t out_h() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  std::int64_t out_w() const { return (w + 2 * pad_w - s) / stride_w + 1; }
  std::string str() const;  // "x(64, 3, 32, 32) w(50, 3, 3, 3) pad 1 stride 1"
};

struct ConvOptions {
  Precision precision = Precision::fp32;  // fp32: strict FP32 (cuDNN CUDNN_FMA_MATH); tf32: tensor-op math allowed;
                                          // bf16: bf16 x, w, y (and dx, dw) with float accumulation
  bool autotune = true;                   // false: cuDNN's heuristics (cudnnGet*_v7), the ablation
  bool deterministic = false;             // true: only algorithms cuDNN reports as deterministic (no atomics)
  bool forward_only = false;              // true: plan the forward pass only; the backward passes throw (inference)
  bool fuse_epilogue = true;              // false: conv2d_bias_activation_forward never runs as one library call
  Layout layout = Layout::nchw;           // of x, w and y (and the fused forward's z)
};

enum class ConvPass : std::int32_t { forward = 0, backward_data = 1, backward_filter = 2 };
constexpr int kConvPassCount = 3;
const char* conv_pass_name(ConvPass pass);  // "forward", "backward_data", "backward_filter"

// Who runs a pass.
enum class ConvBackend : std::int32_t { cpu_im2col_gemm = 0, cudnn = 1 };

// How a pass runs: the backend, its algorithm and math type (cuDNN: cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
// and cudnnMathType_t, the math type the algorithm was measured with; the CPU: 0 and 0), the workspace it needs
// and the time it was measured at (0 when chosen without timing).
struct ConvAlgorithmChoice {
  ConvBackend backend = ConvBackend::cpu_im2col_gemm;
  std::int32_t algo = 0;
  std::int32_t math_type = 0;
  std::uint64_t workspace_bytes = 0;
  float time_ms = 0;
  bool deterministic = true;
};
bool operator==(const ConvAlgorithmChoice& a, const ConvAlgorithmChoice& b);
// "cudnn IMPLICIT_PRECOMP_GEMM FMA", "cpu im2col+GEMM".
std::string conv_choice_name(ConvPass pass, const ConvAlgorithmChoice& choice);
// cuDNN's names of its legacy algorithms ("IMPLICIT_PRECOMP_GEMM", "WINOGRAD_NONFUSED", ...; "?" out of range) and
// math types ("FMA", "TENSOR_OP", ...).
const char* cudnn_conv_algorithm_name(ConvPass pass, int algo);
const char* cudnn_math_type_name(int math_type);
// How many legacy algorithms cuDNN has per pass: the name tables' sizes (kernels/cuda checks them against cudnn.h).
constexpr int kCudnnForwardAlgorithms = 8, kCudnnBackwardDataAlgorithms = 6, kCudnnBackwardFilterAlgorithms = 7;

struct CudnnConvState;  // kernels/cuda/conv_state.h: the cuDNN descriptors; null on the CPU

struct ConvPlan {
  ConvShape shape;
  ConvOptions options;
  ConvAlgorithmChoice choices[kConvPassCount];  // by ConvPass; a forward-only plan sets only the forward's
  // Whether conv2d_bias_activation_forward runs as one library call with the epilogue inside, with (relu) and
  // without (identity) the ReLU; otherwise it runs the convolution, then the epilogue kernel.
  bool fused_relu = false, fused_identity = false;
  std::shared_ptr<const CudnnConvState> cudnn;

  const ConvAlgorithmChoice& of(ConvPass pass) const { return choices[static_cast<int>(pass)]; }
  // The largest workspace of the planned passes: what the plan grew the context's workspace to (at least).
  std::uint64_t workspace_bytes() const;
};

// Builds the plan for ctx's device (the autotuning search, if any, happens here). Throws, naming the shape, for an
// empty or negative dimension, a filter larger than the padded input or a dimension beyond 32 bits.
ConvPlan make_conv_plan(const Context& ctx, const ConvShape& shape, const ConvOptions& options);

// Whether conv2d_bias_activation_forward with this activation runs as one fused call (for reports).
inline bool conv_epilogue_fused(const ConvPlan& plan, bool relu) { return relu ? plan.fused_relu : plan.fused_identity; }

// The algorithm cache's file (kernels/cuda/conv_algorithm_cache.h): what a load brought in and, when nothing, why.
struct ConvCacheLoad {
  std::size_t entries = 0;
  std::string note;  // empty when the file was used
};
// Autotuned plans made in this process: `searched` timed at least one pass, `from_cache` took every pass from
// the cache (filled by this process or by a file).
struct ConvAutotuneStats {
  std::int64_t searched = 0;
  std::int64_t from_cache = 0;
};

namespace cpu {
#include "kernels/conv.inc"
}
namespace cuda {
#include "kernels/conv.inc"
}
ROSETTA_OP(plan_conv2d)
ROSETTA_OP(conv2d_forward)
ROSETTA_OP(conv2d_backward_data)
ROSETTA_OP(conv2d_backward_filter)
ROSETTA_OP(conv2d_bias_activation_forward)
ROSETTA_OP(find_conv_algorithms)
ROSETTA_OP(conv_plan_with_choice)
ROSETTA_OP(load_conv_algorithm_cache)
ROSETTA_OP(save_conv_algorithm_cache)
ROSETTA_OP(conv_autotune_stats)

}  // namespace rosetta::kernels
