// The GRU on cuDNN 9's RNN API (cudnnRNNForward, cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8), planned
// once per shape (kernels/gru.h, kernels/cuda/gru_state.h).
//
// Configuration: CUDNN_GRU, unidirectional, linear input, double bias (PyTorch's b_ih and b_hh), float data and
// float math, one layer, no dropout, data (T, N, C) with every sequence length T: by default in
// CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED without padded I/O (for equal lengths the packed layout is exactly the
// (T, N, C) array), as an ablation (options.padded_io) in SEQ_MAJOR_UNPACKED with CUDNN_RNN_PADDED_IO_ENABLED,
// which the unpacked layouts require. cuDNN's GRU is PyTorch's: the reset gate multiplies (W_hn h + b_hn), and its
// linear-layer ids 0, 1, 2 (input side) and 3, 4, 5 (recurrent side) are the reset, update and new gates,
// PyTorch's row order r | z | n (PyTorch's own cuDNN path views weight_ih_l0 and weight_hh_l0 as ids 0-2 and 3-5
// of cuDNN's weight space, one dense row-major (H, C) matrix per id).
// Math type: Precision::fp32 is CUDNN_FMA_MATH (no TF32), tf32 is CUDNN_DEFAULT_MATH, which lets cuDNN use TF32
// tensor ops for float data (PyTorch's choice for the same two modes); the GRU's tensors are float, so bf16 is
// rejected.
//
// The initial state h[-1] and the gradient of the final state are explicit zero buffers; cuDNN writes the final
// state and dL/dh[-1] into a spare buffer nobody reads. devSeqLengths is a device array of N copies of T. The
// weights are read in place when the plan found cuDNN's weight space to be the layer's packed block (else copied
// in), and the weight gradient is zeroed, then accumulated (CUDNN_WGRAD_MODE_ADD) in place or into the plan's space
// and copied out (kernels/cuda/gru_state.h).
// Everything is created and allocated at plan time (cuDNN's workspace is the context's, grown there); the passes
// create and allocate nothing. A plan without an algorithm is the search's (kernels/cuda/gru_search.cpp).
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/gru_state.h"
#include "kernels/cuda/gru_trial.h"
#include "kernels/gru.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels {

CudnnGruState::~CudnnGruState() {
  // Destructors must not throw; a failed destroy at teardown has nothing useful left to report.
  if (state) cudnnDestroyTensorDescriptor(state);
  if (y) cudnnDestroyRNNDataDescriptor(y);
  if (x) cudnnDestroyRNNDataDescriptor(x);
  if (rnn) cudnnDestroyRNNDescriptor(rnn);
  if (dropout) cudnnDestroyDropoutDescriptor(dropout);
}

