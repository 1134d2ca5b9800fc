// CUDA twin of kernels/elementwise.inc's fused linear epilogue and its gradient. Each element runs the reference's own
// element functions (kernels/reference/elementwise.h), so every dz and y is the CPU twin's bit for bit (dropout masks
// included: the same Philox draws); the bias gradient is a float sum in another order than the CPU's double one
// (kernels/cuda/channel_sum.cuh: deterministic, within float re-association of it). Index math is 32-bit; the
// gradient pass moves V elements per load (16 bytes) where the view and the pointers allow it.
#include "kernels/cuda/channel_sum.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/vector_access.cuh"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/reference/elementwise.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

template <typename T>
__global__ void bias_relu_dropout_forward_kernel(const float* z, const T* bias, T* y, bool relu, DropoutDraw d,
                                                 float scale, int channels, int inner, int n) {
  const std::uint64_t stream = d.p > 0.0f ? philox_step_stream(d.use, *d.step) : 0;
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
    const float mask = dropout_mask(d, scale, stream, static_cast<std::uint64_t>(e));
    y[e] = reference::bias_relu_dropout_element<T>(z[e], static_cast<float>(bias[(e / inner) % channels]), relu, mask);
  }
}

// The gradient's element function (kernels/cuda/channel_sum.cuh) over the view of y, dy and dz.
template <typename T>
struct ReluDropoutGradient {
  const T* y;  // null: no ReLU
  const T* dy;
  T* dz;  // null: the bias gradient only
  float scale;
  int channels, inner;

  template <int V>
  __device__ void apply(int o, int c, int i, float (&g)[V]) const {
    const int e = (o * channels + c) * inner + i;
    T dy_v[V], y_v[V], dz_v[V];
    load_vector<T, V>(dy + e, dy_v);
    if (y) load_vector<T, V>(y + e, y_v);
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const bool passes = y == nullptr || static_cast<float>(y_v[v]) > 0.0f;
      dz_v[v] = reference::relu_dropout_gradient<T>(passes, static_cast<float>(dy_v[v]), scale);
      g[v] = static_cast<float>(dz_v[v]);
    }
    if (dz) store_vector<T, V>(dz + e, dz_v);
  }
};

template <typename T>
void forward(const Context& ctx, const float* z, const T* bias, T* y, bool relu, const DropoutDraw& d,
             std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  check_channel_view("bias_relu_dropout_forward", outer, channels, inner);
  const std::int64_t n = outer * channels * inner;
  ROSETTA_CHECK(n < (std::int64_t(1) << 31), "bias_relu_dropout_forward of (" << outer << ", " << channels << ", "
                                                                               << inner << "): beyond 32-bit indexing");
  if (n == 0) return;
  bias_relu_dropout_forward_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream()>>>(
      z, bias, y, relu, d, dropout_scale(d.p), static_cast<int>(channels), static_cast<int>(inner), static_cast<int>(n));
  ROSETTA_LAUNCH_CHECK("bias_relu_dropout_forward (" << outer << ", " << channels << ", " << inner << ")"
                                                     << (relu ? " relu" : "") << " p=" << d.p);
}

template <typename T>
void backward(const Context& ctx, const T* y, const T* dy, float scale, T* dz, float* dbias, std::int64_t outer,
              std::int64_t channels, std::int64_t inner) {
  check_channel_view("bias_relu_dropout_backward", outer, channels, inner);
  const ReluDropoutGradient<T> element{y, dy, dz, scale, static_cast<int>(channels), static_cast<int>(inner)};
  constexpr int kVector = 16 / sizeof(T);  // 4 floats or 8 bf16: one 16-byte word per tensor
  const std::int64_t contiguous = inner > 1 ? inner : channels;
  const bool vectors = contiguous % kVector == 0 && vector_aligned<T, kVector>(dy) &&
                       (y == nullptr || vector_aligned<T, kVector>(y)) && (dz == nullptr || vector_aligned<T, kVector>(dz));
  if (vectors)
    run_channel_sum<T, kVector>(ctx, element, outer, channels, inner, dbias, "bias_relu_dropout_backward");
  else
    run_channel_sum<T, 1>(ctx, element, outer, channels, inner, dbias, "bias_relu_dropout_backward");
}

}  // namespace

void bias_relu_dropout_forward(const Context& ctx, const float* z, const float* bias, float* y, bool relu,
                               const DropoutDraw& dropout, std::int64_t outer, std::int64_t channels,
                               std::int64_t inner) {
  forward(ctx, z, bias, y, relu, dropout, outer, channels, inner);
}

void bias_relu_dropout_forward(const Context& ctx, const float* z, const bf16* bias, bf16* y, bool relu,
                               const DropoutDraw& dropout, std::int64_t outer, std::int64_t channels,
                               std::int64_t inner) {
  forward(ctx, z, bias, y, relu, dropout, outer, channels, inner);
}

void bias_relu_dropout_backward(const Context& ctx, const float* y, const float* dy, float scale, float* dz,
                                float* dbias, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  backward(ctx, y, dy, scale, dz, dbias, outer, channels, inner);
}

void bias_relu_dropout_backward(const Context& ctx, const bf16* y, const bf16* dy, float scale, bf16* dz,
                                float* dbias, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  backward(ctx, y, dy, scale, dz, dbias, outer, channels, inner);
}

}  // namespace rosetta::kernels::cuda
