// CPU twin of kernels/optimizer.inc: the per-element updates of kernels/reference/optimizer.h over the arena.
#include "kernels/optimizer.h"

#include "kernels/reference/optimizer.h"
#include "runtime/error.h"

namespace rosetta::kernels::cpu {

void sgd_momentum_update(const Context&, float* params, const float* grads, float* momentum_buf, std::int64_t n,
                         float lr, float momentum) {
  for (std::int64_t i = 0; i < n; ++i)
    reference::sgd_momentum_element(params[i], grads[i], momentum_buf[i], lr, momentum);
}

void adam_update(const Context&, float* params, const float* grads, float* m, float* v, std::int64_t n, float lr,
                 float beta1, float beta2, float eps, const std::uint64_t* step) {
  ROSETTA_CHECK(*step >= 1, "adam_update: the step number is 1-based, got " << *step);
  const reference::AdamScalars scalars = reference::adam_scalars(lr, beta1, beta2, eps, *step);
  for (std::int64_t i = 0; i < n; ++i) reference::adam_element(params[i], grads[i], m[i], v[i], scalars);
}

}  // namespace rosetta::kernels::cpu
