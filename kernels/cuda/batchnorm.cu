// CUDA twin of BatchNorm2d inference (kernels/batchnorm.inc): a grid-stride loop over the elements, each computed
// with the CPU twin's float operations in the same order, with round-to-nearest intrinsics so nvcc cannot contract
// them into fused multiply-adds: the twins agree bit for bit.
#include "kernels/batchnorm.h"
#include "kernels/layout.h"
#include "kernels/cuda/launch.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

__global__ void batchnorm_inference_kernel(const float* x, float* y, const float* gamma, const float* beta,
                                           const float* mean, const float* var, float eps, std::int64_t channels,
                                           std::int64_t inner, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t c = (i / inner) % channels;
    const float inv_std = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(var[c], eps)));
    const float scaled = __fmul_rn(__fsub_rn(x[i], mean[c]), inv_std);
    y[i] = __fadd_rn(__fmul_rn(scaled, gamma[c]), beta[c]);
  }
}

}  // namespace

void batchnorm_inference_forward(const Context& ctx, const float* x, float* y, const float* gamma, const float* beta,
                                 const float* mean, const float* var, float eps, std::int64_t outer,
                                 std::int64_t channels, std::int64_t inner) {
  check_channel_view("batchnorm_inference_forward", outer, channels, inner);
  const std::int64_t n = outer * channels * inner;
  if (n == 0) return;
  batchnorm_inference_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(x, y, gamma, beta, mean, var, eps, channels,
                                                                         inner, n);
  ROSETTA_LAUNCH_CHECK("batchnorm_inference_forward (" << outer << ", " << channels << ", " << inner << ")");
}

}  // namespace rosetta::kernels::cuda
