// CUDA twin of the bottleneck epilogue (kernels/residual.inc): a grid-stride loop applying the reference's element
// rule (kernels/reference/residual.h), so it is bit-identical to the CPU twin.
#include "kernels/cuda/launch.h"
#include "kernels/layout.h"
#include "kernels/reference/residual.h"
#include "kernels/residual.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

template <typename T>
__global__ void bias_residual_activation_kernel(T* y, const T* bias, const T* z, bool relu, std::int64_t channels,
                                                std::int64_t inner, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) {
    const float b = bias ? float(bias[(i / inner) % channels]) : 0.0f;
    y[i] = T(reference::bias_residual_activation(float(y[i]), z ? float(z[i]) : 0.0f, b, relu));
  }
}

template <typename T>
void launch(const Context& ctx, T* y, const T* bias, const T* z, bool relu, std::int64_t outer,
            std::int64_t channels, std::int64_t inner) {
  check_channel_view("bias_residual_activation", outer, channels, inner);
  const std::int64_t n = outer * channels * inner;
  if (n == 0) return;
  bias_residual_activation_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream()>>>(y, bias, z, relu, channels, inner, n);
  ROSETTA_LAUNCH_CHECK("bias_residual_activation (" << outer << ", " << channels << ", " << inner << ")"
                                                    << (relu ? " relu" : ""));
}

}  // namespace

void bias_residual_activation(const Context& ctx, float* y, const float* bias, const float* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  launch(ctx, y, bias, z, relu, outer, channels, inner);
}

void bias_residual_activation(const Context& ctx, bf16* y, const bf16* bias, const bf16* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  launch(ctx, y, bias, z, relu, outer, channels, inner);
}

}  // namespace rosetta::kernels::cuda
