// The legacy cuDNN backend (kernels/cuda/conv_backend.h): every pass, every shape, on cuDNN's legacy convolution
// API (cudnnConvolutionForward, ...BackwardData, ...BackwardFilter, ...BiasActivationForward).
//
// Descriptors: x and y are 4-D tensor descriptors and w a filter descriptor in the plan's layout (CUDNN_TENSOR_NCHW
// or CUDNN_TENSOR_NHWC; an NHWC filter is (K, R, S, C) in memory), all of data type float, or bfloat16 for a bf16
// plan. Each pass has its own convolution descriptor (cross-correlation, dilation 1, compute type float: bf16 data
// accumulates in float, PyTorch's autocast setting), set to the math type its algorithm was chosen under.
//
// Candidates: with search, cudnnFind*AlgorithmEx (workspace: the largest any algorithm of the pass asks for, capped
// by the planner's limit, on a temporary buffer freed when the search ends), its acceptable results in its order,
// at most kTimedCandidates of them, each with Find's own time beside (the planner re-times them with CUDA events);
// without search, cudnnGet*Algorithm_v7's first acceptable result that fits in free memory.
// Acceptable: the result succeeded, fits the workspace, is deterministic when the options ask, and has a math type
// the precision allows. fp32 takes results reported as CUDNN_FMA_MATH or CUDNN_DEFAULT_MATH (cudnnFind/Get may report
// math types other than the descriptor's), records and runs them under CUDNN_FMA_MATH (PyTorch asserts the same
// when TF32 is off), and prefers those reported as FMA; tf32 and bf16 take any result but
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (FP16 down-conversion, below TF32's precision) and run each under the math
// type it reports.
//
// Running: alpha 1, beta 0 on ctx's cuDNN handle (bound to its main stream). The fused forward is
// cudnnConvolutionBiasActivationForward: y = act(1 * conv(x, w) + z_scale * z + bias), float only, with the ReLU
// under any algorithm and the identity activation only under IMPLICIT_PRECOMP_GEMM (cuDNN's rule); elsewhere the
// forward and the epilogue kernel (kernels/residual.inc) run one after the other.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cuda/conv_backend.h"
#include "kernels/cuda/conv_state.h"
#include "runtime/allocator.h"
#include "runtime/cuda_check.h"

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

namespace cuda {
namespace {

// Find's results re-timed per pass: its first few acceptable ones (Find ranks with a per-call overhead, so the
// first few are the ones worth a second look; the rest are far behind or failed).
constexpr int kTimedCandidates = 5;

cudnnDataType_t data_type(Precision precision) {
  return precision == Precision::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

cudnnTensorFormat_t tensor_format(Layout layout) {
  return layout == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

// The math type algorithms are searched under: FMA for strict fp32, tensor ops otherwise.
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
  static cudnnStatus_t find(cudnnHandle_t handle, const CudnnConvState& s, const ConvSearchBuffers& b, int requested,
                            int* returned, Perf* perf, void* workspace, std::size_t workspace_bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(handle, s.x, b.x.raw(), s.w, b.w.raw(), s.conv[0], s.y, b.y.raw(),
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
  static cudnnStatus_t find(cudnnHandle_t handle, const CudnnConvState& s, const ConvSearchBuffers& b, int requested,
                            int* returned, Perf* perf, void* workspace, std::size_t workspace_bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(handle, s.w, b.w.raw(), s.y, b.y.raw(), s.conv[1], s.x,
                                                       const_cast<void*>(b.x.raw()), requested, returned, perf,
                                                       workspace, workspace_bytes);
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
  static cudnnStatus_t find(cudnnHandle_t handle, const CudnnConvState& s, const ConvSearchBuffers& b, int requested,
                            int* returned, Perf* perf, void* workspace, std::size_t workspace_bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, s.x, b.x.raw(), s.y, b.y.raw(), s.conv[2], s.w,
                                                         const_cast<void*>(b.w.raw()), requested, returned, perf,
                                                         workspace, workspace_bytes);
  }
  static cudnnStatus_t workspace(cudnnHandle_t handle, const CudnnConvState& s, int algo, std::size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, s.x, s.y, s.conv[2], s.w, static_cast<Algo>(algo),
                                                          bytes);
  }
};

std::size_t pass_workspace(const Context& ctx, const CudnnConvState& s, ConvPass pass, int algo,
                           const ConvShape& shape) {
  std::size_t bytes = 0;
  const auto what = [&] { return "convolution " + shape.str(); };
  switch (pass) {
    case ConvPass::forward:
      ROSETTA_CUDNN_CHECK(PassApi<ConvPass::forward>::workspace(ctx.cudnn(), s, algo, &bytes), what());
      break;
    case ConvPass::backward_data:
      ROSETTA_CUDNN_CHECK(PassApi<ConvPass::backward_data>::workspace(ctx.cudnn(), s, algo, &bytes), what());
      break;
    case ConvPass::backward_filter:
      ROSETTA_CUDNN_CHECK(PassApi<ConvPass::backward_filter>::workspace(ctx.cudnn(), s, algo, &bytes), what());
      break;
  }
  return bytes;
}

// One pass under one algorithm and math type, on descriptors of its own.
class CudnnRunner final : public ConvPassRunner {
 public:
  CudnnRunner(std::shared_ptr<const CudnnConvState> state, const ConvShape& shape, const ConvOptions& options,
              ConvPass pass, const ConvAlgorithmChoice& choice)
      : state_(std::move(state)), shape_(shape), options_(options), pass_(pass), choice_(choice) {}

  bool fuses(bool relu) const override {
    if (pass_ != ConvPass::forward || !options_.fuse_epilogue || options_.precision == Precision::bf16) return false;
    return relu || choice_.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  }

  void run(const Context& ctx, const ConvPassArgs& a) const override {
    const CudnnConvState& s = *state_;
    const std::size_t bytes = static_cast<std::size_t>(choice_.workspace_bytes);
    const float one = 1.0f, zero = 0.0f;  // float scaling factors for float and bf16 data alike
    const auto what = [&] { return "convolution " + shape_.str() + " " + conv_choice_name(pass_, choice_); };
    switch (pass_) {
      case ConvPass::forward:
        if (a.epilogue && fuses(a.relu)) {
          const float z_scale = a.z ? 1.0f : 0.0f;
          ROSETTA_CUDNN_CHECK(cudnnConvolutionBiasActivationForward(
                                  ctx.cudnn(), &one, s.x, a.x, s.w, a.w, s.conv[0],
                                  static_cast<cudnnConvolutionFwdAlgo_t>(choice_.algo), a.workspace, bytes, &z_scale,
                                  s.y, a.z ? a.z : a.out, s.bias, a.bias, a.relu ? s.relu : s.identity, s.y, a.out),
                              "fused " << what());
          return;
        }
        ROSETTA_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, s.x, a.x, s.w, a.w, s.conv[0],
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(choice_.algo), a.workspace,
                                                    bytes, &zero, s.y, a.out),
                            what());
        run_conv_epilogue(ctx, shape_, options_, a);
        return;
      case ConvPass::backward_data:
        ROSETTA_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, s.w, a.w, s.y, a.dy, s.conv[1],
                                                         static_cast<cudnnConvolutionBwdDataAlgo_t>(choice_.algo),
                                                         a.workspace, bytes, &zero, s.x, a.out),
                            what());
        return;
      case ConvPass::backward_filter:
        ROSETTA_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, s.x, a.x, s.y, a.dy, s.conv[2],
                                                           static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice_.algo),
                                                           a.workspace, bytes, &zero, s.w, a.out),
                            what());
        return;
    }
  }

 private:
  std::shared_ptr<const CudnnConvState> state_;
  ConvShape shape_;
  ConvOptions options_;
  ConvPass pass_;
  ConvAlgorithmChoice choice_;
};

