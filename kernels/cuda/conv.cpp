// CUDA twin of the convolution passes, on cuDNN's legacy convolution API, and the plan-time algorithm choice
// (see kernels/cuda/conv_state.h).
//
// Precision: fp32 searches and runs with every convolution descriptor at CUDNN_FMA_MATH, so cuDNN may not use
// TF32 tensor ops (cuDNN 8+ allows TF32 for float data under CUDNN_DEFAULT_MATH). Results reporting a tensor-op
// math type are rejected; results reporting CUDNN_DEFAULT_MATH or CUDNN_FMA_MATH are accepted and recorded as
// CUDNN_FMA_MATH, so the pass always runs under FMA math (PyTorch asserts the same when TF32 is off); results
// reported as FMA are preferred. (cudnnFind/Get may report math types other than the descriptor's.)
// tf32 searches under CUDNN_TENSOR_OP_MATH, accepts any result but CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (FP16
// down-conversion, below TF32's precision) and runs each pass under the math type its result reports.
// bf16 (NHWC, forward-only plans) has x, w and y descriptors in CUDNN_DATA_BFLOAT16 and the convolution descriptor's
// compute type CUDNN_DATA_FLOAT (float accumulation, PyTorch's autocast setting), searched under
// CUDNN_TENSOR_OP_MATH with tf32's rules; it runs through conv2d_forward_bf16 (the fused forward takes floats).
//
// Algorithm choice, per pass: autotune asks the process-wide cache, else runs cudnnFind*AlgorithmEx with the
// workspace set to the largest any algorithm of the pass asks for, capped at the free device memory less a
// margin, and takes the fastest acceptable result; without autotune cudnnGet*Algorithm_v7's first acceptable
// result that fits in free memory. A forward-only plan (inference) chooses the forward algorithm alone. The passes
// then run with alpha 1, beta 0 on ctx's cuDNN handle (bound to its main stream) and its workspace, which the plan
// already grew: the step creates and allocates nothing. The fused inference forward runs
// cudnnConvolutionBiasActivationForward with the forward pass's algorithm and the plan's bias and activation
// descriptors.
#include "kernels/conv.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cuda/conv_state.h"
#include "kernels/elementwise.h"
#include "kernels/half.h"
#include "runtime/allocator.h"
#include "runtime/cuda_check.h"

// ROSETTA_CUDNN_CHECK with the convolution's shape in the message.
#define ROSETTA_CONV_CUDNN_CHECK(expr, shape)                                                             \
  do {                                                                                                    \
    const cudnnStatus_t rosetta_status_ = (expr);                                                         \
    if (rosetta_status_ != CUDNN_STATUS_SUCCESS)                                                          \
      ROSETTA_FAIL("cuDNN error: " #expr ": " << cudnnGetErrorString(rosetta_status_) << " (convolution " \
                                              << (shape).str() << ")");                                   \
  } while (0)

