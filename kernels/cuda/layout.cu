// CUDA twin of the layout transposes (kernels/layout.inc): one thread per output element, grid-stride, so the
// writes are coalesced and the reads strided (a transpose of an input batch, a flatten or a filter, not a hot loop).
// The parameter copies run in one launch: blockIdx.y picks the copy, the x blocks stride over its elements, with
// kernels/reference/layout.h's index maps (so both twins copy the same elements).
#include <algorithm>

#include "kernels/cuda/launch.h"
#include "kernels/layout.h"
#include "kernels/reference/layout.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// y (n, hw, c) from x (n, c, hw).
template <typename T>
__global__ void nchw_to_nhwc_kernel(const T* x, T* y, std::int64_t c, std::int64_t hw, std::int64_t total) {
  for (const std::int64_t out : grid_stride(total)) {
    const std::int64_t ch = out % c, i = out / c % hw, image = out / (c * hw);
    y[out] = x[(image * c + ch) * hw + i];
  }
}

// y (n, c, hw) from x (n, hw, c).
template <typename T>
__global__ void nhwc_to_nchw_kernel(const T* x, T* y, std::int64_t c, std::int64_t hw, std::int64_t total) {
  for (const std::int64_t out : grid_stride(total)) {
    const std::int64_t i = out % hw, ch = out / hw % c, image = out / (c * hw);
    y[out] = x[(image * hw + i) * c + ch];
  }
}

template <typename T>
__global__ void copy_kernel(const T* x, T* y, std::int64_t total) {
  for (const std::int64_t i : grid_stride(total)) y[i] = x[i];
}

__global__ void swap_leading_axes_kernel(const float* x, float* y, std::int64_t a, std::int64_t b, std::int64_t c) {
  for (const std::int64_t e : grid_stride(a * b * c)) {
    const std::int64_t k = e % c, j = e / c % b, i = e / (b * c);
    y[(j * a + i) * c + k] = x[e];
  }
}

// y (n, c, hw) in `to` with y_channels from x in `from` with x_channels; 32-bit (the caller checks the sizes).
template <typename In, typename Out>
__global__ void relayout_channels_kernel(const In* x, Layout from, int x_channels, Out* y, Layout to, int y_channels,
                                         int c, int hw, int total) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
    // (image, ch, i) of output element e in layout `to`
    const int ch = to == Layout::nhwc ? e % y_channels : e / hw % y_channels;
    const int i = to == Layout::nhwc ? e / y_channels % hw : e % hw, image = e / (y_channels * hw);
    const int src = from == Layout::nhwc ? (image * hw + i) * x_channels + ch : (image * x_channels + ch) * hw + i;
    y[e] = ch < c ? Out(float(x[src])) : Out(0.0f);
  }
}

template <typename T>
__global__ void stage_parameters_kernel(ParameterCopies copies, const float* arena, T* weights, T* biases) {
  const ParameterCopy& p = copies.copy[blockIdx.y];
  const std::int64_t elements = p.working_elements();
  for (std::int64_t w = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; w < elements;
       w += std::int64_t(gridDim.x) * blockDim.x)
    reference::stage_element(p, w, arena, weights, biases);
}

template <typename T>
__global__ void unstage_gradients_kernel(ParameterCopies copies, const T* weight_grads, const float* bias_grads,
                                         float* arena_grads) {
  const ParameterCopy& p = copies.copy[blockIdx.y];
  const std::int64_t elements = p.arena_elements();
  for (std::int64_t a = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; a < elements;
       a += std::int64_t(gridDim.x) * blockDim.x)
    reference::unstage_element(p, a, weight_grads, bias_grads, arena_grads);
}

// The x blocks of a copy launch: enough for the largest copy, capped like grid_for.
unsigned copy_blocks(const ParameterCopies& copies, bool working) {
  std::int64_t largest = 1;
  for (int j = 0; j < copies.count; ++j)
    largest = std::max(largest, working ? copies.copy[j].working_elements() : copies.copy[j].arena_elements());
  return grid_for(largest);
}

template <typename In, typename Out>
void relayout(const Context& ctx, const In* x, Layout from, std::int64_t x_channels, Out* y, Layout to,
              std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0 && x_channels >= c && y_channels >= c,
                "relayout_channels of (" << n << ", " << c << ", " << hw << ") from " << x_channels << " to "
                                         << y_channels << " channels");
  const std::int64_t total = n * y_channels * hw;
  ROSETTA_CHECK(total < (std::int64_t(1) << 31) && n * x_channels * hw < (std::int64_t(1) << 31),
                "relayout_channels of (" << n << ", " << c << ", " << hw << "): beyond 32-bit indexing");
  if (total == 0) return;
  relayout_channels_kernel<In, Out><<<grid_for(total), kThreads, 0, ctx.stream()>>>(
      x, from, static_cast<int>(x_channels), y, to, static_cast<int>(y_channels), static_cast<int>(c),
      static_cast<int>(hw), static_cast<int>(total));
  ROSETTA_LAUNCH_CHECK("relayout_channels " << layout_name(from) << " " << x_channels << " -> " << layout_name(to)
                                            << " " << y_channels << " (" << n << ", " << c << ", " << hw << ")");
}

