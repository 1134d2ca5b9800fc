// Which algorithm each pass of a CUDA convolution plan runs (kernels/cuda/conv_state.h).
//
// Autotune (the default) asks the process-wide cache (kernels/cuda/conv_algorithm_cache.h) and runs
// cudnnFind*AlgorithmEx for what it lacks, with the workspace set to the largest any algorithm of the pass asks for,
// capped at the free device memory less a margin, on temporary buffers freed when the search ends; it takes the
// fastest acceptable result and the cache keeps it. Without autotune, cudnnGet*Algorithm_v7's first acceptable
// result that fits in free memory (not cached: it is cheap and needs no buffers). A forward-only plan chooses the
// forward algorithm alone.
//
// Acceptable: the result succeeded, fits the workspace, is deterministic when the options ask, and has a math type
// the precision allows. fp32 takes results reported as CUDNN_FMA_MATH or CUDNN_DEFAULT_MATH (cudnnFind/Get may report
// math types other than the descriptor's), records and runs them under CUDNN_FMA_MATH (PyTorch asserts the same
// when TF32 is off), and prefers those reported as FMA; tf32 and bf16 take any result but
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION and run each under the math type it reports.
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cuda/conv_algorithm_cache.h"
#include "kernels/cuda/conv_state.h"
#include "kernels/elementwise.h"
#include "runtime/allocator.h"
#include "runtime/cuda_check.h"
#include "runtime/half.h"

namespace rosetta::kernels::cuda {
namespace {

// Device memory left free while searching: cuDNN's own allocations, the other stream's feeds.
constexpr std::size_t kSearchMemoryMargin = std::size_t(512) << 20;

bool math_type_allowed(Precision precision, cudnnMathType_t math_type) {
  if (precision == Precision::fp32) return math_type == CUDNN_FMA_MATH || math_type == CUDNN_DEFAULT_MATH;
  return math_type != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The math type a pass runs under: always FMA in fp32 mode, else the one the result was measured with.
cudnnMathType_t run_math_type(Precision precision, cudnnMathType_t reported) {
  return precision == Precision::fp32 ? CUDNN_FMA_MATH : reported;
}

// Free device memory less the margin: the most a search workspace or a heuristic choice may take.
std::size_t allocatable_bytes() {
  std::size_t free_bytes = 0, total_bytes = 0;
  ROSETTA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes > kSearchMemoryMargin ? free_bytes - kSearchMemoryMargin : 0;
}

// Temporary x, w and y buffers that cudnnFind*AlgorithmEx reads and writes; freed when the search ends. Filled
// with non-zero values, since some kernels run faster on zeros than on real data. Float buffers are sized in floats
// whatever the precision; a bf16 buffer is filled through the float fill with a word whose two bf16 halves are the
// same value (so every element is that value).
struct SearchBuffers {
  Storage x, w, y;
  SearchBuffers(const Context& ctx, const ConvShape& shape, Precision precision)
      : x(Memory::device, bytes(shape.n * shape.c * shape.h * shape.w)),
        w(Memory::device, bytes(shape.k * shape.c * shape.r * shape.s)),
        y(Memory::device, bytes(shape.n * shape.k * shape.out_h() * shape.out_w())) {
    fill_with(ctx, x, 0.5f, precision);
    fill_with(ctx, w, 0.25f, precision);
    fill_with(ctx, y, 0.125f, precision);
  }
  static std::size_t bytes(std::int64_t elements) { return static_cast<std::size_t>(elements) * sizeof(float); }
  static void fill_with(const Context& ctx, Storage& buffer, float value, Precision precision) {
    float word = value;
    if (precision == Precision::bf16) {
      const std::uint32_t half = f32_to_bf16_bits(value);
      word = bits_float((half << 16) | half);
    }
    kernels::fill(ctx, static_cast<float*>(buffer.data()), word, static_cast<std::int64_t>(buffer.bytes() / sizeof(float)));
  }
};

// The legacy API of each pass, behind one interface (descriptors in the order each function takes them).
template <ConvPass Pass>
struct PassApi;

template <>
struct PassApi<ConvPass::forward> {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  static constexpr int kAlgorithms = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t handle, int* count) {
    return cudnnGetConvolutionForwardAlgorithmMaxCount(handle, count);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t handle, const CudnnConvState& s, int requested, int* returned,
                                  Perf* perf) {
    return cudnnGetConvolutionForwardAlgorithm_v7(handle, s.x, s.w, s.conv[0], s.y, requested, returned, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t handle, const CudnnConvState& s, SearchBuffers& b, int requested,
                            int* returned, Perf* perf, void* workspace, std::size_t workspace_bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(handle, s.x, b.x.data(), s.w, b.w.data(), s.conv[0], s.y, b.y.data(),
                                                  requested, returned, perf, workspace, workspace_bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t handle, const CudnnConvState& s, int algo, std::size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(handle, s.x, s.w, s.conv[0], s.y, static_cast<Algo>(algo), bytes);
  }
};

template <>
struct PassApi<ConvPass::backward_data> {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  static constexpr int kAlgorithms = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t handle, int* count) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, count);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t handle, const CudnnConvState& s, int requested, int* returned,
                                  Perf* perf) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, s.w, s.y, s.conv[1], s.x, requested, returned, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t handle, const CudnnConvState& s, SearchBuffers& b, int requested,
                            int* returned, Perf* perf, void* workspace, std::size_t workspace_bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(handle, s.w, b.w.data(), s.y, b.y.data(), s.conv[1], s.x,
                                                       b.x.data(), requested, returned, perf, workspace,
                                                       workspace_bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t handle, const CudnnConvState& s, int algo, std::size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, s.w, s.y, s.conv[1], s.x, static_cast<Algo>(algo),
                                                        bytes);
  }
};

