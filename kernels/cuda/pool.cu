// CUDA twin of the pooling ops (kernels/pool.inc), in either layout, on float or bf16 storage. One thread per
// output in the forward, one per input element in the backward (a gather over the windows that cover it: no
// atomics, deterministic), one per (n, c) feature in the global average pool. Each thread runs the reference's own
// per-element functions (kernels/reference/pool.h, compiled for the device), so results, argmax included, are the
// CPU twin's bit for bit. Consecutive threads take consecutive elements of the output's layout: in NHWC,
// consecutive channels, so loads are coalesced there too.
#include "kernels/cuda/launch.h"
#include "kernels/pool.h"
#include "kernels/reference/pool.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// The logical (image, ch, h, w) of flat element e of an (N, C, H, W) tensor stored in `layout`.
struct Position {
  std::int64_t image, ch, h, w;
};
__device__ Position position_of(Layout layout, std::int64_t e, std::int64_t C, std::int64_t H, std::int64_t W) {
  if (layout == Layout::nhwc) return {e / (C * W * H), e % C, e / (C * W) % H, e / C % W};
  return {e / (W * H * C), e / (W * H) % C, e / W % H, e % W};
}

template <typename T>
__global__ void maxpool2d_forward_kernel(PoolShape s, Layout layout, const T* x, T* y, std::int32_t* argmax,
                                         std::int64_t outputs) {
  for (const std::int64_t out : grid_stride(outputs)) {
    const Position p = position_of(layout, out, s.c, s.out_h(), s.out_w());
    const reference::PoolChoice<T> choice = reference::pool_window_max(s, layout, x, p.image, p.ch, p.h, p.w);
    y[out] = T(choice.value);
    if (argmax) argmax[out] = choice.index;
  }
}

template <typename T>
__global__ void maxpool2d_backward_kernel(PoolShape s, Layout layout, const T* dy, const std::int32_t* argmax, T* dx,
                                          std::int64_t inputs) {
  for (const std::int64_t in : grid_stride(inputs)) {
    const Position p = position_of(layout, in, s.c, s.h, s.w);
    dx[in] = T(reference::pool_input_gradient(s, layout, dy, argmax, p.image, p.ch, p.h, p.w));
  }
}

// One thread per (image, ch) output; the reference's sum order.
template <typename T>
__global__ void global_avgpool_kernel(Layout layout, const T* x, float* y, std::int64_t c, std::int64_t hw,
                                      std::int64_t outputs) {
  for (const std::int64_t out : grid_stride(outputs)) y[out] = reference::global_average(layout, x, out / c, out % c, c, hw);
}

template <typename T>
void forward(const Context& ctx, const PoolShape& s, Layout layout, const T* x, T* y, std::int32_t* argmax) {
  check_pool_shape(s);
  const std::int64_t outputs = s.n * s.c * s.out_h() * s.out_w();
  if (outputs == 0) return;
  maxpool2d_forward_kernel<T><<<grid_for(outputs), kThreads, 0, ctx.stream()>>>(s, layout, x, y, argmax, outputs);
  ROSETTA_LAUNCH_CHECK("maxpool2d_forward " << layout_name(layout) << " " << s.str());
}

template <typename T>
void backward(const Context& ctx, const PoolShape& s, Layout layout, const T* dy, const std::int32_t* argmax, T* dx) {
  check_pool_shape(s);
  const std::int64_t inputs = s.n * s.c * s.h * s.w;
  if (inputs == 0) return;
  maxpool2d_backward_kernel<T><<<grid_for(inputs), kThreads, 0, ctx.stream()>>>(s, layout, dy, argmax, dx, inputs);
  ROSETTA_LAUNCH_CHECK("maxpool2d_backward " << layout_name(layout) << " " << s.str());
}

template <typename T>
void avgpool(const Context& ctx, Layout layout, const T* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c > 0 && hw > 0, "global average pooling of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t outputs = n * c;
  if (outputs == 0) return;
  global_avgpool_kernel<T><<<grid_for(outputs), kThreads, 0, ctx.stream()>>>(layout, x, y, c, hw, outputs);
  ROSETTA_LAUNCH_CHECK("global_avgpool_forward " << layout_name(layout) << " (" << n << ", " << c << ", " << hw << ")");
}

}  // namespace

void maxpool2d_forward(const Context& ctx, const PoolShape& shape, Layout layout, const float* x, float* y,
                       std::int32_t* argmax) {
  forward(ctx, shape, layout, x, y, argmax);
}

void maxpool2d_forward(const Context& ctx, const PoolShape& shape, Layout layout, const bf16* x, bf16* y,
                       std::int32_t* argmax) {
  forward(ctx, shape, layout, x, y, argmax);
}

void maxpool2d_backward(const Context& ctx, const PoolShape& shape, Layout layout, const float* dy,
                        const std::int32_t* argmax, float* dx) {
  backward(ctx, shape, layout, dy, argmax, dx);
}

void maxpool2d_backward(const Context& ctx, const PoolShape& shape, Layout layout, const bf16* dy,
                        const std::int32_t* argmax, bf16* dx) {
  backward(ctx, shape, layout, dy, argmax, dx);
}

void global_avgpool_forward(const Context& ctx, Layout layout, const float* x, float* y, std::int64_t n, std::int64_t c,
                            std::int64_t hw) {
  avgpool(ctx, layout, x, y, n, c, hw);
}

void global_avgpool_forward(const Context& ctx, Layout layout, const bf16* x, float* y, std::int64_t n, std::int64_t c,
                            std::int64_t hw) {
  avgpool(ctx, layout, x, y, n, c, hw);
}

}  // namespace rosetta::kernels::cuda