// The results that succeeded, fit the options and need at most `workspace_limit` bytes, in cuDNN's order (for
// cudnnFind, fastest first by its own figures). In fp32 mode the results cuDNN reports as CUDNN_FMA_MATH come before
// those it reports as CUDNN_DEFAULT_MATH (which, timed under a math type that permits TF32, may have been timed as
// TF32 kernels); both run under FMA math.
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
    choice.find_time_ms = measured ? p.time : 0.0f;
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

// cudnnFind*AlgorithmEx for one pass: every acceptable measured result, in Find's order.
template <ConvPass Pass>
std::vector<ConvAlgorithmChoice> find(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                      const CudnnConvState& state, const ConvSearchBuffers& buffers,
                                      std::size_t workspace_limit) {
  using Api = PassApi<Pass>;
  cudnnHandle_t handle = ctx.cudnn();
  std::size_t largest = 0;
  for (int algo = 0; algo < Api::kAlgorithms; ++algo) {
    std::size_t bytes = 0;  // an algorithm that does not support the shape reports an error: skipped
    if (Api::workspace(handle, state, algo, &bytes) == CUDNN_STATUS_SUCCESS) largest = std::max(largest, bytes);
  }
  const std::size_t limit = std::min(largest, workspace_limit);
  std::unique_ptr<Storage> workspace = limit > 0 ? std::make_unique<Storage>(Memory::device, limit) : nullptr;
  int requested = 0, returned = 0;
  ROSETTA_CUDNN_CHECK(Api::max_count(handle, &requested), "convolution " << shape.str());
  std::vector<typename Api::Perf> perf(static_cast<std::size_t>(std::max(requested, 1)));
  ROSETTA_CUDNN_CHECK(Api::find(handle, state, buffers, requested, &returned, perf.data(),
                                workspace ? workspace->data() : nullptr, limit),
                      "convolution " << shape.str());
  std::vector<ConvAlgorithmChoice> choices = acceptable(perf, returned, options, limit, true);
  if (choices.empty()) fail_no_algorithm(Pass, shape, options, limit, "cudnnFind");
  return choices;
}