namespace rosetta::kernels {

CudnnConvState::~CudnnConvState() {
  // Destructors must not throw; a failed destroy at teardown has nothing useful left to report.
  for (cudnnConvolutionDescriptor_t descriptor : conv)
    if (descriptor) cudnnDestroyConvolutionDescriptor(descriptor);
  if (relu) cudnnDestroyActivationDescriptor(relu);
  if (identity) cudnnDestroyActivationDescriptor(identity);
  if (bias) cudnnDestroyTensorDescriptor(bias);
  if (w) cudnnDestroyFilterDescriptor(w);
  if (y) cudnnDestroyTensorDescriptor(y);
  if (x) cudnnDestroyTensorDescriptor(x);
}

std::size_t CudnnConvState::max_workspace_bytes() const {
  std::uint64_t bytes = 0;
  for (const cuda::ConvAlgorithmChoice& c : choice) bytes = std::max(bytes, c.workspace_bytes);
  return static_cast<std::size_t>(bytes);
}

namespace cuda {
namespace {

// Device memory left free while searching: cuDNN's own allocations, the other stream's feeds.
constexpr std::size_t kSearchMemoryMargin = std::size_t(512) << 20;

cudnnDataType_t data_type(Precision precision) {
  return precision == Precision::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

// Bytes of one element of x, w and y.
std::size_t element_bytes(Precision precision) { return precision == Precision::bf16 ? 2 : sizeof(float); }

cudnnMathType_t search_math_type(Precision precision) {
  return precision == Precision::fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

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

cudnnTensorFormat_t tensor_format(ConvLayout layout) {
  return layout == ConvLayout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

// Descriptors of `shape` in float (bf16 x, w, y for precision bf16; always float compute), in the options' layout
// (an NHWC filter is (K, R, S, C) in memory); every pass's
// convolution descriptor set to the search math type.
std::shared_ptr<CudnnConvState> create_descriptors(const ConvShape& shape, const ConvOptions& options) {
  const Precision precision = options.precision;
  const cudnnTensorFormat_t format = tensor_format(options.layout);
  const cudnnDataType_t type = data_type(precision);
  auto state = std::make_shared<CudnnConvState>();
  const int n = static_cast<int>(shape.n), c = static_cast<int>(shape.c), h = static_cast<int>(shape.h),
            w = static_cast<int>(shape.w), k = static_cast<int>(shape.k), r = static_cast<int>(shape.r),
            s = static_cast<int>(shape.s);
  ROSETTA_CONV_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state->x), shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnSetTensor4dDescriptor(state->x, format, type, n, c, h, w),
                           shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnCreateFilterDescriptor(&state->w), shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnSetFilter4dDescriptor(state->w, type, format, k, c, r, s),
                           shape);
  for (cudnnConvolutionDescriptor_t& descriptor : state->conv) {
    ROSETTA_CONV_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&descriptor), shape);
    ROSETTA_CONV_CUDNN_CHECK(
        cudnnSetConvolution2dDescriptor(descriptor, shape.pad_h, shape.pad_w, shape.stride_h, shape.stride_w, 1, 1,
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        shape);
    ROSETTA_CONV_CUDNN_CHECK(cudnnSetConvolutionMathType(descriptor, search_math_type(precision)), shape);
  }
  int yn = 0, yk = 0, yh = 0, yw = 0;
  ROSETTA_CONV_CUDNN_CHECK(
      cudnnGetConvolution2dForwardOutputDim(state->conv[0], state->x, state->w, &yn, &yk, &yh, &yw), shape);
  ROSETTA_CHECK(yn == shape.n && yk == shape.k && yh == shape.out_h() && yw == shape.out_w(),
                "cuDNN's output (" << yn << ", " << yk << ", " << yh << ", " << yw << ") differs from (" << shape.n
                                   << ", " << shape.k << ", " << shape.out_h() << ", " << shape.out_w()
                                   << ") for convolution " << shape.str());
  ROSETTA_CONV_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state->y), shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnSetTensor4dDescriptor(state->y, format, type, yn, yk, yh, yw),
                           shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state->bias), shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnSetTensor4dDescriptor(state->bias, format, CUDNN_DATA_FLOAT, 1, k, 1, 1),
                           shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnCreateActivationDescriptor(&state->relu), shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnSetActivationDescriptor(state->relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0),
                           shape);
  ROSETTA_CONV_CUDNN_CHECK(cudnnCreateActivationDescriptor(&state->identity), shape);
  ROSETTA_CONV_CUDNN_CHECK(
      cudnnSetActivationDescriptor(state->identity, CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0), shape);
  return state;
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
    fill(ctx, static_cast<float*>(buffer.data()), word, static_cast<std::int64_t>(buffer.bytes() / sizeof(float)));
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
  ROSETTA_CONV_CUDNN_CHECK(Api::max_count(handle, &requested), shape);
  std::vector<typename Api::Perf> perf(static_cast<std::size_t>(std::max(requested, 1)));
  ROSETTA_CONV_CUDNN_CHECK(Api::find(handle, state, buffers, requested, &returned, perf.data(),
                                     workspace ? workspace->data() : nullptr, limit),
                           shape);
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
  ROSETTA_CONV_CUDNN_CHECK(Api::max_count(ctx.cudnn(), &requested), shape);
  std::vector<typename Api::Perf> perf(static_cast<std::size_t>(std::max(requested, 1)));
  ROSETTA_CONV_CUDNN_CHECK(Api::heuristics(ctx.cudnn(), state, requested, &returned, perf.data()), shape);
  const std::size_t limit = allocatable_bytes();
  const std::vector<ConvAlgorithmChoice> choices = acceptable(perf, returned, options, limit, false);
  if (choices.empty()) fail_no_algorithm(Pass, shape, options, limit, "cudnnGet_v7");
  return choices.front();
}

