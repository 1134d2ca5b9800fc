// The cuDNN side of a ConvPlan (kernels/conv.h): its descriptors, and the interface between the two halves of the
// CUDA twin: kernels/cuda/conv.cpp (descriptors, planning and the passes: the cuDNN calls a reader comes for) and
// kernels/cuda/conv_search.cpp (which algorithm each pass runs: cudnnFind, heuristics, the algorithm cache).
// Also included by the CUDA tests, to check which math type a plan runs.
//
// Invariants: a CudnnConvState is filled while its plan is made and never changes afterwards (the plan holds it
// const), so a plan can be used from any number of steps; it owns its descriptors and destroys them. Each pass has
// its own convolution descriptor, set to the math type its algorithm was measured with (cuDNN runs an algorithm as
// measured only when the descriptor's math type matches the result's).
#pragma once
#include <cudnn.h>

#include <memory>
#include <vector>

#include "kernels/conv.h"

namespace rosetta::kernels {

struct CudnnConvState {
  cudnnTensorDescriptor_t x = nullptr;                     // (N, C, H, W) float or bf16, plan layout; also dx
  cudnnTensorDescriptor_t y = nullptr;                     // (N, K, OH, OW); also dy
  cudnnFilterDescriptor_t w = nullptr;                     // (K, C, R, S); also dw
  cudnnConvolutionDescriptor_t conv[kConvPassCount] = {};  // by ConvPass
  cudnnTensorDescriptor_t bias = nullptr;                  // (1, K, 1, 1) float: the fused forward's bias
  cudnnActivationDescriptor_t relu = nullptr;              // the fused forward's activations, NaN-propagating
  cudnnActivationDescriptor_t identity = nullptr;

  CudnnConvState() = default;
  CudnnConvState(const CudnnConvState&) = delete;
  CudnnConvState& operator=(const CudnnConvState&) = delete;
  ~CudnnConvState();
};

namespace cuda {

// The descriptors of `shape` under `options` (kernels/cuda/conv.cpp), every convolution descriptor at the math
// type the search runs under.
std::shared_ptr<CudnnConvState> create_conv_descriptors(const ConvShape& shape, const ConvOptions& options);

// Sets `pass`'s convolution descriptor to the choice's math type and records the choice in plan.choices, with the
// workspace cuDNN asks for under that math type (never less than the search reported).
void apply_conv_choice(const Context& ctx, ConvPlan& plan, CudnnConvState& state, ConvPass pass,
                       ConvAlgorithmChoice choice);

// The algorithm of every planned pass (kernels/cuda/conv_search.cpp): with options.autotune from the process-wide
// cache or, for what it lacks, cudnnFind*AlgorithmEx (the fastest acceptable result; the cache keeps it); without,
// cudnnGet*Algorithm_v7's first acceptable result that fits in free memory. Applies each choice to `state`.
void choose_conv_algorithms(const Context& ctx, ConvPlan& plan, CudnnConvState& state);

}  // namespace cuda
}  // namespace rosetta::kernels
