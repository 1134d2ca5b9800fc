// One-layer unidirectional GRU with PyTorch's nn.GRU equations and parameters (gate rows r | z | n):
//   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))     h' = (1 - z) * n + z * h
// over T steps from h_{-1} = 0, sequences time-major (T, N, C).
//
// Two ways to run it:
// - gru_forward / gru_backward (gru.inc), one signature for the CPU twin and the naive CUDA twin: the input part
//   of all T steps as one GEMM up front, then per step one GEMM for the recurrent part and one fused gate loop or
//   kernel; the backward mirrors it and forms the weight gradients with GEMMs over all steps at the end. Scratch
//   comes from the context's workspace (grow it to gru_workspace_bytes at setup); what the backward needs from
//   the forward is kept in a caller-owned reserve of gru_reserve_elements floats.
// - cuDNN's RNN API through a plan (CudnnGruPlan, made once per shape; kernels/cuda/gru_cudnn_state.h): CUDA only.
//
// swap_leading_axes (gru.inc) is the (N, T, C) <-> (T, N, C) transpose of the batch-first layout.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/context.h"

namespace rosetta::kernels {

struct GruShape {
  std::int64_t t = 0, n = 0, i = 0, h = 0;  // steps, batch, input size, hidden size
  std::string str() const;                  // "T 150 N 64 I 125 H 100"
};

// PyTorch's four parameters, on the context's device.
struct GruWeights {
  const float* w_ih = nullptr;  // (3H, I) weight_ih_l0
  const float* w_hh = nullptr;  // (3H, H) weight_hh_l0
  const float* b_ih = nullptr;  // (3H)    bias_ih_l0
  const float* b_hh = nullptr;  // (3H)    bias_hh_l0
};

// Their gradients, written (not accumulated) by the backward passes.
struct GruGradients {
  float* w_ih = nullptr;  // (3H, I)
  float* w_hh = nullptr;  // (3H, H)
  float* b_ih = nullptr;  // (3H)
  float* b_hh = nullptr;  // (3H)
};

// Per (t, n) the forward keeps r, z, n and W_hn h_{t-1} + b_hn: (T, N, 4H).
inline std::int64_t gru_reserve_elements(const GruShape& s) { return s.t * s.n * 4 * s.h; }

// Scratch of one gru_forward or gru_backward call: the gate pre-activations of every step on both sides,
// (T, N, 3H) twice, an (N, H) carry and (the CPU twin's) W_hh^T (H, 3H).
inline std::size_t gru_workspace_bytes(const GruShape& s) {
  return static_cast<std::size_t>(2 * s.t * s.n * 3 * s.h + s.n * s.h + 3 * s.h * s.h) * sizeof(float);
}

// Throws unless every dimension is positive and fits cuBLAS's and cuDNN's int arguments.
void validate_gru_shape(const GruShape& shape);

namespace cpu {
#include "kernels/gru.inc"
}
namespace cuda {
#include "kernels/gru.inc"
}

// ---- cuDNN ------------------------------------------------------------------------------------------------

// cuDNN's recurrence algorithms. The persistent ones keep W_hh on chip across steps; cuDNN accepts them only
// for some shapes, GPUs and precisions, which make_cudnn_gru_plan finds out with a trial run.
enum class GruCudnnAlgorithm { standard, persist_static, persist_dynamic, persist_static_small_h };
const char* gru_cudnn_algorithm_name(GruCudnnAlgorithm algorithm);  // "standard", "persist_static", ...
// Inverse of gru_cudnn_algorithm_name; false for an unknown name.
bool gru_cudnn_algorithm_from_name(const std::string& name, GruCudnnAlgorithm* algorithm);

struct CudnnGruOptions {
  Precision precision = Precision::fp32;  // fp32: CUDNN_FMA_MATH; tf32: CUDNN_DEFAULT_MATH (TF32 allowed)
  GruCudnnAlgorithm algorithm = GruCudnnAlgorithm::standard;
  // false: CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED without padded I/O, which for equal lengths is the same (T, N, C)
  // memory as the unpacked layout. true: SEQ_MAJOR_UNPACKED with CUDNN_RNN_PADDED_IO_ENABLED, the configuration
  // variable-length padded batches need; kept as an ablation (on an H200 neither was measurably faster).
  bool padded_io = false;
};

// One algorithm's trial in make_fastest_cudnn_gru_plan: the mean time of a forward and backward, or cuDNN's refusal.
struct GruAlgorithmTrial {
  GruCudnnAlgorithm algorithm = GruCudnnAlgorithm::standard;
  bool accepted = false;
  double milliseconds = 0;  // accepted only
  std::string refusal;      // not accepted only: the planning error
};

struct CudnnGruState;  // kernels/cuda/gru_cudnn_state.h

// Made once per (layer, shape), outside the training step: owns the descriptors, cuDNN's weight and weight-gradient
// spaces, the reserve space that carries the forward to the backward, and the map between PyTorch's four tensors
// and cuDNN's weight space; it grows the context's workspace to cuDNN's need. A plan serves one sequence at a
// time: each backward must follow its own forward.
struct CudnnGruPlan {
  GruShape shape;
  CudnnGruOptions options;
  std::shared_ptr<CudnnGruState> cudnn;
  std::vector<GruAlgorithmTrial> trials;  // the search, when make_fastest_cudnn_gru_plan made the plan
};

namespace cuda {

// Throws (with the shape, algorithm and cuDNN's status) when cuDNN rejects the configuration; for the persistent
// algorithms that includes a rejection during the trial forward and backward run here.
CudnnGruPlan make_cudnn_gru_plan(const Context& ctx, const GruShape& shape, const CudnnGruOptions& options);

// The GRU's autotuning: plans every algorithm (options.algorithm is ignored), times each one cuDNN accepts (one
// warm-up, then the mean of three forward and backward passes on zero data, with CUDA events) and returns the
// fastest's plan, its options.algorithm the winner and its trials every algorithm's outcome. The standard
// algorithm must plan; a refusal of a persistent one is recorded, not thrown. Synchronizes: plan time only.
CudnnGruPlan make_fastest_cudnn_gru_plan(const Context& ctx, const GruShape& shape, const CudnnGruOptions& options);

// x (T, N, I) -> h (T, N, H), every step's hidden state. Copies the four weights into cuDNN's weight space first
// (device-to-device) and runs cudnnRNNForward in training mode, filling the plan's reserve space.
void gru_cudnn_forward(const Context& ctx, const CudnnGruPlan& plan, const float* x, const GruWeights& weights,
                       float* h);
// Given dh (T, N, H), the gradient of the loss with respect to every hidden state (zeros where unused), and the
// x and h of the last gru_cudnn_forward of this plan: writes dx (T, N, I) and the four weight gradients.
void gru_cudnn_backward(const Context& ctx, const CudnnGruPlan& plan, const float* x, const float* h, const float* dh,
                        float* dx, const GruGradients& grads);

}  // namespace cuda
}  // namespace rosetta::kernels
