// One-layer unidirectional GRU with PyTorch's nn.GRU equations and parameters (gate rows r | z | n):
//   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))     h' = (1 - z) * n + z * h
// over T steps from h_{-1} = 0, sequences time-major (T, N, C).
//
// As for convolutions, a GruPlan is made once per (layer, shape) by make_gru_plan, outside the training step, and
// passed to every forward and backward. The twin of ctx's device plans its part (kernels/gru.inc's plan_gru):
// - the CPU twin (kernels/cpu/gru.cpp): the input part of all T steps as one GEMM up front, then per step one GEMM
//   for the recurrent part and the cells; the backward mirrors it and forms the weight gradients with GEMMs over
//   all steps at the end;
// - the CUDA twin runs one of three implementations: cudnn, cuDNN's RNN API (kernels/cuda/gru_cudnn.cpp), with its
//   recurrence algorithm given or, when left empty, the fastest cuDNN accepts; persistent, rosetta's own GRU
//   (kernels/cuda/gru_persistent.cu): one launch for all T steps of the forward and one for the backward, each block
//   holding W_hh in registers and owning whole sequences, the input projection and the weight gradients as GEMMs
//   outside the recurrence; or naive, the CPU twin's formulation on cuBLAS and one cell kernel per step
//   (kernels/cuda/gru_naive.cu), the ablation. automatic times cuDNN's algorithms and the persistent GRU and keeps
//   the fastest. Every timing happens at plan time (kernels/cuda/gru_search.cpp) and is remembered in the
//   process-wide GRU algorithm cache and its file (kernels/gru_algorithm_cache.h), so a shape is timed once per
//   machine.
// What the backward needs from the forward is kept in a caller-owned reserve of plan.reserve_elements floats (cuDNN
// keeps its own: 0). Plans grow the context's workspace to their passes' scratch, so a step allocates nothing. A
// plan serves one sequence at a time: each backward follows its own forward.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/gru_persistent_layout.h"
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

// The four tensors back to back, w_ih | w_hh | b_ih | b_hh with no gap, 3H (I + H + 2) floats: the layout in which
// the GRU layer keeps them in its model's parameter arena (layers/gru.h), and the one cuDNN's weight space has when
// its plan says so (GruPlan::cudnn_space_packed), so cuDNN can read them, and write their gradients, in place.
std::int64_t gru_packed_elements(const GruShape& shape);
// The four tensors, in GruWeights / GruGradients order.
enum class GruTensor : int { w_ih = 0, w_hh = 1, b_ih = 2, b_hh = 3 };
// Floats of `tensor`, and from a packed block's start to it.
std::int64_t gru_tensor_elements(const GruShape& shape, GruTensor tensor);
std::int64_t gru_packed_offset(const GruShape& shape, GruTensor tensor);
// The four tensors of a packed block that starts at `base` (3H (I + H + 2) floats).
GruWeights gru_packed_weights(const GruShape& shape, const float* base);
GruGradients gru_packed_gradients(const GruShape& shape, float* base);
// Whether the four pointers are exactly a packed block (w_ih at its start).
bool gru_weights_packed(const GruShape& shape, const GruWeights& weights);
bool gru_gradients_packed(const GruShape& shape, const GruGradients& grads);

// The CUDA twin's implementations (the CPU has one), and automatic: the fastest of cudnn's algorithms and persistent,
// timed at plan time.
enum class GruImplementation { automatic, cudnn, persistent, naive };
inline constexpr GruImplementation kGruImplementations[] = {GruImplementation::automatic, GruImplementation::cudnn,
                                                            GruImplementation::persistent, GruImplementation::naive};
const char* gru_implementation_name(GruImplementation implementation);  // "auto", "cudnn", "persistent", "naive"
bool gru_implementation_from_name(const std::string& name, GruImplementation* implementation);

// cuDNN's recurrence algorithms. The persistent ones keep W_hh on chip across steps; cuDNN accepts them only
// for some shapes, GPUs and precisions, which planning finds out with a trial run.
enum class GruCudnnAlgorithm { standard, persist_static, persist_dynamic, persist_static_small_h };
const char* gru_cudnn_algorithm_name(GruCudnnAlgorithm algorithm);  // "standard", "persist_static", ...
// Inverse of gru_cudnn_algorithm_name; false for an unknown name.
bool gru_cudnn_algorithm_from_name(const std::string& name, GruCudnnAlgorithm* algorithm);