namespace cuda {
namespace {

std::string describe(const GruShape& shape, const GruOptions& options) {
  std::ostringstream os;
  os << "cuDNN GRU " << shape.str() << ", algorithm "
     << (options.algorithm ? gru_cudnn_algorithm_name(*options.algorithm) : "to be timed") << ", "
     << precision_name(options.precision) << (options.padded_io ? ", unpacked padded I/O" : ", packed I/O");
  return os.str();
}

cudnnRNNAlgo_t cudnn_algorithm(GruCudnnAlgorithm algorithm) {
  switch (algorithm) {
    case GruCudnnAlgorithm::standard: return CUDNN_RNN_ALGO_STANDARD;
    case GruCudnnAlgorithm::persist_static: return CUDNN_RNN_ALGO_PERSIST_STATIC;
    case GruCudnnAlgorithm::persist_dynamic: return CUDNN_RNN_ALGO_PERSIST_DYNAMIC;
    case GruCudnnAlgorithm::persist_static_small_h: return CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
  }
  return CUDNN_RNN_ALGO_STANDARD;
}

std::unique_ptr<Storage> device_buffer(std::size_t bytes) { return std::make_unique<Storage>(Memory::device, bytes); }

// Element count of a parameter descriptor cudnnGetRNNWeightParams filled, after checking it is dense float.
std::int64_t dense_elements(cudnnTensorDescriptor_t descriptor, const GruShape& shape, const GruOptions& options,
                            int lin_layer, const char* what) {
  cudnnDataType_t type;
  int rank = 0, dims[CUDNN_DIM_MAX] = {}, strides[CUDNN_DIM_MAX] = {};
  ROSETTA_CUDNN_CHECK(cudnnGetTensorNdDescriptor(descriptor, CUDNN_DIM_MAX, &type, &rank, dims, strides), describe(shape, options));
  ROSETTA_CHECK(type == CUDNN_DATA_FLOAT && rank >= 1 && rank <= CUDNN_DIM_MAX,
                "cuDNN reports " << what << " of linear layer " << lin_layer << " with data type " << type << " and "
                                 << rank << " dimensions (" << describe(shape, options) << ")");
  std::int64_t elements = 1;
  for (int d = rank - 1; d >= 0; --d) {
    ROSETTA_CHECK(dims[d] == 1 || strides[d] == elements,
                  "cuDNN reports " << what << " of linear layer " << lin_layer << " with a non-dense stride "
                                   << strides[d] << " in dimension " << d << " (" << describe(shape, options) << ")");
    elements *= dims[d];
  }
  return elements;
}

// Owns the two descriptors cudnnGetRNNWeightParams fills while the weight space is mapped.
struct ParamDescriptors {
  cudnnTensorDescriptor_t matrix = nullptr, bias = nullptr;
  ~ParamDescriptors() {
    if (matrix) cudnnDestroyTensorDescriptor(matrix);
    if (bias) cudnnDestroyTensorDescriptor(bias);
  }
};

// Where PyTorch's gate rows live in cuDNN's weight space (see gru_cudnn_state.h), contiguous runs merged.
std::vector<GruWeightSegment> map_weight_space(const Context& ctx, const CudnnGruState& st, const GruShape& shape,
                                               const GruOptions& options) {
  ParamDescriptors descriptors;
  ROSETTA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&descriptors.matrix), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&descriptors.bias), describe(shape, options));
  const char* base = static_cast<const char*>(st.weights->data());
  std::vector<GruWeightSegment> matrices, biases;
  for (int id = 0; id < 6; ++id) {
    const bool input_side = id < 3;
    const std::int64_t gate = id % 3, columns = input_side ? shape.i : shape.h;
    void* matrix = nullptr;
    void* bias = nullptr;
    ROSETTA_CUDNN_CHECK(cudnnGetRNNWeightParams(ctx.cudnn(), st.rnn, 0, st.weight_space_bytes, st.weights->data(),
                                                    id, descriptors.matrix, &matrix, nullptr, nullptr), describe(shape, options));
    ROSETTA_CUDNN_CHECK(cudnnGetRNNWeightParams(ctx.cudnn(), st.rnn, 0, st.weight_space_bytes, st.weights->data(),
                                                    id, nullptr, nullptr, descriptors.bias, &bias), describe(shape, options));
    const std::int64_t matrix_elements = dense_elements(descriptors.matrix, shape, options, id, "the matrix");
    const std::int64_t bias_elements = dense_elements(descriptors.bias, shape, options, id, "the bias");
    ROSETTA_CHECK(matrix && bias && matrix_elements == shape.h * columns && bias_elements == shape.h,
                  "cuDNN reports linear layer " << id << " with a " << matrix_elements << "-element matrix and a "
                                                << bias_elements << "-element bias, expected " << shape.h * columns
                                                << " and " << shape.h << " (" << describe(shape, options) << ")");
    const auto offset = [&](const void* p, std::int64_t elements) {
      const std::ptrdiff_t bytes = static_cast<const char*>(p) - base;
      const std::size_t end = static_cast<std::size_t>(bytes) + static_cast<std::size_t>(elements) * sizeof(float);
      ROSETTA_CHECK(bytes >= 0 && end <= st.weight_space_bytes,
                    "cuDNN places linear layer " << id << " outside its weight space (" << describe(shape, options)
                                                 << ")");
      return static_cast<std::size_t>(bytes);
    };
    matrices.push_back(GruWeightSegment{input_side ? GruTensor::w_ih : GruTensor::w_hh, gate * shape.h * columns,
                                        offset(matrix, matrix_elements),
                                        static_cast<std::size_t>(matrix_elements) * sizeof(float)});
    biases.push_back(GruWeightSegment{input_side ? GruTensor::b_ih : GruTensor::b_hh, gate * shape.h,
                                      offset(bias, bias_elements),
                                      static_cast<std::size_t>(bias_elements) * sizeof(float)});
  }
  std::vector<GruWeightSegment> merged;
  for (const std::vector<GruWeightSegment>* list : {&matrices, &biases})
    for (const GruWeightSegment& s : *list) {
      if (!merged.empty()) {
        GruWeightSegment& last = merged.back();
        if (last.tensor == s.tensor &&
            last.tensor_offset + static_cast<std::int64_t>(last.bytes / sizeof(float)) == s.tensor_offset &&
            last.space_offset + last.bytes == s.space_offset) {
          last.bytes += s.bytes;
          continue;
        }
      }
      merged.push_back(s);
    }
  return merged;
}