// cudnnGet*Algorithm_v7 for one pass: the first acceptable result that fits in `workspace_limit`.
template <ConvPass Pass>
ConvAlgorithmChoice heuristic(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                              const CudnnConvState& state, std::size_t workspace_limit) {
  using Api = PassApi<Pass>;
  int requested = 0, returned = 0;
  ROSETTA_CUDNN_CHECK(Api::max_count(ctx.cudnn(), &requested), "convolution " << shape.str());
  std::vector<typename Api::Perf> perf(static_cast<std::size_t>(std::max(requested, 1)));
  ROSETTA_CUDNN_CHECK(Api::heuristics(ctx.cudnn(), state, requested, &returned, perf.data()),
                      "convolution " << shape.str());
  const std::vector<ConvAlgorithmChoice> choices = acceptable(perf, returned, options, workspace_limit, false);
  if (choices.empty()) fail_no_algorithm(Pass, shape, options, workspace_limit, "cudnnGet_v7");
  return choices.front();
}

class CudnnBackend final : public CudaConvBackend {
 public:
  ConvBackend id() const override { return ConvBackend::cudnn; }

  std::string declines(const ConvShape&, const ConvOptions&, ConvPass) const override { return ""; }

  std::vector<ConvCandidate> candidates(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                        ConvPass pass, bool search, const ConvSearchBuffers& buffers,
                                        std::size_t workspace_limit) const override {
    const std::shared_ptr<CudnnConvState> state = create_conv_descriptors(shape, options);
    std::vector<ConvAlgorithmChoice> choices;
    if (search) {
      switch (pass) {
        case ConvPass::forward:
          choices = find<ConvPass::forward>(ctx, shape, options, *state, buffers, workspace_limit);
          break;
        case ConvPass::backward_data:
          choices = find<ConvPass::backward_data>(ctx, shape, options, *state, buffers, workspace_limit);
          break;
        case ConvPass::backward_filter:
          choices = find<ConvPass::backward_filter>(ctx, shape, options, *state, buffers, workspace_limit);
          break;
      }
      if (choices.size() > kTimedCandidates) choices.resize(kTimedCandidates);
    } else {
      switch (pass) {
        case ConvPass::forward:
          choices = {heuristic<ConvPass::forward>(ctx, shape, options, *state, workspace_limit)};
          break;
        case ConvPass::backward_data:
          choices = {heuristic<ConvPass::backward_data>(ctx, shape, options, *state, workspace_limit)};
          break;
        case ConvPass::backward_filter:
          choices = {heuristic<ConvPass::backward_filter>(ctx, shape, options, *state, workspace_limit)};
          break;
      }
    }
    std::vector<ConvCandidate> out;
    for (ConvAlgorithmChoice& choice : choices) {
      std::shared_ptr<const ConvPassRunner> runner = prepare(ctx, shape, options, pass, choice);
      out.push_back(ConvCandidate{choice, std::move(runner)});
    }
    return out;
  }