struct GruOptions {
  // Of the GEMMs and cuDNN's math: fp32 (CUDNN_FMA_MATH) or tf32; not bf16. The persistent GRU's recurrence is
  // FP32 FMAs in either (its GEMMs follow the precision).
  Precision precision = Precision::fp32;
  GruImplementation implementation = GruImplementation::cudnn;  // CUDA only
  // cudnn only: the recurrence algorithm; empty: every one cuDNN accepts for the shape is timed at plan time (one
  // warm-up, then the median of five forward and backward passes on zero data) and the fastest is kept. Must be
  // empty for automatic.
  std::optional<GruCudnnAlgorithm> algorithm;
  // cudnn only. false: CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED without padded I/O, which for equal lengths is the
  // same (T, N, C) memory as the unpacked layout. true: SEQ_MAJOR_UNPACKED with CUDNN_RNN_PADDED_IO_ENABLED, the
  // configuration variable-length padded batches need; kept as an ablation (on an H200 neither was measurably faster).
  bool padded_io = false;
};

// One candidate's trial when planning times them: the median time of a forward and backward, or the refusal.
struct GruAlgorithmTrial {
  GruImplementation implementation = GruImplementation::cudnn;  // cudnn or persistent
  GruCudnnAlgorithm algorithm = GruCudnnAlgorithm::standard;     // cudnn only
  bool accepted = false;
  double milliseconds = 0;  // accepted only
  std::string refusal;      // not accepted only: the planning error
};

// Where a plan's implementation and algorithm came from: the options (given), a timing at plan time (timed), or the
// GRU algorithm cache, which holds an earlier timing of the same key (cache).
enum class GruChoiceSource { given, timed, cache };
const char* gru_choice_source_name(GruChoiceSource source);  // "given", "timed", "cache"

struct CudnnGruState;  // kernels/cuda/gru_state.h; null unless the plan runs on cuDNN

struct GruPlan {
  GruShape shape;
  // As asked, with the implementation the one that runs (never automatic) and options.algorithm the one chosen when
  // it is cudnn.
  GruOptions options;
  std::int64_t reserve_elements = 0;  // floats the caller keeps from a forward to its backward
  std::shared_ptr<CudnnGruState> cudnn;
  // cuDNN only: whether its weight space is laid out as the packed block (gru_packed_elements), so that packed
  // weights and gradients are read and written in place; otherwise cudnn_space_note says where it differs and every
  // pass copies the weights in and the gradients out.
  bool cudnn_space_packed = false;
  std::string cudnn_space_note;
  std::optional<GruPersistentLayout> persistent;  // the persistent GRU's launch layout, when it runs
  std::vector<GruAlgorithmTrial> trials;  // the algorithm search, when planning timed the algorithms
  GruChoiceSource source = GruChoiceSource::given;

  bool uses_cudnn() const { return cudnn != nullptr; }
};

// Whether every dimension is positive and every tensor of the shape has at most 2^31 - 1 elements (cuBLAS's and
// cuDNN's int arguments).
bool gru_shape_fits_int(const GruShape& shape);
// Throws unless every dimension is positive and the shape fits int (gru_shape_fits_int).
void validate_gru_shape(const GruShape& shape);

// Checks the shape and options (bf16 is refused, and an algorithm with any implementation but cudnn), then plans on
// ctx's device. Throws, with the shape and the reason, when the implementation or algorithm asked for refuses the
// shape (cuDNN's reason; the persistent GRU's: W_hh does not fit on chip); when timing the candidates, a refusal is
// recorded in the trials, not thrown (cuDNN's standard algorithm must plan).
GruPlan make_gru_plan(const Context& ctx, const GruShape& shape, const GruOptions& options);

namespace cpu {
#include "kernels/gru.inc"
}
namespace cuda {
#include "kernels/gru.inc"
}
ROSETTA_OP(plan_gru)
ROSETTA_OP(gru_forward)
ROSETTA_OP(gru_backward)

}  // namespace rosetta::kernels