template <>
struct PassApi<ConvPass::backward_filter> {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  static constexpr int kAlgorithms = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t handle, int* count) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, count);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t handle, const CudnnConvState& s, int requested, int* returned,
                                  Perf* perf) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, s.x, s.y, s.conv[2], s.w, requested, returned, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t handle, const CudnnConvState& s, SearchBuffers& b, int requested,
                            int* returned, Perf* perf, void* workspace, std::size_t workspace_bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, s.x, b.x.data(), s.y, b.y.data(), s.conv[2], s.w,
                                                         b.w.data(), requested, returned, perf, workspace,
                                                         workspace_bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t handle, const CudnnConvState& s, int algo, std::size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, s.x, s.y, s.conv[2], s.w, static_cast<Algo>(algo),
                                                          bytes);
  }
};

// The results that succeeded, fit the options and need at most `workspace_limit` bytes, in cuDNN's order (for
// cudnnFind, fastest first). In fp32 mode the results cuDNN reports as CUDNN_FMA_MATH come before those it reports
// as CUDNN_DEFAULT_MATH (which, timed under a math type that permits TF32, may have been timed as TF32 kernels);
// both run under FMA math.
template <typename Perf>
std::vector<ConvAlgorithmChoice> acceptable(const std::vector<Perf>& perf, int returned, const ConvOptions& options,
                                            std::size_t workspace_limit, bool measured) {
  std::vector<ConvAlgorithmChoice> choices;
  std::vector<bool> reported_fma;
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[static_cast<std::size_t>(i)];
    if (p.status != CUDNN_STATUS_SUCCESS || !math_type_allowed(options.precision, p.mathType) ||
        (options.deterministic && p.determinism != CUDNN_DETERMINISTIC) || p.memory > workspace_limit)
      continue;
    ConvAlgorithmChoice choice;
    choice.backend = ConvBackend::cudnn;
    choice.algo = static_cast<std::int32_t>(p.algo);
    choice.math_type = static_cast<std::int32_t>(run_math_type(options.precision, p.mathType));
    choice.workspace_bytes = p.memory;
    choice.time_ms = measured ? p.time : 0.0f;
    choice.deterministic = p.determinism == CUDNN_DETERMINISTIC;
    choices.push_back(choice);
    reported_fma.push_back(p.mathType == CUDNN_FMA_MATH);
  }
  if (options.precision == Precision::fp32) {
    std::vector<ConvAlgorithmChoice> ordered;
    for (bool fma_first : {true, false})
      for (std::size_t i = 0; i < choices.size(); ++i)
        if (reported_fma[i] == fma_first) ordered.push_back(choices[i]);
    choices.swap(ordered);
  }
  return choices;
}