template <typename T>
void stage(const Context& ctx, const ParameterCopies& copies, const float* arena, T* weights, T* biases) {
  if (copies.count == 0) return;
  stage_parameters_kernel<T><<<dim3(copy_blocks(copies, true), static_cast<unsigned>(copies.count)), kThreads, 0,
                               ctx.stream()>>>(copies, arena, weights, biases);
  ROSETTA_LAUNCH_CHECK("stage_parameters (" << copies.count << " copies)");
}

template <typename T>
void unstage(const Context& ctx, const ParameterCopies& copies, const T* weight_grads, const float* bias_grads,
             float* arena_grads) {
  if (copies.count == 0) return;
  unstage_gradients_kernel<T><<<dim3(copy_blocks(copies, false), static_cast<unsigned>(copies.count)), kThreads, 0,
                                ctx.stream()>>>(copies, weight_grads, bias_grads, arena_grads);
  ROSETTA_LAUNCH_CHECK("unstage_gradients (" << copies.count << " copies)");
}

template <typename T>
void change(const Context& ctx, const T* x, Layout from, T* y, Layout to, std::int64_t n, std::int64_t c,
            std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0, "change_layout of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t total = n * c * hw;
  if (total == 0) return;
  if (from == to)
    copy_kernel<T><<<grid_for(total), kThreads, 0, ctx.stream()>>>(x, y, total);
  else if (to == Layout::nhwc)
    nchw_to_nhwc_kernel<T><<<grid_for(total), kThreads, 0, ctx.stream()>>>(x, y, c, hw, total);
  else
    nhwc_to_nchw_kernel<T><<<grid_for(total), kThreads, 0, ctx.stream()>>>(x, y, c, hw, total);
  ROSETTA_LAUNCH_CHECK("change_layout " << layout_name(from) << " -> " << layout_name(to) << " (" << n << ", " << c
                                        << ", " << hw << ")");
}

}  // namespace

void change_layout(const Context& ctx, const float* x, Layout from, float* y, Layout to, std::int64_t n, std::int64_t c,
                   std::int64_t hw) {
  change(ctx, x, from, y, to, n, c, hw);
}

void change_layout(const Context& ctx, const bf16* x, Layout from, bf16* y, Layout to, std::int64_t n, std::int64_t c,
                   std::int64_t hw) {
  change(ctx, x, from, y, to, n, c, hw);
}

void relayout_channels(const Context& ctx, const float* x, Layout from, std::int64_t x_channels, float* y, Layout to,
                       std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  relayout(ctx, x, from, x_channels, y, to, y_channels, n, c, hw);
}

void relayout_channels(const Context& ctx, const float* x, Layout from, std::int64_t x_channels, bf16* y, Layout to,
                       std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  relayout(ctx, x, from, x_channels, y, to, y_channels, n, c, hw);
}

void relayout_channels(const Context& ctx, const bf16* x, Layout from, std::int64_t x_channels, bf16* y, Layout to,
                       std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  relayout(ctx, x, from, x_channels, y, to, y_channels, n, c, hw);
}

void stage_parameters(const Context& ctx, const ParameterCopies& copies, const float* arena, float* weights,
                      float* biases) {
  stage(ctx, copies, arena, weights, biases);
}

void stage_parameters(const Context& ctx, const ParameterCopies& copies, const float* arena, bf16* weights,
                      bf16* biases) {
  stage(ctx, copies, arena, weights, biases);
}

void unstage_gradients(const Context& ctx, const ParameterCopies& copies, const float* weight_grads,
                       const float* bias_grads, float* arena_grads) {
  unstage(ctx, copies, weight_grads, bias_grads, arena_grads);
}

void unstage_gradients(const Context& ctx, const ParameterCopies& copies, const bf16* weight_grads,
                       const float* bias_grads, float* arena_grads) {
  unstage(ctx, copies, weight_grads, bias_grads, arena_grads);
}

void swap_leading_axes(const Context& ctx, const float* x, float* y, std::int64_t a, std::int64_t b, std::int64_t c) {
  ROSETTA_CHECK(a >= 0 && b >= 0 && c >= 0, "swap_leading_axes of (" << a << ", " << b << ", " << c << ")");
  if (a * b * c == 0) return;
  swap_leading_axes_kernel<<<grid_for(a * b * c), kThreads, 0, ctx.stream()>>>(x, y, a, b, c);
  ROSETTA_LAUNCH_CHECK("swap_leading_axes (" << a << ", " << b << ", " << c << ")");
}

}  // namespace rosetta::kernels::cuda
