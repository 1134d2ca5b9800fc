// CUDA twin of the bottleneck epilogue (kernels/residual.inc): a grid-stride loop, the CPU twin's float sums in the
// same order (bit-identical).
#include "kernels/residual.h"
#include "kernels/cuda/launch.h"
#include "kernels/half.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {
template <typename T>
__global__ void bias_residual_activation_kernel(T* y, const float* bias, const T* z, bool relu, std::int64_t channels,
                                                std::int64_t inner, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(blockDim.x) * gridDim.x) {
    float v = as_float(y[i]);
    if (bias) v = __fadd_rn(v, bias[(i / inner) % channels]);
    if (z) v = __fadd_rn(v, as_float(z[i]));
    store_from_float(y + i, relu && v < 0.0f ? 0.0f : v);
  }
}

template <typename T>
void launch(const Context& ctx, T* y, const float* bias, const T* z, bool relu, std::int64_t outer,
            std::int64_t channels, std::int64_t inner, const char* name) {
  ROSETTA_CHECK(outer >= 0 && channels > 0 && inner > 0,
                name << " of (" << outer << ", " << channels << ", " << inner << ")");
  const std::int64_t n = outer * channels * inner;
  if (n == 0) return;
  bias_residual_activation_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream()>>>(y, bias, z, relu, channels, inner, n);
  ROSETTA_LAUNCH_CHECK(name << " (" << outer << ", " << channels << ", " << inner << ")" << (relu ? " relu" : ""));
}

}  // namespace

void bias_residual_activation(const Context& ctx, float* y, const float* bias, const float* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  launch(ctx, y, bias, z, relu, outer, channels, inner, "bias_residual_activation");
}

void bias_residual_activation_bf16(const Context& ctx, std::uint16_t* y, const float* bias, const std::uint16_t* z,
                                   bool relu, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  launch(ctx, y, bias, z, relu, outer, channels, inner, "bias_residual_activation_bf16");
}

}  // namespace rosetta::kernels::cuda
