// GruTrialData (kernels/cuda/gru_trial.h).
#include "kernels/cuda/gru_trial.h"

#include "kernels/reference/gru.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

std::unique_ptr<Storage> zeros(const Context& ctx, std::int64_t floats) {
  auto buffer = std::make_unique<Storage>(Memory::device, static_cast<std::size_t>(floats) * sizeof(float));
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(buffer->data(), 0, buffer->bytes(), ctx.stream()));
  return buffer;
}

float* floats(const std::unique_ptr<Storage>& s) { return static_cast<float*>(s->data()); }

}  // namespace

GruTrialData::GruTrialData(const Context& ctx, const GruShape& s)
    : shape_(s),
      x_(zeros(ctx, s.t * s.n * s.i)),
      h_(zeros(ctx, s.t * s.n * s.h)),
      dh_(zeros(ctx, s.t * s.n * s.h)),
      dx_(zeros(ctx, s.t * s.n * s.i)),
      weights_(zeros(ctx, gru_packed_elements(s))),
      grads_(zeros(ctx, gru_packed_elements(s))),
      reserve_(zeros(ctx, reference::reserve_elements(s))) {}

void GruTrialData::pass(const Context& ctx, const GruPlan& plan) {
  ROSETTA_CHECK(plan.shape.t == shape_.t && plan.shape.n == shape_.n && plan.shape.i == shape_.i &&
                    plan.shape.h == shape_.h && plan.reserve_elements <= reference::reserve_elements(shape_),
                "GRU trial data of " << shape_.str() << " run with a plan of " << plan.shape.str());
  const GruWeights weights = gru_packed_weights(shape_, floats(weights_));
  gru_forward(ctx, plan, floats(x_), weights, floats(h_), floats(reserve_));
  gru_backward(ctx, plan, floats(x_), weights, floats(h_), floats(reserve_), floats(dh_), floats(dx_),
               gru_packed_gradients(shape_, floats(grads_)));
}

}  // namespace rosetta::kernels::cuda