[[noreturn]] void fail_no_algorithm(ConvPass pass, const ConvShape& shape, const ConvOptions& options,
                                    std::size_t workspace_limit, const char* how) {
  ROSETTA_FAIL("no cuDNN " << conv_pass_name(pass) << " algorithm from " << how << " fits precision "
                           << precision_name(options.precision) << (options.deterministic ? ", deterministic" : "")
                           << " and " << workspace_limit << " bytes of workspace, for convolution " << shape.str());
}

// cudnnFind*AlgorithmEx for one pass: every acceptable measured result, fastest first.
template <ConvPass Pass>
std::vector<ConvAlgorithmChoice> search(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                        const CudnnConvState& state, SearchBuffers& buffers) {
  using Api = PassApi<Pass>;
  cudnnHandle_t handle = ctx.cudnn();
  std::size_t largest = 0;
  for (int algo = 0; algo < Api::kAlgorithms; ++algo) {
    std::size_t bytes = 0;  // an algorithm that does not support the shape reports an error: skipped
    if (Api::workspace(handle, state, algo, &bytes) == CUDNN_STATUS_SUCCESS) largest = std::max(largest, bytes);
  }
  const std::size_t limit = std::min(largest, allocatable_bytes());
  std::unique_ptr<Storage> workspace = limit > 0 ? std::make_unique<Storage>(Memory::device, limit) : nullptr;
  int requested = 0, returned = 0;
  ROSETTA_CUDNN_CHECK(Api::max_count(handle, &requested), "convolution " << shape.str());
  std::vector<typename Api::Perf> perf(static_cast<std::size_t>(std::max(requested, 1)));
  ROSETTA_CUDNN_CHECK(Api::find(handle, state, buffers, requested, &returned, perf.data(),
                                     workspace ? workspace->data() : nullptr, limit), "convolution " << shape.str());
  std::vector<ConvAlgorithmChoice> choices = acceptable(perf, returned, options, limit, true);
  if (choices.empty()) fail_no_algorithm(Pass, shape, options, limit, "cudnnFind");
  return choices;
}

// cudnnGet*Algorithm_v7 for one pass: the first acceptable result that fits in free memory.
template <ConvPass Pass>
ConvAlgorithmChoice heuristic(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                              const CudnnConvState& state) {
  using Api = PassApi<Pass>;
  int requested = 0, returned = 0;
  ROSETTA_CUDNN_CHECK(Api::max_count(ctx.cudnn(), &requested), "convolution " << shape.str());
  std::vector<typename Api::Perf> perf(static_cast<std::size_t>(std::max(requested, 1)));
  ROSETTA_CUDNN_CHECK(Api::heuristics(ctx.cudnn(), state, requested, &returned, perf.data()), "convolution " << shape.str());
  const std::size_t limit = allocatable_bytes();
  const std::vector<ConvAlgorithmChoice> choices = acceptable(perf, returned, options, limit, false);
  if (choices.empty()) fail_no_algorithm(Pass, shape, options, limit, "cudnnGet_v7");
  return choices.front();
}

std::vector<ConvAlgorithmChoice> search_pass(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                             const CudnnConvState& state, SearchBuffers& buffers, ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return search<ConvPass::forward>(ctx, shape, options, state, buffers);
    case ConvPass::backward_data: return search<ConvPass::backward_data>(ctx, shape, options, state, buffers);
    case ConvPass::backward_filter: return search<ConvPass::backward_filter>(ctx, shape, options, state, buffers);
  }
  return {};
}

