// CUDA twin of kernels/gru.inc: the plan chooses the implementation (cuDNN's RNN API with the algorithm given or
// searched, the persistent GRU of kernels/cuda/gru_persistent.cu, the naive one of kernels/cuda/gru_naive.cu, or the
// fastest of the first two), and the passes run the one the plan made.
#include "kernels/cuda/gru_state.h"
#include "kernels/gru.h"

namespace rosetta::kernels::cuda {

void adopt_plan(GruPlan& plan, GruPlan&& made) {
  plan.options.implementation = made.options.implementation;
  plan.options.algorithm = made.options.algorithm;
  plan.reserve_elements = made.reserve_elements;
  plan.cudnn = std::move(made.cudnn);
  plan.cudnn_space_packed = made.cudnn_space_packed;
  plan.cudnn_space_note = std::move(made.cudnn_space_note);
  plan.persistent = made.persistent;
}

void plan_gru(const Context& ctx, GruPlan& plan) {
  switch (plan.options.implementation) {
    case GruImplementation::naive: return plan_naive_gru(ctx, plan);
    case GruImplementation::persistent: return plan_persistent_gru(ctx, plan);
    case GruImplementation::cudnn:
      if (plan.options.algorithm) return adopt_plan(plan, plan_cudnn_gru_algorithm(ctx, plan.shape, plan.options));
      return plan_searched_gru(ctx, plan);
    case GruImplementation::automatic: return plan_searched_gru(ctx, plan);
  }
}

void gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights, float* h,
                 float* reserve) {
  if (plan.uses_cudnn())
    cudnn_gru_forward(ctx, plan, x, weights, h);
  else if (plan.persistent)
    persistent_gru_forward(ctx, plan, x, weights, h, reserve);
  else
    naive_gru_forward(ctx, plan, x, weights, h, reserve);
}

void gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& weights, const float* h,
                  const float* reserve, const float* dh, float* dx, const GruGradients& grads) {
  if (plan.uses_cudnn())
    cudnn_gru_backward(ctx, plan, x, weights, h, dh, dx, grads);
  else if (plan.persistent)
    persistent_gru_backward(ctx, plan, x, weights, h, reserve, dh, dx, grads);
  else
    naive_gru_backward(ctx, plan, x, weights, h, reserve, dh, dx, grads);
}

}  // namespace rosetta::kernels::cuda
