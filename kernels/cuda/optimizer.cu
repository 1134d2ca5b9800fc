// CUDA twin of kernels/optimizer.inc: one grid-stride launch over the whole arena per update, each element
// through the same inline update as the CPU twin (kernels/reference/optimizer.h), so parameters, momentum and
// moment buffers are bit-identical to the CPU's. Adam reads the 1-based step from device memory: thread 0 of
// each block computes the step's scalars in double and shares them, so a captured CUDA graph needs no host
// value. A step of 0 (never valid) gives bias_correction1 = 0 and NaN/inf parameters instead of a throw.
#include "kernels/cuda/launch.h"
#include "kernels/optimizer.h"
#include "kernels/reference/optimizer.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// params, grads, momentum_buf (n)
__global__ void sgd_momentum_kernel(float* params, const float* grads, float* momentum_buf, std::int64_t n, float lr,
                                    float momentum) {
  for (const std::int64_t i : grid_stride(n)) reference::sgd_momentum_element(params[i], grads[i], momentum_buf[i], lr, momentum);
}

// params, grads, m, v (n); step (1), device memory
__global__ void adam_kernel(float* params, const float* grads, float* m, float* v, std::int64_t n, float lr,
                            float beta1, float beta2, float eps, const std::uint64_t* step) {
  __shared__ reference::AdamScalars scalars;
  if (threadIdx.x == 0) scalars = reference::adam_scalars(lr, beta1, beta2, eps, *step);
  __syncthreads();
  const reference::AdamScalars s = scalars;
  for (const std::int64_t i : grid_stride(n)) reference::adam_element(params[i], grads[i], m[i], v[i], s);
}

}  // namespace

void sgd_momentum_update(const Context& ctx, float* params, const float* grads, float* momentum_buf, std::int64_t n,
                         float lr, float momentum) {
  if (n == 0) return;
  sgd_momentum_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(params, grads, momentum_buf, n, lr, momentum);
  ROSETTA_LAUNCH_CHECK("sgd_momentum_update n=" << n << " lr=" << lr << " momentum=" << momentum);
}

void adam_update(const Context& ctx, float* params, const float* grads, float* m, float* v, std::int64_t n, float lr,
                 float beta1, float beta2, float eps, const std::uint64_t* step) {
  if (n == 0) return;
  adam_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(params, grads, m, v, n, lr, beta1, beta2, eps, step);
  ROSETTA_LAUNCH_CHECK("adam_update n=" << n << " lr=" << lr << " betas=(" << beta1 << ", " << beta2
                                       << ") eps=" << eps);
}

}  // namespace rosetta::kernels::cuda
