#include "layers/sgd.h"

#include "kernels/optimizer.h"

namespace rosetta {

SgdMomentum::SgdMomentum(const ParameterSet& params, float lr, float momentum)
    : params_(params),
      lr_(lr),
      momentum_(momentum),
      momentum_buf_(Tensor::zeros({params.arena_elements()}, DType::f32, params.values().device())) {}

void SgdMomentum::step(const Context& ctx) {
  kernels::sgd_momentum_update(ctx, params_.values().data<float>(), params_.grads().data<float>(),
                                                    momentum_buf_.data<float>(), params_.arena_elements(), lr_,
                                                    momentum_);
}

}  // namespace rosetta