ConvAlgorithmChoice heuristic_pass(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                   const CudnnConvState& state, ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return heuristic<ConvPass::forward>(ctx, shape, options, state);
    case ConvPass::backward_data: return heuristic<ConvPass::backward_data>(ctx, shape, options, state);
    case ConvPass::backward_filter: return heuristic<ConvPass::backward_filter>(ctx, shape, options, state);
  }
  return {};
}

constexpr ConvPass kPasses[kConvPassCount] = {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter};

std::vector<ConvPass> planned_passes(const ConvOptions& options) {
  if (options.forward_only) return {ConvPass::forward};
  return std::vector<ConvPass>(std::begin(kPasses), std::end(kPasses));
}

const CudnnConvState& state_of(const ConvPlan& plan, const char* what) {
  ROSETTA_CHECK(plan.cudnn, what << " on CUDA with a plan made for the CPU: " << plan.shape.str());
  return *plan.cudnn;
}

}  // namespace

void choose_conv_algorithms(const Context& ctx, ConvPlan& plan, CudnnConvState& state) {
  const ConvShape& shape = plan.shape;
  const ConvOptions& options = plan.options;
  const std::vector<ConvPass> passes = planned_passes(options);
  if (!options.autotune) {
    for (ConvPass pass : passes) apply_conv_choice(ctx, plan, state, pass, heuristic_pass(ctx, shape, options, state, pass));
    return;
  }
  int device = 0;
  ROSETTA_CUDA_CHECK(cudaGetDevice(&device));
  ConvAlgorithmCache& cache = conv_algorithm_cache();
  std::optional<ConvAlgorithmChoice> chosen[kConvPassCount];
  for (ConvPass pass : passes) chosen[static_cast<int>(pass)] = cache.find(make_conv_algorithm_key(device, shape, options, pass));
  const bool all_cached = std::all_of(passes.begin(), passes.end(), [&](ConvPass p) { return chosen[int(p)].has_value(); });
  if (!all_cached) {
    SearchBuffers buffers(ctx, shape, options.precision);
    for (ConvPass pass : passes)
      if (!chosen[static_cast<int>(pass)])
        chosen[static_cast<int>(pass)] = search_pass(ctx, shape, options, state, buffers, pass).front();
  }
  for (ConvPass pass : passes) {
    apply_conv_choice(ctx, plan, state, pass, *chosen[static_cast<int>(pass)]);
    cache.insert(make_conv_algorithm_key(device, shape, options, pass), plan.of(pass));
  }
  cache.count_plan(!all_cached);
}

std::vector<ConvAlgorithmChoice> find_conv_algorithms(const Context& ctx, const ConvPlan& plan, ConvPass pass) {
  state_of(plan, "find_conv_algorithms");
  const std::shared_ptr<CudnnConvState> state = create_conv_descriptors(plan.shape, plan.options);
  SearchBuffers buffers(ctx, plan.shape, plan.options.precision);
  return search_pass(ctx, plan.shape, plan.options, *state, buffers, pass);
}

ConvPlan conv_plan_with_choice(const Context& ctx, const ConvPlan& plan, ConvPass pass,
                               const ConvAlgorithmChoice& choice) {
  state_of(plan, "conv_plan_with_choice");
  ROSETTA_CHECK(choice.backend == ConvBackend::cudnn,
                "a CUDA plan runs cuDNN's algorithms, not " << conv_choice_name(pass, choice) << ": " << plan.shape.str());
  ConvPlan variant = plan;
  std::shared_ptr<CudnnConvState> state = create_conv_descriptors(plan.shape, plan.options);
  for (ConvPass p : kPasses)
    if (!plan.options.forward_only || p == ConvPass::forward || p == pass)
      apply_conv_choice(ctx, variant, *state, p, p == pass ? choice : plan.of(p));
  variant.fused_identity =
      variant.fused_relu && variant.of(ConvPass::forward).algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  variant.cudnn = std::move(state);
  ctx.workspace(static_cast<std::size_t>(variant.workspace_bytes()));
  return variant;
}

}  // namespace rosetta::kernels::cuda