std::size_t pass_workspace(const Context& ctx, const CudnnConvState& state, ConvPass pass, int algo,
                           const ConvShape& shape) {
  std::size_t bytes = 0;
  switch (pass) {
    case ConvPass::forward:
      ROSETTA_CONV_CUDNN_CHECK(PassApi<ConvPass::forward>::workspace(ctx.cudnn(), state, algo, &bytes), shape);
      break;
    case ConvPass::backward_data:
      ROSETTA_CONV_CUDNN_CHECK(PassApi<ConvPass::backward_data>::workspace(ctx.cudnn(), state, algo, &bytes), shape);
      break;
    case ConvPass::backward_filter:
      ROSETTA_CONV_CUDNN_CHECK(PassApi<ConvPass::backward_filter>::workspace(ctx.cudnn(), state, algo, &bytes), shape);
      break;
  }
  return bytes;
}

// Sets `pass`'s descriptor to the choice's math type and records the choice, with the workspace cuDNN asks for
// under that math type (never less than the search reported).
void apply_choice(const Context& ctx, const ConvShape& shape, Precision precision, CudnnConvState& state, ConvPass pass,
                  ConvAlgorithmChoice choice) {
  const int index = static_cast<int>(pass);
  ROSETTA_CHECK(precision != Precision::fp32 || choice.math_type == CUDNN_FMA_MATH,
                "fp32 convolution " << conv_pass_name(pass) << " given math type "
                                    << conv_math_type_name(choice.math_type) << ": " << shape.str());
  ROSETTA_CONV_CUDNN_CHECK(
      cudnnSetConvolutionMathType(state.conv[index], static_cast<cudnnMathType_t>(choice.math_type)), shape);
  const std::size_t bytes = pass_workspace(ctx, state, pass, choice.algo, shape);
  choice.workspace_bytes = std::max<std::uint64_t>(choice.workspace_bytes, bytes);
  state.choice[index] = choice;
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

void require_cuda(const Context& ctx, const ConvShape& shape) {
  ROSETTA_CHECK(ctx.device() == Device::cuda, "a cuDNN convolution plan needs a CUDA context: " << shape.str());
}

const CudnnConvState& state_for(const Context& ctx, const ConvPlan& plan, const char* pass) {
  ROSETTA_CHECK(ctx.device() == Device::cuda && plan.cudnn,
                pass << " on CUDA needs a CUDA context and a plan made for one: " << plan.shape.str());
  return *plan.cudnn;
}

}  // namespace