  std::shared_ptr<const ConvPassRunner> prepare(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                                ConvPass pass, ConvAlgorithmChoice& choice) const override {
    ROSETTA_CHECK(choice.backend == ConvBackend::cudnn,
                  "legacy cuDNN given " << conv_choice_name(pass, choice) << ": " << shape.str());
    ROSETTA_CHECK(options.precision != Precision::fp32 || choice.math_type == CUDNN_FMA_MATH,
                  "fp32 convolution " << conv_pass_name(pass) << " given math type "
                                      << cudnn_math_type_name(choice.math_type) << ": " << shape.str());
    std::shared_ptr<CudnnConvState> state = create_conv_descriptors(shape, options);
    ROSETTA_CUDNN_CHECK(cudnnSetConvolutionMathType(state->conv[static_cast<int>(pass)],
                                                    static_cast<cudnnMathType_t>(choice.math_type)),
                        "convolution " << shape.str());
    const std::size_t bytes = pass_workspace(ctx, *state, pass, choice.algo, shape);
    choice.workspace_bytes = std::max<std::uint64_t>(choice.workspace_bytes, bytes);
    return std::make_shared<CudnnRunner>(std::move(state), shape, options, pass, choice);
  }
};

}  // namespace

std::shared_ptr<CudnnConvState> create_conv_descriptors(const ConvShape& shape, const ConvOptions& options) {
  const cudnnTensorFormat_t format = tensor_format(options.layout);
  const cudnnDataType_t type = data_type(options.precision);
  auto state = std::make_shared<CudnnConvState>();
  const int n = static_cast<int>(shape.n), c = static_cast<int>(shape.c), h = static_cast<int>(shape.h),
            w = static_cast<int>(shape.w), k = static_cast<int>(shape.k), r = static_cast<int>(shape.r),
            s = static_cast<int>(shape.s);
  const auto what = [&] { return "convolution " + shape.str(); };
  ROSETTA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state->x), what());
  ROSETTA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(state->x, format, type, n, c, h, w), what());
  ROSETTA_CUDNN_CHECK(cudnnCreateFilterDescriptor(&state->w), what());
  ROSETTA_CUDNN_CHECK(cudnnSetFilter4dDescriptor(state->w, type, format, k, c, r, s), what());
  for (cudnnConvolutionDescriptor_t& descriptor : state->conv) {
    ROSETTA_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&descriptor), what());
    ROSETTA_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(descriptor, shape.pad_h, shape.pad_w, shape.stride_h,
                                                        shape.stride_w, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                        what());
    ROSETTA_CUDNN_CHECK(cudnnSetConvolutionMathType(descriptor, search_math_type(options.precision)), what());
  }
  int yn = 0, yk = 0, yh = 0, yw = 0;
  ROSETTA_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(state->conv[0], state->x, state->w, &yn, &yk, &yh, &yw),
                      what());
  ROSETTA_CHECK(yn == shape.n && yk == shape.k && yh == shape.out_h() && yw == shape.out_w(),
                "cuDNN's output (" << yn << ", " << yk << ", " << yh << ", " << yw << ") differs from (" << shape.n
                                   << ", " << shape.k << ", " << shape.out_h() << ", " << shape.out_w()
                                   << ") for convolution " << shape.str());
  ROSETTA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state->y), what());
  ROSETTA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(state->y, format, type, yn, yk, yh, yw), what());
  ROSETTA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state->bias), what());
  ROSETTA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(state->bias, format, CUDNN_DATA_FLOAT, 1, k, 1, 1), what());
  ROSETTA_CUDNN_CHECK(cudnnCreateActivationDescriptor(&state->relu), what());
  ROSETTA_CUDNN_CHECK(cudnnSetActivationDescriptor(state->relu, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0),
                      what());
  ROSETTA_CUDNN_CHECK(cudnnCreateActivationDescriptor(&state->identity), what());
  ROSETTA_CUDNN_CHECK(
      cudnnSetActivationDescriptor(state->identity, CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0), what());
  return state;
}

const CudaConvBackend& cudnn_conv_backend() {
  static const CudnnBackend backend;
  return backend;
}

}  // namespace cuda
}  // namespace rosetta::kernels