const CudnnGruState& state_for(const GruPlan& plan, const char* pass) {
  ROSETTA_CHECK(plan.cudnn, pass << " on cuDNN with a plan made without it (" << describe(plan.shape, plan.options) << ")");
  return *plan.cudnn;
}

const float* tensor_of(const GruWeights& w, GruTensor t) {
  const float* const tensors[4] = {w.w_ih, w.w_hh, w.b_ih, w.b_hh};
  return tensors[static_cast<int>(t)];
}
float* tensor_of(const GruGradients& g, GruTensor t) {
  float* const tensors[4] = {g.w_ih, g.w_hh, g.b_ih, g.b_hh};
  return tensors[static_cast<int>(t)];
}

// PyTorch's four tensors -> the plan's weight space, on ctx's stream.
void pack_weights(const Context& ctx, const CudnnGruState& st, const GruWeights& weights) {
  char* space = static_cast<char*>(st.weights->data());
  for (const GruWeightSegment& s : st.segments)
    ROSETTA_CUDA_CHECK(cudaMemcpyAsync(space + s.space_offset, tensor_of(weights, s.tensor) + s.tensor_offset, s.bytes,
                                       cudaMemcpyDeviceToDevice, ctx.stream()));
}

// The plan's weight-gradient space -> PyTorch's four gradient tensors, on ctx's stream.
void unpack_gradients(const Context& ctx, const CudnnGruState& st, const GruGradients& grads) {
  const char* space = static_cast<const char*>(st.weight_grads->data());
  for (const GruWeightSegment& s : st.segments)
    ROSETTA_CUDA_CHECK(cudaMemcpyAsync(tensor_of(grads, s.tensor) + s.tensor_offset, space + s.space_offset, s.bytes,
                                       cudaMemcpyDeviceToDevice, ctx.stream()));
}

// Where the packed block would put each segment: the space is that block exactly when cuDNN's map (merged into runs)
// is the four tensors whole, in order, at the block's offsets, and nothing more. Empty when it is; else where not.
std::string packed_mismatch(const CudnnGruState& st, const GruShape& shape) {
  const std::size_t bytes = static_cast<std::size_t>(gru_packed_elements(shape)) * sizeof(float);
  std::ostringstream why;
  if (st.segments.size() != 4) {
    why << "cuDNN's weight space holds the four tensors in " << st.segments.size() << " runs, not 4";
    return why.str();
  }
  for (int t = 0; t < 4; ++t) {
    const GruTensor tensor = static_cast<GruTensor>(t);
    const GruWeightSegment& seg = st.segments[static_cast<std::size_t>(t)];
    const auto at = static_cast<std::size_t>(gru_packed_offset(shape, tensor)) * sizeof(float);
    const auto size = static_cast<std::size_t>(gru_tensor_elements(shape, tensor)) * sizeof(float);
    if (seg.tensor != tensor || seg.tensor_offset != 0 || seg.space_offset != at || seg.bytes != size) {
      why << "cuDNN places run " << t << " (tensor " << static_cast<int>(seg.tensor) << " from element "
          << seg.tensor_offset << ", " << seg.bytes << " bytes) at byte " << seg.space_offset
          << ", the packed block has tensor " << t << " (" << size << " bytes) at byte " << at;
      return why.str();
    }
  }
  if (st.weight_space_bytes != bytes) {
    why << "cuDNN's weight space is " << st.weight_space_bytes << " bytes, the packed block " << bytes;
    return why.str();
  }
  return "";
}