std::shared_ptr<CudnnConvState> make_cudnn_conv_state(const Context& ctx, const ConvShape& shape,
                                                      const ConvOptions& options) {
  require_cuda(ctx, shape);
  std::shared_ptr<CudnnConvState> state = create_descriptors(shape, options);
  // A forward-only plan searches, caches and records the forward pass alone; its backward choices stay unset.
  const std::vector<ConvPass> passes = options.forward_only ? std::vector<ConvPass>{ConvPass::forward}
                                                            : std::vector<ConvPass>(std::begin(kPasses), std::end(kPasses));
  ConvAlgorithmChoice chosen[kConvPassCount];
  if (options.autotune) {
    int device = 0;
    ROSETTA_CUDA_CHECK(cudaGetDevice(&device));
    ConvAlgorithmCache& cache = conv_algorithm_cache();
    bool cached[kConvPassCount] = {};
    for (ConvPass pass : passes) {
      const std::optional<ConvAlgorithmChoice> hit = cache.find(make_conv_algorithm_key(device, shape, options, pass));
      if (hit) chosen[static_cast<int>(pass)] = *hit;
      cached[static_cast<int>(pass)] = hit.has_value();
    }
    const bool all_cached = std::all_of(passes.begin(), passes.end(), [&](ConvPass p) { return cached[int(p)]; });
    if (!all_cached) {
      SearchBuffers buffers(ctx, shape, options.precision);
      for (ConvPass pass : passes)
        if (!cached[static_cast<int>(pass)])
          chosen[static_cast<int>(pass)] = search_pass(ctx, shape, options, *state, buffers, pass).front();
    }
    for (ConvPass pass : passes) {
      apply_choice(ctx, shape, options.precision, *state, pass, chosen[static_cast<int>(pass)]);
      cache.insert(make_conv_algorithm_key(device, shape, options, pass), state->of(pass));
    }
    cache.count_plan(!all_cached);
  } else {
    for (ConvPass pass : passes)
      apply_choice(ctx, shape, options.precision, *state, pass, heuristic_pass(ctx, shape, options, *state, pass));
  }
  ctx.workspace(state->max_workspace_bytes());
  return state;
}

std::vector<ConvAlgorithmChoice> find_conv_algorithms(const Context& ctx, const ConvPlan& plan, ConvPass pass) {
  require_cuda(ctx, plan.shape);
  const std::shared_ptr<CudnnConvState> state = create_descriptors(plan.shape, plan.options);
  SearchBuffers buffers(ctx, plan.shape, plan.options.precision);
  return search_pass(ctx, plan.shape, plan.options, *state, buffers, pass);
}

ConvPlan conv_plan_with_choice(const Context& ctx, const ConvPlan& plan, ConvPass pass,
                               const ConvAlgorithmChoice& choice) {
  const CudnnConvState& original = state_for(ctx, plan, "conv_plan_with_choice");
  std::shared_ptr<CudnnConvState> state = create_descriptors(plan.shape, plan.options);
  for (ConvPass p : kPasses)
    if (!plan.options.forward_only || p == ConvPass::forward || p == pass)
      apply_choice(ctx, plan.shape, plan.options.precision, *state, p, p == pass ? choice : original.of(p));
  ctx.workspace(state->max_workspace_bytes());
  return ConvPlan{plan.shape, plan.options, state};
}

const char* conv_algorithm_name(ConvPass pass, int algo) {
  static const char* const forward[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
                                        "WINOGRAD",      "WINOGRAD_NONFUSED"};
  static const char* const backward_data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const backward_filter[] = {"ALGO_0",    "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED",
                                                "FFT_TILING"};
  static_assert(sizeof forward / sizeof *forward == CUDNN_CONVOLUTION_FWD_ALGO_COUNT, "forward algorithm names");
  static_assert(sizeof backward_data / sizeof *backward_data == CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                "backward-data algorithm names");
  static_assert(sizeof backward_filter / sizeof *backward_filter == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                "backward-filter algorithm names");
  switch (pass) {
    case ConvPass::forward: return algo >= 0 && algo < CUDNN_CONVOLUTION_FWD_ALGO_COUNT ? forward[algo] : "?";
    case ConvPass::backward_data:
      return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT ? backward_data[algo] : "?";
    case ConvPass::backward_filter:
      return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT ? backward_filter[algo] : "?";
  }
  return "?";
}

