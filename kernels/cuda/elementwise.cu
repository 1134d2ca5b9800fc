// CUDA twin of kernels/cpu/elementwise.cpp: same results element for element (dropout masks included, since
// both draw from philox_uniform with the same (seed, stream, index)).
#include "kernels/cuda/launch.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "runtime/cuda_check.h"
#include "runtime/philox.h"

namespace rosetta::kernels::cuda {
namespace {

__global__ void fill_kernel(float* y, float value, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) y[i] = value;
}
__global__ void copy_kernel(const float* x, float* y, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) y[i] = x[i];
}
template <typename From, typename To>
__global__ void convert_kernel(const From* x, To* y, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) y[i] = To(float(x[i]));
}
__global__ void bias_add_kernel(float* y, const float* bias, std::int64_t channels, std::int64_t inner,
                                std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) y[i] += bias[(i / inner) % channels];
}
// One block per channel; threads stride over (outer, inner) and reduce in shared memory in a fixed order, so
// the result is deterministic run to run.
__global__ void bias_backward_kernel(const float* dy, float* dbias, std::int64_t outer, std::int64_t channels,
                                     std::int64_t inner, bool accumulate) {
  __shared__ float partial[kThreads];
  const std::int64_t c = blockIdx.x;
  float sum = 0;
  for (std::int64_t j = threadIdx.x; j < outer * inner; j += blockDim.x) {
    const std::int64_t o = j / inner, i = j % inner;
    sum += dy[(o * channels + c) * inner + i];
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[c] = accumulate ? dbias[c] + partial[0] : partial[0];
}
__global__ void relu_forward_kernel(const float* x, float* y, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
__global__ void dropout_forward_kernel(const float* x, float* y, float* mask, float p, float scale,
                                       std::uint64_t seed, std::uint32_t use, const std::uint64_t* step,
                                       std::uint64_t first, std::int64_t n) {
  const std::uint64_t stream = philox_step_stream(use, *step);
  for (const std::int64_t i : grid_stride(n)) {
    const float m = philox_uniform(seed, stream, first + static_cast<std::uint64_t>(i)) >= p ? scale : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}
__global__ void dropout_backward_kernel(const float* dy, const float* mask, float* dx, std::int64_t n) {
  for (const std::int64_t i : grid_stride(n)) dx[i] = dy[i] * mask[i];
}
__global__ void increment_counter_kernel(std::uint64_t* counter) { ++*counter; }

template <typename From, typename To>
void launch_convert(const Context& ctx, const From* x, To* y, std::int64_t n, const char* name) {
  if (n == 0) return;
  convert_kernel<From, To><<<grid_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  ROSETTA_LAUNCH_CHECK(name << " n=" << n);
}

}  // namespace

void fill(const Context& ctx, float* y, float value, std::int64_t n) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(y, value, n);
  ROSETTA_LAUNCH_CHECK("fill n=" << n);
}

void copy(const Context& ctx, const float* x, float* y, std::int64_t n) {
  if (n == 0) return;
  copy_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  ROSETTA_LAUNCH_CHECK("copy n=" << n);
}

void convert(const Context& ctx, const float* x, bf16* y, std::int64_t n) { launch_convert(ctx, x, y, n, "convert f32->bf16"); }
void convert(const Context& ctx, const bf16* x, float* y, std::int64_t n) { launch_convert(ctx, x, y, n, "convert bf16->f32"); }
void convert(const Context& ctx, const float* x, f16* y, std::int64_t n) { launch_convert(ctx, x, y, n, "convert f32->f16"); }
void convert(const Context& ctx, const f16* x, float* y, std::int64_t n) { launch_convert(ctx, x, y, n, "convert f16->f32"); }

void bias_add(const Context& ctx, float* y, const float* bias, std::int64_t outer, std::int64_t channels,
              std::int64_t inner) {
  kernels::check_channel_view("bias_add", outer, channels, inner);
  const std::int64_t n = outer * channels * inner;
  if (n == 0) return;
  bias_add_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(y, bias, channels, inner, n);
  ROSETTA_LAUNCH_CHECK("bias_add (" << outer << ", " << channels << ", " << inner << ")");
}

void bias_backward(const Context& ctx, const float* dy, float* dbias, std::int64_t outer, std::int64_t channels,
                   std::int64_t inner, bool accumulate) {
  kernels::check_channel_view("bias_backward", outer, channels, inner);
  bias_backward_kernel<<<static_cast<unsigned int>(channels), kThreads, 0, ctx.stream()>>>(dy, dbias, outer, channels,
                                                                                          inner, accumulate);
  ROSETTA_LAUNCH_CHECK("bias_backward (" << outer << ", " << channels << ", " << inner << ")");
}

void relu_forward(const Context& ctx, const float* x, float* y, std::int64_t n) {
  if (n == 0) return;
  relu_forward_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(x, y, n);
  ROSETTA_LAUNCH_CHECK("relu_forward n=" << n);
}

void relu_backward(const Context& ctx, const float* y, const float* dy, float* dx, std::int64_t n) {
  if (n == 0) return;
  relu_backward_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(y, dy, dx, n);
  ROSETTA_LAUNCH_CHECK("relu_backward n=" << n);
}

void dropout_forward(const Context& ctx, const float* x, float* y, float* mask, float p, std::uint64_t seed,
                     std::uint32_t use, const std::uint64_t* step, std::uint64_t first, std::int64_t n) {
  if (n == 0) return;
  dropout_forward_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(x, y, mask, p, 1.0f / (1.0f - p), seed, use, step,
                                                                     first, n);
  ROSETTA_LAUNCH_CHECK("dropout_forward n=" << n << " p=" << p << " first=" << first);
}

void dropout_backward(const Context& ctx, const float* dy, const float* mask, float* dx, std::int64_t n) {
  if (n == 0) return;
  dropout_backward_kernel<<<grid_for(n), kThreads, 0, ctx.stream()>>>(dy, mask, dx, n);
  ROSETTA_LAUNCH_CHECK("dropout_backward n=" << n);
}

void increment_counter(const Context& ctx, std::uint64_t* counter) {
  increment_counter_kernel<<<1, 1, 0, ctx.stream()>>>(counter);
  ROSETTA_LAUNCH_CHECK("increment_counter");
}

}  // namespace rosetta::kernels::cuda
