// CUDA twin of the layout transposes (kernels/layout.inc): one thread per output element, grid-stride, so the
// writes are coalesced and the reads strided (a one-off transpose of an input batch or a filter, not a hot loop).
#include "kernels/cuda/launch.h"
#include "kernels/layout.h"
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

// y (n, hw, cp) from x (n, c, hw), zero past channel c, converted to T.
template <typename T>
__global__ void pack_kernel(const float* x, T* y, std::int64_t c, std::int64_t hw, std::int64_t cp, std::int64_t total) {
  for (const std::int64_t out : grid_stride(total)) {
    const std::int64_t ch = out % cp, i = out / cp % hw, image = out / (cp * hw);
    y[out] = T(ch < c ? x[(image * c + ch) * hw + i] : 0.0f);
  }
}

template <typename T>
void pack(const Context& ctx, const float* x, T* y, std::int64_t n, std::int64_t c, std::int64_t hw,
          std::int64_t c_padded) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0 && c_padded >= c,
                "pack_channels_last of (" << n << ", " << c << ", " << hw << ") to " << c_padded << " channels");
  const std::int64_t total = n * hw * c_padded;
  if (total == 0) return;
  pack_kernel<T><<<grid_for(total), kThreads, 0, ctx.stream()>>>(x, y, c, hw, c_padded, total);
  ROSETTA_LAUNCH_CHECK("pack_channels_last (" << n << ", " << c << ", " << hw << ") to " << c_padded);
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

void pack_channels_last(const Context& ctx, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                        std::int64_t c_padded) {
  pack(ctx, x, y, n, c, hw, c_padded);
}

void pack_channels_last(const Context& ctx, const float* x, bf16* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                        std::int64_t c_padded) {
  pack(ctx, x, y, n, c, hw, c_padded);
}

void swap_leading_axes(const Context& ctx, const float* x, float* y, std::int64_t a, std::int64_t b, std::int64_t c) {
  ROSETTA_CHECK(a >= 0 && b >= 0 && c >= 0, "swap_leading_axes of (" << a << ", " << b << ", " << c << ")");
  if (a * b * c == 0) return;
  swap_leading_axes_kernel<<<grid_for(a * b * c), kThreads, 0, ctx.stream()>>>(x, y, a, b, c);
  ROSETTA_LAUNCH_CHECK("swap_leading_axes (" << a << ", " << b << ", " << c << ")");
}

}  // namespace rosetta::kernels::cuda
