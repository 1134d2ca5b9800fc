#include "layers/adam.h"

#include "kernels/elementwise.h"
#include "kernels/optimizer.h"

namespace rosetta {

Adam::Adam(const ParameterSet& params, float lr, float beta1, float beta2, float eps)
    : params_(params),
      lr_(lr),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      m_(Tensor::zeros({params.arena_elements()}, DType::f32, params.values().device())),
      v_(Tensor::zeros({params.arena_elements()}, DType::f32, params.values().device())),
      step_(Tensor::zeros({1}, DType::u64, params.values().device())) {}

void Adam::step(const Context& ctx) {
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "Adam: parameters and context are on different devices");
  kernels::increment_counter(ctx, step_.data<std::uint64_t>());
  kernels::adam_update(ctx, params_.values().data<float>(), params_.grads().data<float>(), m_.data<float>(),
                                 v_.data<float>(), params_.arena_elements(), lr_, beta1_, beta2_, eps_,
                                 step_.data<std::uint64_t>());
}

}  // namespace rosetta
