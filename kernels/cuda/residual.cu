// CUDA twin of the bottleneck epilogue (kernels/residual.inc): a grid-stride loop, the CPU twin's float sums in the
// same order (bit-identical).
#include "kernels/residual.h"
#include "kernels/cuda/launch.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

__global__ void bias_residual_activation_kernel(float* y, const float* bias, const float* z, bool relu,
                                                std::int64_t channels, std::int64_t inner, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(blockDim.x) * gridDim.x) {
    float v = y[i];
    if (bias) v = __fadd_rn(v, bias[(i / inner) % channels]);
    if (z) v = __fadd_rn(v, z[i]);
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

}  // namespace

void bias_residual_activation(const Context& ctx, float* y, const float* bias, const float* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  ROSETTA_CHECK(outer >= 0 && channels > 0 && inner > 0,
                "bias/residual/activation of (" << outer << ", " << channels << ", " << inner << ")");
  const std::int64_t n = outer * channels * inner;
  if (n == 0) return;
  bias_residual_activation_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(y, bias, z, relu, channels, inner, n);
  ROSETTA_LAUNCH_CHECK("bias_residual_activation (" << outer << ", " << channels << ", " << inner << ")"
                                                    << (relu ? " relu" : ""));
}

}  // namespace rosetta::kernels::cuda
