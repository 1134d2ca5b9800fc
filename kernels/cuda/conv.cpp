// CUDA twin of the convolution (kernels/conv.inc): the plan's passes, each run by the runner its backend prepared at
// plan time (kernels/cuda/conv_backend.h; which backend and algorithm: kernels/cuda/conv_search.cpp). What this file
// checks is the contract of the calls: the plan was made for CUDA and for this data type, the pass was planned, and
// a call of a plan declared for an epilogue is that epilogue. The passes run on ctx's main stream with ctx's
// workspace, which the plan already grew: a step creates and allocates nothing.
#include "kernels/conv.h"

#include "kernels/cuda/conv_algorithm_cache.h"
#include "kernels/cuda/conv_backend.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

const ConvPassRunner& runner_of(const ConvPlan& plan, ConvPass pass, const char* op) {
  const std::shared_ptr<const ConvPassRunner>& runner = plan.runners[static_cast<int>(pass)];
  if (!runner) {
    ROSETTA_CHECK(!plan.options.forward_only || pass == ConvPass::forward,
                  op << " with a forward-only plan: " << plan.shape.str());
    ROSETTA_FAIL(op << " on CUDA with a plan made for the CPU: " << plan.shape.str());
  }
  return *runner;
}

void check_precision(const ConvPlan& plan, bool bf16_data, const char* op) {
  ROSETTA_CHECK((plan.options.precision == Precision::bf16) == bf16_data,
                op << " of " << (bf16_data ? "bf16" : "float") << " data with a "
                   << precision_name(plan.options.precision) << " plan: " << plan.shape.str());
}

void run(const Context& ctx, const ConvPlan& plan, ConvPass pass, const char* op, ConvPassArgs args) {
  const ConvPassRunner& runner = runner_of(plan, pass, op);
  const std::size_t bytes = static_cast<std::size_t>(plan.of(pass).workspace_bytes);
  args.workspace = ctx.workspace(bytes);
  runner.run(ctx, args);
}

void forward(const Context& ctx, const ConvPlan& plan, const void* x, const void* w, void* y) {
  check_forward_call(plan, false, false, false);
  ConvPassArgs args;
  args.x = x, args.w = w, args.out = y;
  run(ctx, plan, ConvPass::forward, "conv2d_forward", args);
}

void forward_with_epilogue(const Context& ctx, const ConvPlan& plan, const void* x, const void* w, const void* bias,
                           const void* z, bool relu, void* y) {
  check_forward_call(plan, true, z != nullptr, relu);
  ConvPassArgs args;
  args.x = x, args.w = w, args.out = y;
  args.epilogue = true, args.bias = bias, args.z = z, args.relu = relu;
  run(ctx, plan, ConvPass::forward, "conv2d_bias_activation_forward", args);
}

// The backward passes, in the plan's data type (bf16 plans too: the CNN's bf16 training).
void backward_data(const Context& ctx, const ConvPlan& plan, const void* dy, const void* w, void* dx) {
  ConvPassArgs args;
  args.dy = dy, args.w = w, args.out = dx;
  run(ctx, plan, ConvPass::backward_data, "conv2d_backward_data", args);
}

void backward_filter(const Context& ctx, const ConvPlan& plan, const void* x, const void* dy, void* dw) {
  ConvPassArgs args;
  args.x = x, args.dy = dy, args.out = dw;
  run(ctx, plan, ConvPass::backward_filter, "conv2d_backward_filter", args);
}

}  // namespace

void plan_conv2d(const Context& ctx, ConvPlan& plan) {
  bool any_searched = false;
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    if (plan.options.forward_only && pass != ConvPass::forward) continue;
    bool searched = false;
    ConvCandidate chosen = choose_conv_pass(ctx, plan.shape, plan.options, pass, &searched);
    any_searched = any_searched || searched;
    plan.choices[static_cast<int>(pass)] = chosen.choice;
    plan.runners[static_cast<int>(pass)] = std::move(chosen.runner);
  }
  if (plan.options.autotune) conv_algorithm_cache().count_plan(any_searched);
  const ConvPassRunner& forward_runner = *plan.runners[static_cast<int>(ConvPass::forward)];
  plan.fused_relu = forward_runner.fuses(true);
  plan.fused_identity = forward_runner.fuses(false);
  ctx.workspace(static_cast<std::size_t>(plan.workspace_bytes()));
}

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w, float* y) {
  check_precision(plan, false, "conv2d_forward");
  forward(ctx, plan, x, w, y);
}

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w, bf16* y) {
  check_precision(plan, true, "conv2d_forward");
  forward(ctx, plan, x, w, y);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const float* dy, const float* w, float* dx) {
  check_precision(plan, false, "conv2d_backward_data");
  backward_data(ctx, plan, dy, w, dx);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const bf16* dy, const bf16* w, bf16* dx) {
  check_precision(plan, true, "conv2d_backward_data");
  backward_data(ctx, plan, dy, w, dx);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const float* x, const float* dy, float* dw) {
  check_precision(plan, false, "conv2d_backward_filter");
  backward_filter(ctx, plan, x, dy, dw);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* dy, bf16* dw) {
  check_precision(plan, true, "conv2d_backward_filter");
  backward_filter(ctx, plan, x, dy, dw);
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w,
                                    const float* bias, const float* z, bool relu, float* y) {
  check_precision(plan, false, "conv2d_bias_activation_forward");
  forward_with_epilogue(ctx, plan, x, w, bias, z, relu, y);
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w,
                                    const bf16* bias, const bf16* z, bool relu, bf16* y) {
  check_precision(plan, true, "conv2d_bias_activation_forward");
  forward_with_epilogue(ctx, plan, x, w, bias, z, relu, y);
}

}  // namespace rosetta::kernels::cuda