// The weight space a pass reads: the caller's packed block in place, or the plan's own, filled by a copy.
const void* weight_space(const Context& ctx, const GruPlan& plan, const GruWeights& weights) {
  const CudnnGruState& st = *plan.cudnn;
  if (plan.cudnn_space_packed && gru_weights_packed(plan.shape, weights)) return weights.w_ih;
  pack_weights(ctx, st, weights);
  return st.weights->data();
}

// cudnnRNNForward in training mode.
void run_forward(const Context& ctx, const GruPlan& plan, const float* x, const void* space, float* h) {
  const CudnnGruState& st = *plan.cudnn;
  const auto* lengths = static_cast<const std::int32_t*>(st.seq_lengths->data());
  ROSETTA_CUDNN_CHECK(
      cudnnRNNForward(ctx.cudnn(), st.rnn, CUDNN_FWD_MODE_TRAINING, lengths, st.x, x, st.y, h, st.state,
                      st.zero_state->data(), st.spare_state->data(), st.state, nullptr, nullptr, st.weight_space_bytes,
                      space, st.workspace_bytes, ctx.workspace(st.workspace_bytes), st.reserve_bytes,
                      st.reserve->data()), describe(plan.shape, plan.options));
}

// cudnnRNNBackwardData_v8 (dx) then cudnnRNNBackwardWeights_v8 into `grad_space`, zeroed first (cuDNN only adds).
void run_backward(const Context& ctx, const GruPlan& plan, const float* x, const float* h, const float* dh,
                  float* dx, const void* space, void* grad_space) {
  const CudnnGruState& st = *plan.cudnn;
  const auto* lengths = static_cast<const std::int32_t*>(st.seq_lengths->data());
  void* workspace = ctx.workspace(st.workspace_bytes);
  ROSETTA_CUDNN_CHECK(
      cudnnRNNBackwardData_v8(ctx.cudnn(), st.rnn, lengths, st.y, h, dh, st.x, dx, st.state, st.zero_state->data(),
                              st.zero_state->data(), st.spare_state->data(), st.state, nullptr, nullptr, nullptr,
                              st.weight_space_bytes, space, st.workspace_bytes, workspace, st.reserve_bytes,
                              st.reserve->data()), describe(plan.shape, plan.options));
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(grad_space, 0, st.weight_space_bytes, ctx.stream()));
  ROSETTA_CUDNN_CHECK(
      cudnnRNNBackwardWeights_v8(ctx.cudnn(), st.rnn, CUDNN_WGRAD_MODE_ADD, lengths, st.x, x, st.state,
                                 st.zero_state->data(), st.y, h, st.weight_space_bytes, grad_space, st.workspace_bytes,
                                 workspace, st.reserve_bytes, st.reserve->data()), describe(plan.shape, plan.options));
}

// A forward and backward on zero data, so a persistent algorithm cuDNN turns down fails here, at plan time, rather
// than in the first training step.
void trial_run(const Context& ctx, const GruPlan& plan) {
  GruTrialData data(ctx, plan.shape);
  data.pass(ctx, plan);
  ctx.synchronize();  // the buffers are freed on return
}

}  // namespace