const char* conv_math_type_name(int math_type) {
  switch (math_type) {
    case CUDNN_DEFAULT_MATH: return "DEFAULT";
    case CUDNN_TENSOR_OP_MATH: return "TENSOR_OP";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "TENSOR_OP_ALLOW_CONVERSION";
    case CUDNN_FMA_MATH: return "FMA";
  }
  return "?";
}

namespace {

// cudnnConvolutionForward with the planned algorithm: y = conv(x, w), in the plan's data type.
void run_forward(const Context& ctx, const ConvPlan& plan, const CudnnConvState& state, const void* x, const void* w,
                 void* y) {
  const ConvAlgorithmChoice& choice = state.of(ConvPass::forward);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;  // float scaling factors for float and bf16 data alike
  ROSETTA_CONV_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, state.x, x, state.w, w, state.conv[0],
                                                   static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
                                                   ctx.workspace(bytes), bytes, &zero, state.y, y),
                           plan.shape);
}

}  // namespace

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w, float* y) {
  const CudnnConvState& state = state_for(ctx, plan, "conv2d_forward");
  ROSETTA_CHECK(plan.options.precision != Precision::bf16,
                "conv2d_forward with a bf16 plan (use conv2d_forward_bf16): " << plan.shape.str());
  run_forward(ctx, plan, state, x, w, y);
}

void conv2d_forward_bf16(const Context& ctx, const ConvPlan& plan, const std::uint16_t* x, const std::uint16_t* w,
                         std::uint16_t* y) {
  const CudnnConvState& state = state_for(ctx, plan, "conv2d_forward_bf16");
  ROSETTA_CHECK(plan.options.precision == Precision::bf16, "conv2d_forward_bf16 with a "
                                                               << precision_name(plan.options.precision)
                                                               << " plan: " << plan.shape.str());
  run_forward(ctx, plan, state, x, w, y);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const float* dy, const float* w, float* dx) {
  const CudnnConvState& state = state_for(ctx, plan, "conv2d_backward_data");
  ROSETTA_CHECK(!plan.options.forward_only, "conv2d_backward_data with a forward-only plan: " << plan.shape.str());
  const ConvAlgorithmChoice& choice = state.of(ConvPass::backward_data);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  ROSETTA_CONV_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, state.w, w, state.y, dy, state.conv[1],
                                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                                                        ctx.workspace(bytes), bytes, &zero, state.x, dx),
                           plan.shape);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const float* x, const float* dy, float* dw) {
  const CudnnConvState& state = state_for(ctx, plan, "conv2d_backward_filter");
  ROSETTA_CHECK(!plan.options.forward_only, "conv2d_backward_filter with a forward-only plan: " << plan.shape.str());
  const ConvAlgorithmChoice& choice = state.of(ConvPass::backward_filter);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  ROSETTA_CONV_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, state.x, x, state.y, dy, state.conv[2],
                                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                                                          ctx.workspace(bytes), bytes, &zero, state.w, dw),
                           plan.shape);
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w,
                                    const float* bias, const float* z, float z_scale, bool relu, float* y) {
  const CudnnConvState& state = state_for(ctx, plan, "conv2d_bias_activation_forward");
  ROSETTA_CHECK(conv_bias_activation_supported(plan, relu),
                "cuDNN's fused forward runs the identity activation only with IMPLICIT_PRECOMP_GEMM, not "
                    << conv_algorithm_name(ConvPass::forward, state.of(ConvPass::forward).algo) << ": "
                    << plan.shape.str());
  const ConvAlgorithmChoice& choice = state.of(ConvPass::forward);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f;
  ROSETTA_CONV_CUDNN_CHECK(
      cudnnConvolutionBiasActivationForward(ctx.cudnn(), &one, state.x, x, state.w, w, state.conv[0],
                                            static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), ctx.workspace(bytes),
                                            bytes, &z_scale, state.y, z, state.bias, bias,
                                            relu ? state.relu : state.identity, state.y, y),
      plan.shape);
}

}  // namespace cuda
}  // namespace rosetta::kernels
