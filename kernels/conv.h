// 2-D convolution (cross-correlation, as PyTorch), groups 1, dilation 1, in either layout (runtime/layout.h), on
// float or bf16 storage.
//
// A ConvPlan is made once per (layer, batch shape), outside the training step, by make_conv_plan: it checks the
// shape, then the twin of ctx's device plans its part (kernels/conv.inc's plan_conv2d). On the CPU the one algorithm
// is im2col + GEMM. On CUDA each pass may be served by several backends (ConvBackend: legacy cuDNN, cuDNN's graph
// API, cuBLASLt, hand-written direct kernels for few input channels; kernels/cuda/conv_backend.h is the interface a backend implements): the plan asks every backend
// that accepts the pass for its candidates, times them with CUDA events on the device (autotune; the median of
// repeated calls after warm-up, on non-zero data), keeps the fastest and caches the choice by shape and options,
// in memory and in the algorithm cache's file; without autotune it takes cuDNN's heuristics (or the forced
// backend's first candidate). Either way the plan grows the context's workspace to what its passes need, so the
// step creates and allocates nothing. The passes and the algorithm-cache file are declared once
// (kernels/conv.inc) for both twins.
//
// The fused backends build the forward's epilogue into their kernels, so a plan that wants them declares the
// epilogue its forward will run (ConvOptions::epilogue); a plan declared for ConvEpilogue::any runs any call
// (the legacy cuDNN call, or the convolution followed by the epilogue kernel). The declaration concerns the forward
// alone: an inference plan (forward_only) and a training plan may both declare one; a training plan's forward is then
// chosen among the backends that build that epilogue (and legacy cuDNN), its two gradient passes as without it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
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

// Who runs a pass. The names ("cpu", "cudnn", "cudnn-graph", "cublaslt", "direct") are the cache file's and the
// record's; the CLI's --backend takes those that serve ResNet-50 (not "direct": it serves few input channels only).
enum class ConvBackend : std::int32_t { cpu_im2col_gemm = 0, cudnn = 1, cudnn_graph = 2, cublaslt = 3, direct = 4 };
constexpr int kConvBackendCount = 5;
const char* conv_backend_name(ConvBackend backend);
bool conv_backend_from_name(const std::string& name, ConvBackend* backend);

// The epilogue a plan's forward is declared for: what conv2d_bias_activation_forward adds to the convolution,
// y = act((conv + z) + bias): bias always, the residual z and the ReLU as named. `any`: not declared, every call
// runs (unfused unless the legacy cuDNN call fuses it).
enum class ConvEpilogue : std::int32_t { any = 0, bias = 1, bias_relu = 2, bias_residual = 3, bias_residual_relu = 4 };
constexpr int kConvEpilogueCount = 5;
const char* conv_epilogue_name(ConvEpilogue epilogue);  // "any", "bias", "bias+relu", "bias+residual", ...
bool conv_epilogue_from_name(const std::string& name, ConvEpilogue* epilogue);
ConvEpilogue conv_epilogue_of(bool residual, bool relu);
bool conv_epilogue_has_residual(ConvEpilogue epilogue);
bool conv_epilogue_has_relu(ConvEpilogue epilogue);

struct ConvOptions {
  Precision precision = Precision::fp32;  // fp32: strict FP32 (cuDNN CUDNN_FMA_MATH); tf32: tensor-op math allowed;
                                          // bf16: bf16 x, w, y, z and bias (and dx, dw) with float accumulation
  bool autotune = true;                   // false: cuDNN's heuristics (cudnnGet*_v7), the ablation
  bool deterministic = false;             // true: only algorithms cuDNN reports as deterministic (no atomics)
  bool forward_only = false;              // true: plan the forward pass only; the backward passes throw (inference)
  bool fuse_epilogue = true;              // false: the legacy cuDNN call never fuses the epilogue
  Layout layout = Layout::nchw;           // of x, w and y (and the fused forward's z)
  ConvEpilogue epilogue = ConvEpilogue::any;  // the forward's declared epilogue (see above)
  // The forced backend, where it accepts the pass (elsewhere legacy cuDNN, the baseline): the ablation. Empty:
  // every accepting backend is timed and the fastest kept.
  std::optional<ConvBackend> backend;
};

enum class ConvPass : std::int32_t { forward = 0, backward_data = 1, backward_filter = 2 };
constexpr int kConvPassCount = 3;
const char* conv_pass_name(ConvPass pass);  // "forward", "backward_data", "backward_filter"

// The options `pass` is planned, searched and cached under: the plan's, less the declared epilogue for the gradient
// passes (the epilogue is the forward's), so a training plan's gradient passes are those of the same plan undeclared.
ConvOptions conv_pass_options(const ConvOptions& options, ConvPass pass);