GruPlan plan_cudnn_gru_algorithm(const Context& ctx, const GruShape& shape, const GruOptions& options) {
  ROSETTA_CHECK(options.algorithm, "a cuDNN GRU plan without an algorithm (" << describe(shape, options) << ")");
  const GruCudnnAlgorithm algorithm = *options.algorithm;
  cudnnHandle_t handle = ctx.cudnn();
  auto st = std::make_shared<CudnnGruState>();
  const int T = static_cast<int>(shape.t), N = static_cast<int>(shape.n), I = static_cast<int>(shape.i),
            H = static_cast<int>(shape.h);

  ROSETTA_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&st->dropout), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnSetDropoutDescriptor(st->dropout, handle, 0.0f, nullptr, 0, 0), describe(shape, options));
  st->math_type = options.precision == Precision::fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
  ROSETTA_CUDNN_CHECK(cudnnCreateRNNDescriptor(&st->rnn), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(st->rnn, cudnn_algorithm(algorithm), CUDNN_GRU,
                                                   CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
                                                   CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, st->math_type, I, H, H, 1,
                                                   st->dropout,
                                                   options.padded_io ? CUDNN_RNN_PADDED_IO_ENABLED
                                                                     : CUDNN_RNN_PADDED_IO_DISABLED), describe(shape, options));
  if (algorithm == GruCudnnAlgorithm::persist_dynamic)
    ROSETTA_CUDNN_CHECK(cudnnBuildRNNDynamic(handle, st->rnn, N), describe(shape, options));

  const std::vector<int> lengths(static_cast<std::size_t>(N), T);
  const cudnnRNNDataLayout_t layout =
      options.padded_io ? CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED : CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED;
  ROSETTA_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&st->x), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnSetRNNDataDescriptor(st->x, CUDNN_DATA_FLOAT, layout, T, N, I, lengths.data(), nullptr), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&st->y), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnSetRNNDataDescriptor(st->y, CUDNN_DATA_FLOAT, layout, T, N, H, lengths.data(), nullptr), describe(shape, options));
  const int state_dims[3] = {1, N, H}, state_strides[3] = {N * H, H, 1};
  ROSETTA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&st->state), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnSetTensorNdDescriptor(st->state, CUDNN_DATA_FLOAT, 3, state_dims, state_strides), describe(shape, options));

  ROSETTA_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle, st->rnn, &st->weight_space_bytes), describe(shape, options));
  ROSETTA_CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(handle, st->rnn, CUDNN_FWD_MODE_TRAINING, st->x,
                                                    &st->workspace_bytes, &st->reserve_bytes), describe(shape, options));
  const std::size_t state_bytes = static_cast<std::size_t>(N) * static_cast<std::size_t>(H) * sizeof(float);
  st->weights = device_buffer(st->weight_space_bytes);
  st->weight_grads = device_buffer(st->weight_space_bytes);
  st->reserve = device_buffer(st->reserve_bytes);
  st->seq_lengths = device_buffer(lengths.size() * sizeof(std::int32_t));
  st->zero_state = device_buffer(state_bytes);
  st->spare_state = device_buffer(state_bytes);
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(st->weights->data(), 0, st->weight_space_bytes, ctx.stream()));
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(st->weight_grads->data(), 0, st->weight_space_bytes, ctx.stream()));
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(st->zero_state->data(), 0, state_bytes, ctx.stream()));
  ROSETTA_CUDA_CHECK(cudaMemcpyAsync(st->seq_lengths->data(), lengths.data(), lengths.size() * sizeof(std::int32_t),
                                     cudaMemcpyHostToDevice, ctx.stream()));
  ctx.synchronize();  // `lengths` is freed on return
  ctx.workspace(st->workspace_bytes);
  st->segments = map_weight_space(ctx, *st, shape, options);

  GruPlan plan;
  plan.shape = shape, plan.options = options, plan.cudnn = st;
  plan.cudnn_space_note = packed_mismatch(*st, shape);
  plan.cudnn_space_packed = plan.cudnn_space_note.empty();
  plan.reserve_elements = 0;  // cuDNN keeps its own reserve space in the plan
  if (algorithm != GruCudnnAlgorithm::standard) trial_run(ctx, plan);
  return plan;
}

void cudnn_gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights, float* h) {
  state_for(plan, "gru_forward");
  run_forward(ctx, plan, x, weight_space(ctx, plan, weights), h);
}

void cudnn_gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights,
                        const float* h, const float* dh, float* dx, const GruGradients& grads) {
  const CudnnGruState& st = state_for(plan, "gru_backward");
  // The forward left the plan's own space filled when it copied; in place there is nothing to copy.
  const bool in_place = plan.cudnn_space_packed && gru_weights_packed(plan.shape, weights);
  const void* space = in_place ? static_cast<const void*>(weights.w_ih) : st.weights->data();
  if (plan.cudnn_space_packed && gru_gradients_packed(plan.shape, grads)) {
    run_backward(ctx, plan, x, h, dh, dx, space, grads.w_ih);
  } else {
    run_backward(ctx, plan, x, h, dh, dx, space, st.weight_grads->data());
    unpack_gradients(ctx, st, grads);
  }
}

}  // namespace cuda
}  // namespace rosetta::kernels
