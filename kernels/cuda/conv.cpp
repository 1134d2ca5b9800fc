// CUDA twin of the convolution on cuDNN's legacy convolution API: the descriptors a plan creates, how it is planned,
// and the passes. Which algorithm each pass runs is chosen in kernels/cuda/conv_search.cpp.
//
// Descriptors: x and y are 4-D tensor descriptors and w a filter descriptor in the plan's layout (CUDNN_TENSOR_NCHW
// or CUDNN_TENSOR_NHWC; an NHWC filter is (K, R, S, C) in memory), all of data type float, or bfloat16 for a bf16
// plan. Each pass has its own convolution descriptor (cross-correlation, dilation 1, compute type float: bf16 data
// accumulates in float, PyTorch's autocast setting), set to the math type its algorithm was chosen under.
//
// Precision: fp32 runs every pass under CUDNN_FMA_MATH, so cuDNN may not use TF32 tensor ops (cuDNN 8+ allows TF32
// for float data under CUDNN_DEFAULT_MATH); tf32 and bf16 run each pass under the tensor-op math type its algorithm
// was measured with, never CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (FP16 down-conversion, below TF32's precision).
//
// bf16 plans run every pass on bf16 data (the backward passes too: the bf16 training of the CNN).
// The passes run with alpha 1, beta 0 on ctx's cuDNN handle (bound to its main stream) and its workspace, which the
// plan already grew: a step creates and allocates nothing. The fused inference forward is
// cudnnConvolutionBiasActivationForward: y = act(1 * conv(x, w) + z_scale * z + bias), float only, with the ReLU
// under any algorithm and the identity activation only under IMPLICIT_PRECOMP_GEMM (cuDNN's rule); elsewhere the
// forward and the epilogue kernel (kernels/residual.inc) run one after the other.
#include "kernels/conv.h"

#include <algorithm>

#include "kernels/cuda/conv_state.h"
#include "kernels/residual.h"
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

std::size_t pass_workspace(const Context& ctx, const CudnnConvState& s, ConvPass pass, int algo,
                           const ConvShape& shape) {
  std::size_t bytes = 0;
  switch (pass) {
    case ConvPass::forward:
      ROSETTA_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), s.x, s.w, s.conv[0], s.y,
                                                                  static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes),
                          "convolution " << shape.str());
      break;
    case ConvPass::backward_data:
      ROSETTA_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
                              ctx.cudnn(), s.w, s.y, s.conv[1], s.x, static_cast<cudnnConvolutionBwdDataAlgo_t>(algo),
                              &bytes),
                          "convolution " << shape.str());
      break;
    case ConvPass::backward_filter:
      ROSETTA_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                              ctx.cudnn(), s.x, s.y, s.conv[2], s.w,
                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes),
                          "convolution " << shape.str());
      break;
  }
  return bytes;
}

const CudnnConvState& state_of(const ConvPlan& plan, const char* pass) {
  ROSETTA_CHECK(plan.cudnn, pass << " on CUDA with a plan made for the CPU: " << plan.shape.str());
  return *plan.cudnn;
}

void check_precision(const ConvPlan& plan, bool bf16_data, const char* pass) {
  ROSETTA_CHECK((plan.options.precision == Precision::bf16) == bf16_data,
                pass << " of " << (bf16_data ? "bf16" : "float") << " data with a "
                     << precision_name(plan.options.precision) << " plan: " << plan.shape.str());
}

void check_backward_planned(const ConvPlan& plan, const char* pass) {
  ROSETTA_CHECK(!plan.options.forward_only, pass << " with a forward-only plan: " << plan.shape.str());
}

// cudnnConvolutionForward with the planned algorithm: y = conv(x, w), in the plan's data type.
void run_forward(const Context& ctx, const ConvPlan& plan, const void* x, const void* w, void* y) {
  const CudnnConvState& s = state_of(plan, "conv2d_forward");
  const ConvAlgorithmChoice& choice = plan.of(ConvPass::forward);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;  // float scaling factors for float and bf16 data alike
  ROSETTA_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, s.x, x, s.w, w, s.conv[0],
                                              static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo),
                                              ctx.workspace(bytes), bytes, &zero, s.y, y),
                      "convolution " << plan.shape.str());
}

// cudnnConvolutionBackwardData with the planned algorithm: dx = conv^T(dy, w), in the plan's data type.
void run_backward_data(const Context& ctx, const ConvPlan& plan, const void* dy, const void* w, void* dx) {
  const CudnnConvState& s = state_of(plan, "conv2d_backward_data");
  check_backward_planned(plan, "conv2d_backward_data");
  const ConvAlgorithmChoice& choice = plan.of(ConvPass::backward_data);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  ROSETTA_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, s.w, w, s.y, dy, s.conv[1],
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                                                   ctx.workspace(bytes), bytes, &zero, s.x, dx),
                      "convolution " << plan.shape.str());
}

