// The cuDNN side of a ConvPlan (kernels/conv.h): descriptors and the algorithm each pass runs, and the search
// that picks them. Included by kernels/cpu/conv.cpp (make_conv_plan hands CUDA contexts here), by the CUDA tests
// (to check which math type was chosen) and by bench/bench_conv.cpp (to time every algorithm cudnnFind offers).
//
// Invariants: a CudnnConvState is made only by make_cudnn_conv_state or conv_plan_with_choice and never
// changes afterwards, so a plan can be used from any number of steps; it owns its descriptors and destroys them.
// Each pass has its own convolution descriptor, set to the math type its algorithm was measured with (cuDNN runs
// an algorithm as measured only when the descriptor's math type matches the result's).
#pragma once
#include <cudnn.h>

#include <memory>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cuda/conv_algorithm_cache.h"

namespace rosetta::kernels {

struct CudnnConvState {
  cudnnTensorDescriptor_t x = nullptr;                           // (N, C, H, W) float or bf16, plan layout; also dx
  cudnnTensorDescriptor_t y = nullptr;                           // (N, K, OH, OW); also dy
  cudnnFilterDescriptor_t w = nullptr;                           // (K, C, R, S); also dw
  cudnnConvolutionDescriptor_t conv[cuda::kConvPassCount] = {};  // by ConvPass
  cuda::ConvAlgorithmChoice choice[cuda::kConvPassCount];        // by ConvPass; only forward in a forward-only plan
  cudnnTensorDescriptor_t bias = nullptr;                        // (1, K, 1, 1): the fused forward's bias
  cudnnActivationDescriptor_t relu = nullptr;                    // the fused forward's activations, NaN-propagating
  cudnnActivationDescriptor_t identity = nullptr;

  CudnnConvState() = default;
  CudnnConvState(const CudnnConvState&) = delete;
  CudnnConvState& operator=(const CudnnConvState&) = delete;
  ~CudnnConvState();

  const cuda::ConvAlgorithmChoice& of(cuda::ConvPass pass) const { return choice[static_cast<int>(pass)]; }
  // The largest of the planned passes' workspaces: what make_conv_plan grows the context's workspace to.
  std::size_t max_workspace_bytes() const;
};

namespace cuda {

// Creates the descriptors for `shape` and chooses the three algorithms (see kernels/conv.h), growing ctx's
// workspace to the largest of their workspaces. With options.autotune the choice comes from the process-wide
// ConvAlgorithmCache, or from cudnnFind*AlgorithmEx on temporary buffers allocated here and freed on return.
std::shared_ptr<CudnnConvState> make_cudnn_conv_state(const Context& ctx, const ConvShape& shape,
                                                      const ConvOptions& options);

// Every algorithm cudnnFind*AlgorithmEx measured successfully for `pass` of plan's shape that the plan's options
// allow (precision, determinism), fastest first. Searches afresh (no cache); for benchmarks and reports.
std::vector<ConvAlgorithmChoice> find_conv_algorithms(const Context& ctx, const ConvPlan& plan, ConvPass pass);

// A plan equal to `plan` except that `pass` runs `choice` (new descriptors). Grows ctx's workspace to fit.
ConvPlan conv_plan_with_choice(const Context& ctx, const ConvPlan& plan, ConvPass pass,
                               const ConvAlgorithmChoice& choice);

// "IMPLICIT_PRECOMP_GEMM", "WINOGRAD_NONFUSED", ... for an algorithm of `pass`; "FMA", "TENSOR_OP", ... for a
// cudnnMathType_t.
const char* conv_algorithm_name(ConvPass pass, int algo);
const char* conv_math_type_name(int math_type);

}  // namespace cuda
}  // namespace rosetta::kernels