// How a pass runs: the backend and what it needs to run the same kernel again.
// - algo: legacy cuDNN's cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t; the graph API's engine global index;
//   cuBLASLt's algorithm id (CUBLASLT_ALGO_CONFIG_ID); the direct kernels' tiling (forward: output channels per
//   thread; filter gradient: pixels per slice); 0 on the CPU.
// - math_type: legacy cuDNN's cudnnMathType_t, the math type the algorithm was measured with; 0 otherwise.
// - variant: the graph API's, cuBLASLt's and the direct kernels' position of the candidate in their heuristics' list (which, with algo
//   as a check, remakes it); 0 otherwise.
// The workspace it needs, the median time of one call measured with CUDA events (0: chosen without timing), the
// time cudnnFind reported for it (legacy cuDNN's searched candidates; 0 otherwise), and whether it is
// deterministic.
struct ConvAlgorithmChoice {
  ConvBackend backend = ConvBackend::cpu_im2col_gemm;
  std::int32_t algo = 0;
  std::int32_t math_type = 0;
  std::int32_t variant = 0;
  std::uint64_t workspace_bytes = 0;
  float time_ms = 0;
  float find_time_ms = 0;
  bool deterministic = true;
};
bool operator==(const ConvAlgorithmChoice& a, const ConvAlgorithmChoice& b);
// "cudnn IMPLICIT_PRECOMP_GEMM FMA", "cudnn-graph engine 12 #0", "cublaslt algo 21 #2", "direct 8 #0",
// "cpu im2col+GEMM".
std::string conv_choice_name(ConvPass pass, const ConvAlgorithmChoice& choice);
// cuDNN's names of its legacy algorithms ("IMPLICIT_PRECOMP_GEMM", "WINOGRAD_NONFUSED", ...; "?" out of range) and
// math types ("FMA", "TENSOR_OP", ...).
const char* cudnn_conv_algorithm_name(ConvPass pass, int algo);
const char* cudnn_math_type_name(int math_type);
// How many legacy algorithms cuDNN has per pass: the name tables' sizes (kernels/cuda checks them against cudnn.h).
constexpr int kCudnnForwardAlgorithms = 8, kCudnnBackwardDataAlgorithms = 6, kCudnnBackwardFilterAlgorithms = 7;

struct ConvPassRunner;  // kernels/cuda/conv_backend.h: a prepared CUDA pass (backend state, descriptors)

struct ConvPlan {
  ConvShape shape;
  ConvOptions options;
  ConvAlgorithmChoice choices[kConvPassCount];  // by ConvPass; a forward-only plan sets only the forward's
  // Whether conv2d_bias_activation_forward runs as one library call with the epilogue inside, with (relu) and
  // without (identity) the ReLU; otherwise it runs the convolution, then the epilogue kernel.
  bool fused_relu = false, fused_identity = false;
  // CUDA: each planned pass's runner, by ConvPass; empty on the CPU.
  std::shared_ptr<const ConvPassRunner> runners[kConvPassCount];

  const ConvAlgorithmChoice& of(ConvPass pass) const { return choices[static_cast<int>(pass)]; }
  // The largest workspace of the planned passes: what the plan grew the context's workspace to (at least).
  std::uint64_t workspace_bytes() const;
};

// Builds the plan for ctx's device (the autotuning search, if any, happens here). Throws, naming the shape, for an
// empty or negative dimension, a filter larger than the padded input or a dimension beyond 32 bits. A declared
// epilogue is accepted on any plan; the calls it refuses are check_forward_call's.
ConvPlan make_conv_plan(const Context& ctx, const ConvShape& shape, const ConvOptions& options);

// Both twins' check of a forward call against the plan's declared epilogue: conv2d_forward (`with_epilogue` false)
// only on plans declared for ConvEpilogue::any, conv2d_bias_activation_forward with the declared (residual, relu).
// Throws naming the call, the declaration and the shape.
void check_forward_call(const ConvPlan& plan, bool with_epilogue, bool residual, bool relu);

// Whether conv2d_bias_activation_forward with this activation runs as one fused call (for reports).
inline bool conv_epilogue_fused(const ConvPlan& plan, bool relu) { return relu ? plan.fused_relu : plan.fused_identity; }

// The algorithm cache's file (kernels/cuda/conv_algorithm_cache.h): what a load brought in and, when nothing, why.
// `rejected`: the file exists but was not used (corrupt, another format version, another GPU or cuDNN): the note
// says why, and every shape is searched afresh.
struct ConvCacheLoad {
  std::size_t entries = 0;
  std::string note;  // empty when the file was used
  bool rejected = false;
};
// Autotuned plans made in this process: `searched` timed at least one pass, `from_cache` took every pass from
// the cache (filled by this process or by a file); candidates that failed while they were timed (dropped from
// their search) and the last one's reason.
struct ConvAutotuneStats {
  std::int64_t searched = 0;
  std::int64_t from_cache = 0;
  std::int64_t failed_candidates = 0;
  std::string last_failure;
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