// cudnnConvolutionBackwardFilter with the planned algorithm: dw = the filter gradient, in the plan's data type.
void run_backward_filter(const Context& ctx, const ConvPlan& plan, const void* x, const void* dy, void* dw) {
  const CudnnConvState& s = state_of(plan, "conv2d_backward_filter");
  check_backward_planned(plan, "conv2d_backward_filter");
  const ConvAlgorithmChoice& choice = plan.of(ConvPass::backward_filter);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  ROSETTA_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, s.x, x, s.y, dy, s.conv[2],
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                                                     ctx.workspace(bytes), bytes, &zero, s.w, dw),
                      "convolution " << plan.shape.str());
}

// y (N, K, OH, OW) in the plan's layout, in place: act((y + z) + bias), the epilogue kernel.
template <typename T>
void run_epilogue(const Context& ctx, const ConvPlan& plan, T* y, const float* bias, const T* z, bool relu) {
  const ConvShape& s = plan.shape;
  const ChannelView v = channel_view(plan.options.layout, s.n, s.k, s.out_h() * s.out_w());
  bias_residual_activation(ctx, y, bias, z, relu, v.outer, v.channels, v.inner);
}

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

void apply_conv_choice(const Context& ctx, ConvPlan& plan, CudnnConvState& state, ConvPass pass,
                       ConvAlgorithmChoice choice) {
  const int index = static_cast<int>(pass);
  ROSETTA_CHECK(plan.options.precision != Precision::fp32 || choice.math_type == CUDNN_FMA_MATH,
                "fp32 convolution " << conv_pass_name(pass) << " given math type "
                                    << cudnn_math_type_name(choice.math_type) << ": " << plan.shape.str());
  ROSETTA_CUDNN_CHECK(cudnnSetConvolutionMathType(state.conv[index], static_cast<cudnnMathType_t>(choice.math_type)),
                      "convolution " << plan.shape.str());
  const std::size_t bytes = pass_workspace(ctx, state, pass, choice.algo, plan.shape);
  choice.workspace_bytes = std::max<std::uint64_t>(choice.workspace_bytes, bytes);
  plan.choices[index] = choice;
}

void plan_conv2d(const Context& ctx, ConvPlan& plan) {
  std::shared_ptr<CudnnConvState> state = create_conv_descriptors(plan.shape, plan.options);
  choose_conv_algorithms(ctx, plan, *state);
  plan.fused_relu = plan.options.fuse_epilogue && plan.options.precision != Precision::bf16;
  plan.fused_identity =
      plan.fused_relu && plan.of(ConvPass::forward).algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  plan.cudnn = std::move(state);
  ctx.workspace(static_cast<std::size_t>(plan.workspace_bytes()));
}

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w, float* y) {
  check_precision(plan, false, "conv2d_forward");
  run_forward(ctx, plan, x, w, y);
}

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w, bf16* y) {
  check_precision(plan, true, "conv2d_forward");
  run_forward(ctx, plan, x, w, y);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const float* dy, const float* w, float* dx) {
  check_precision(plan, false, "conv2d_backward_data");
  run_backward_data(ctx, plan, dy, w, dx);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const bf16* dy, const bf16* w, bf16* dx) {
  check_precision(plan, true, "conv2d_backward_data");
  run_backward_data(ctx, plan, dy, w, dx);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const float* x, const float* dy, float* dw) {
  check_precision(plan, false, "conv2d_backward_filter");
  run_backward_filter(ctx, plan, x, dy, dw);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* dy, bf16* dw) {
  check_precision(plan, true, "conv2d_backward_filter");
  run_backward_filter(ctx, plan, x, dy, dw);
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w,
                                    const float* bias, const float* z, bool relu, float* y) {
  check_precision(plan, false, "conv2d_bias_activation_forward");
  if (!conv_epilogue_fused(plan, relu)) {
    run_forward(ctx, plan, x, w, y);
    run_epilogue(ctx, plan, y, bias, z, relu);
    return;
  }
  const CudnnConvState& s = state_of(plan, "conv2d_bias_activation_forward");
  const ConvAlgorithmChoice& choice = plan.of(ConvPass::forward);
  const std::size_t bytes = static_cast<std::size_t>(choice.workspace_bytes);
  const float one = 1.0f, z_scale = z ? 1.0f : 0.0f;
  ROSETTA_CUDNN_CHECK(cudnnConvolutionBiasActivationForward(
                          ctx.cudnn(), &one, s.x, x, s.w, w, s.conv[0],
                          static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), ctx.workspace(bytes), bytes, &z_scale,
                          s.y, z ? z : y, s.bias, bias, relu ? s.relu : s.identity, s.y, y),
                      "fused convolution " << plan.shape.str());
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w,
                                    const float* bias, const bf16* z, bool relu, bf16* y) {
  check_precision(plan, true, "conv2d_bias_activation_forward");
  run_forward(ctx, plan, x, w, y);
  run_epilogue(ctx, plan, y, bias, z, relu);
}

}  // namespace cuda
}  // namespace rosetta::kernels
