// The CUDA side of a GruPlan (kernels/gru.h): the cuDNN state (descriptors, the buffers cuDNN's RNN API keeps between
// calls, and the map from PyTorch's four GRU tensors to cuDNN's weight space) and the two implementations' functions
// that kernels/cuda/gru.cpp dispatches to. Included by the CUDA twin's files and by tests that inspect a plan.
//
// Weight spaces: rosetta's GRU layer keeps PyTorch's weight_ih_l0 (3H, I), weight_hh_l0 (3H, H), bias_ih_l0 and
// bias_hh_l0 (3H) as one packed block of its parameter arena (kernels/gru.h's gru_packed_elements). `segments` lists,
// for every gate matrix and bias vector cudnnGetRNNWeightParams reports (linear-layer ids 0-2: the input side's r,
// z, n; 3-5: the recurrent side's r, z, n, which is PyTorch's row order), where its rows sit in the PyTorch tensor
// and in cuDNN's space, with runs that are contiguous on both sides merged. When those runs are the packed block
// exactly (GruPlan::cudnn_space_packed, checked at plan time), a packed block is cuDNN's weight space and its
// gradient the weight-gradient space: the passes read and write them in place. Otherwise (another cuDNN's layout,
// or weights that are not packed, as in tests of the kernels) the plan's own spaces are used: the forward copies
// tensors -> space and the backward the gradient space -> gradient tensors, a few device-to-device copies of ~150 KB
// a step; GruPlan::cudnn_space_note says why, and the layer's record names it.
//
// Invariants: made only at plan time (plan_cudnn_gru) and never changed afterwards; owns and destroys its descriptors and
// buffers. The reserve space carries one forward to its backward, so one plan serves one sequence at a time.
#pragma once
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/gru.h"
#include "runtime/allocator.h"

namespace rosetta::kernels {

struct GruWeightSegment {
  GruTensor tensor;
  std::int64_t tensor_offset;  // elements into the PyTorch tensor
  std::size_t space_offset;    // bytes into cuDNN's weight space
  std::size_t bytes;
};

struct CudnnGruState {
  cudnnDropoutDescriptor_t dropout = nullptr;  // no dropout (one layer), required by the RNN descriptor
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t x = nullptr;  // (T, N, I) sequence-major (packed, or unpacked with padded I/O), every length T
  cudnnRNNDataDescriptor_t y = nullptr;  // (T, N, H)
  cudnnTensorDescriptor_t state = nullptr;  // (1, N, H): hx, hy, dhy, dhx
  cudnnMathType_t math_type = CUDNN_FMA_MATH;

  std::size_t weight_space_bytes = 0, workspace_bytes = 0, reserve_bytes = 0;
  std::unique_ptr<Storage> weights;       // cuDNN's weight space
  std::unique_ptr<Storage> weight_grads;  // its gradient, same layout
  std::unique_ptr<Storage> reserve;       // written by the forward, read (and modified) by the backward
  std::unique_ptr<Storage> seq_lengths;   // (N) int32 = T, device memory (devSeqLengths)
  std::unique_ptr<Storage> zero_state;    // (N, H) zeros: h[-1] and the gradient of the final state
  std::unique_ptr<Storage> spare_state;   // (N, H): cuDNN writes hy and dhx here; rosetta does not read them
  std::vector<GruWeightSegment> segments;

  CudnnGruState() = default;
  CudnnGruState(const CudnnGruState&) = delete;
  CudnnGruState& operator=(const CudnnGruState&) = delete;
  ~CudnnGruState();
};

namespace cuda {

// cuDNN's RNN API (kernels/cuda/gru_cudnn.cpp): the plan of the algorithm options.algorithm names (a persistent one
// after a trial run, so cuDNN's refusal is a planning error), and the passes, on the weights in place or copied
// (above).
GruPlan plan_cudnn_gru_algorithm(const Context& ctx, const GruShape& shape, const GruOptions& options);
void cudnn_gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights, float* h);
void cudnn_gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights,
                        const float* h, const float* dh, float* dx, const GruGradients& grads);

// `plan` takes the implementation, algorithm and device state of `made` (a plan of the same shape and options).
void adopt_plan(GruPlan& plan, GruPlan&& made);

// The search (kernels/cuda/gru_search.cpp) of a plan whose options leave the choice open (automatic, or cudnn
// without an algorithm): the choice the GRU algorithm cache holds for its key, or each candidate timed and the
// fastest kept (and cached).
void plan_searched_gru(const Context& ctx, GruPlan& plan);

// The persistent GRU (kernels/cuda/gru_persistent.cu): its plan (the launch layout, or a refusal naming the shape),
// and passes.
void plan_persistent_gru(const Context& ctx, GruPlan& plan);
void persistent_gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights,
                            float* h, float* reserve);
void persistent_gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights,
                             const float* h, const float* reserve, const float* dh, float* dx,
                             const GruGradients& grads);

// The hand-built GRU (kernels/cuda/gru_naive.cu): its plan (reserve and workspace) and passes.
void plan_naive_gru(const Context& ctx, GruPlan& plan);
void naive_gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights, float* h,
                       float* reserve);
void naive_gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights,
                        const float* h, const float* reserve, const float* dh, float* dx, const GruGradients& grads);
// The backward's work after the recurrence, from the pre-activation gradients d(ax), d(ah) (TN, 3H) of all steps:
// dx = d(ax) W_ih, dW_ih = d(ax)^T x, dW_hh = d(ah)[1..]^T h[..T-2] (three GEMMs in the plan's precision) and the
// bias gradients as column sums (deterministic). Shared by the naive and the persistent GRU.
void gru_backward_gemms(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights,
                        const float* h, const float* dax, const float* dah, float* dx, const GruGradients& grads);

}  // namespace cuda
}  // namespace rosetta::kernels
