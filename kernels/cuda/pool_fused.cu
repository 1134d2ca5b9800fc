// CUDA twin of kernels/pool.inc's fused max pooling + ReLU + dropout and its gradient fused with the bias gradient,
// for windows that tile the input (check_tiling_pool_shape).
//
// Forward: one thread per V pooled outputs, consecutive in memory (NCHW: V outputs of one row, whose 2x2 windows are
// two runs of 2V input elements; NHWC: V channels of one position, one V-vector per window element), loaded and
// stored as 16-byte vectors where the shape and pointers allow it (else V = 1). Backward: one pass over the pooled
// outputs that writes each window of dx whole (the gradient at its arg-max, zeros elsewhere) and sums the gradients
// per channel (kernels/cuda/channel_sum.cuh), then the per-channel sum of the chunks.
//
// The window scan is the reference's rule (kernels/reference/pool.h: a running maximum from -infinity, replaced by a
// greater value or a NaN, in row-major window order), the output value the reference's own element function, so y,
// argmax and dx are the CPU twin's bit for bit; dbias is a float sum in another order (channel_sum.cuh). Index math is
// 32-bit (check_tiling_pool_shape bounds the element counts); only the dropout's draw index is 64-bit.
#include <cmath>

#include "kernels/cuda/channel_sum.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/vector_access.cuh"
#include "kernels/pool.h"
#include "kernels/reference/pool.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// What every thread of the fused pooling needs, 32-bit.
struct TilingPool {
  int n, c, h, w, window, oh, ow;
  int channels;  // unpadded, for the draw index
};

TilingPool tiling(const PoolShape& s, std::int64_t channels) {
  return {static_cast<int>(s.n), static_cast<int>(s.c),         static_cast<int>(s.h),      static_cast<int>(s.w),
          s.window,              static_cast<int>(s.out_h()),   static_cast<int>(s.out_w()), static_cast<int>(channels)};
}

// The reference's window rule, one candidate at a time.
__device__ __forceinline__ void consider(float value, int index, float& best, int& best_index) {
  if (value > best || value != value) {
    best = value;
    best_index = index;
  }
}

template <typename T>
__device__ __forceinline__ T pooled_value(float maximum, const TilingPool& p, const DropoutDraw& d, float scale,
                                          std::uint64_t stream, int image, int ch, int oh, int ow) {
  return T(reference::pool_relu_dropout_value<T>(maximum, d, scale, stream, p.channels, image, ch, oh, ow, p.oh, p.ow));
}

// NCHW: thread t takes outputs (image, ch, oh, ow .. ow + V - 1). kWindow: 2 (the runs of 2V input elements are
// loaded as vectors) or 0 (any window, V = 1, element by element).
template <typename T, int V, int kWindow>
__global__ void maxpool_relu_dropout_nchw_kernel(TilingPool p, const T* x, T* y, std::int32_t* argmax, DropoutDraw d,
                                                 float scale, int vectors) {
  const std::uint64_t stream = d.p > 0.0f ? philox_step_stream(d.use, *d.step) : 0;
  const int per_row = p.ow / V;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < vectors; t += gridDim.x * blockDim.x) {
    const int ow = (t % per_row) * V, oh = t / per_row % p.oh, plane = t / (per_row * p.oh);  // plane = image * C + ch
    const int image = plane / p.c, ch = plane % p.c, window = kWindow > 0 ? kWindow : p.window;
    float best[V];
    int best_index[V];
#pragma unroll
    for (int v = 0; v < V; ++v) {
      best[v] = -INFINITY;
      best_index[v] = oh * window * p.w + (ow + v) * window;
    }
    for (int a = 0; a < window; ++a) {
      const int ih = oh * window + a;
      const T* row = x + (plane * p.h + ih) * p.w + ow * window;
      if constexpr (kWindow > 0) {
        T run[V * kWindow];
        load_vector<T, V * kWindow>(row, run);
#pragma unroll
        for (int v = 0; v < V; ++v)
#pragma unroll
          for (int b = 0; b < kWindow; ++b)
            consider(static_cast<float>(run[v * kWindow + b]), ih * p.w + (ow + v) * kWindow + b, best[v], best_index[v]);
      } else {
        for (int b = 0; b < window; ++b) consider(static_cast<float>(row[b]), ih * p.w + ow * window + b, best[0], best_index[0]);
      }
    }
    T out[V];
#pragma unroll
    for (int v = 0; v < V; ++v) out[v] = pooled_value<T>(best[v], p, d, scale, stream, image, ch, oh, ow + v);
    const int e = (plane * p.oh + oh) * p.ow + ow;
    store_vector<T, V>(y + e, out);
    store_vector<std::int32_t, V>(argmax + e, best_index);
  }
}

// NHWC: thread t takes channels ch .. ch + V - 1 of output position (image, oh, ow); every window element is one
// V-vector.
template <typename T, int V>
__global__ void maxpool_relu_dropout_nhwc_kernel(TilingPool p, const T* x, T* y, std::int32_t* argmax, DropoutDraw d,
                                                 float scale, int vectors) {
  const std::uint64_t stream = d.p > 0.0f ? philox_step_stream(d.use, *d.step) : 0;
  const int per_position = p.c / V;
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < vectors; t += gridDim.x * blockDim.x) {
    const int ch = (t % per_position) * V, position = t / per_position;  // position = (image * OH + oh) * OW + ow
    const int ow = position % p.ow, oh = position / p.ow % p.oh, image = position / (p.ow * p.oh);
    float best[V];
    int best_index[V];
#pragma unroll
    for (int v = 0; v < V; ++v) {
      best[v] = -INFINITY;
      best_index[v] = oh * p.window * p.w + ow * p.window;
    }
    for (int a = 0; a < p.window; ++a)
      for (int b = 0; b < p.window; ++b) {
        const int ih = oh * p.window + a, iw = ow * p.window + b;
        T values[V];
        load_vector<T, V>(x + ((image * p.h + ih) * p.w + iw) * p.c + ch, values);
#pragma unroll
        for (int v = 0; v < V; ++v) consider(static_cast<float>(values[v]), ih * p.w + iw, best[v], best_index[v]);
      }
    T out[V];
#pragma unroll
    for (int v = 0; v < V; ++v) out[v] = pooled_value<T>(best[v], p, d, scale, stream, image, ch + v, oh, ow);
    store_vector<T, V>(y + position * p.c + ch, out);
    store_vector<std::int32_t, V>(argmax + position * p.c + ch, best_index);
  }
}

// The backward's element function over y's per-channel view (channel_sum.cuh): V pooled outputs from (o, c, i), their
// gradients g, and their windows of dx written whole.
template <typename T, int V, bool kNhwc>
struct PoolGradient {
  TilingPool p;
  const T* dy;
  const T* y;
  const std::int32_t* argmax;
  float scale;
  T* dx;

  template <int W>
  __device__ void apply(int o, int c, int i, float (&g)[W]) const {
    static_assert(W == V, "launched with this functor's vector width");
    // NCHW view (N, C, OH * OW): o = image, i = oh * OW + ow; NHWC view (N * OH * OW, C, 1): o = position.
    const int e = kNhwc ? o * p.c + c : (o * p.c + c) * (p.oh * p.ow) + i;
    T dy_v[V], y_v[V];
    std::int32_t chosen[V];
    load_vector<T, V>(dy + e, dy_v);
    load_vector<T, V>(y + e, y_v);
    load_vector<std::int32_t, V>(argmax + e, chosen);
    T grad[V];
#pragma unroll
    for (int v = 0; v < V; ++v) {
      grad[v] = reference::relu_dropout_gradient<T>(static_cast<float>(y_v[v]) > 0.0f, static_cast<float>(dy_v[v]), scale);
      g[v] = static_cast<float>(grad[v]);
    }
    const T zero = T(0.0f);
    if constexpr (kNhwc) {
      const int ow = o % p.ow, oh = o / p.ow % p.oh, image = o / (p.ow * p.oh);
      for (int a = 0; a < p.window; ++a)
        for (int b = 0; b < p.window; ++b) {
          const int ih = oh * p.window + a, iw = ow * p.window + b;
          T out[V];
#pragma unroll
          for (int v = 0; v < V; ++v) out[v] = chosen[v] == ih * p.w + iw ? grad[v] : zero;
          store_vector<T, V>(dx + ((image * p.h + ih) * p.w + iw) * p.c + c, out);
        }
    } else if constexpr (V > 1) {  // window 2: each window row of the V outputs is a run of 2V elements
      const int ow = i % p.ow, oh = i / p.ow;
      for (int a = 0; a < 2; ++a) {
        const int ih = oh * 2 + a;
        T run[2 * V];
#pragma unroll
        for (int v = 0; v < V; ++v)
#pragma unroll
          for (int b = 0; b < 2; ++b) run[2 * v + b] = chosen[v] == ih * p.w + (ow + v) * 2 + b ? grad[v] : zero;
        store_vector<T, 2 * V>(dx + ((o * p.c + c) * p.h + ih) * p.w + ow * 2, run);
      }
    } else {  // any window, one output
      const int ow = i % p.ow, oh = i / p.ow;
      for (int a = 0; a < p.window; ++a)
        for (int b = 0; b < p.window; ++b) {
          const int ih = oh * p.window + a, iw = ow * p.window + b;
          dx[((o * p.c + c) * p.h + ih) * p.w + iw] = chosen[0] == ih * p.w + iw ? grad[0] : zero;
        }
    }
  }
};

template <typename T>
constexpr int kVector = 16 / sizeof(T);  // 4 floats or 8 bf16: one 16-byte word

template <typename T, int V, int kWindow, typename... Args>
void launch_forward_nchw(const Context& ctx, const TilingPool& p, Args... args) {
  const int vectors = p.n * p.c * p.oh * (p.ow / V);
  maxpool_relu_dropout_nchw_kernel<T, V, kWindow><<<grid_for(vectors), kThreads, 0, ctx.stream()>>>(p, args..., vectors);
}

template <typename T>
void forward(const Context& ctx, const PoolShape& s, Layout layout, const T* x, T* y, std::int32_t* argmax,
             std::int64_t channels, const DropoutDraw& d) {
  check_tiling_pool_shape(s, channels);
  const TilingPool p = tiling(s, channels);
  if (p.n * p.c * p.oh * p.ow == 0) return;
  constexpr int V = kVector<T>;
  const float scale = dropout_scale(d.p);
  const bool aligned = vector_aligned<T, V>(x) && vector_aligned<T, V>(y) && vector_aligned<std::int32_t, V>(argmax);
  if (layout == Layout::nhwc) {
    if (aligned && p.c % V == 0) {
      const int vectors = p.n * p.oh * p.ow * (p.c / V);
      maxpool_relu_dropout_nhwc_kernel<T, V><<<grid_for(vectors), kThreads, 0, ctx.stream()>>>(p, x, y, argmax, d, scale, vectors);
    } else {
      const int vectors = p.n * p.oh * p.ow * p.c;
      maxpool_relu_dropout_nhwc_kernel<T, 1><<<grid_for(vectors), kThreads, 0, ctx.stream()>>>(p, x, y, argmax, d, scale, vectors);
    }
  } else if (aligned && p.window == 2 && p.ow % V == 0) {
    launch_forward_nchw<T, V, 2>(ctx, p, x, y, argmax, d, scale);
  } else {
    launch_forward_nchw<T, 1, 0>(ctx, p, x, y, argmax, d, scale);
  }
  ROSETTA_LAUNCH_CHECK("maxpool2d_relu_dropout_forward " << layout_name(layout) << " " << s.str() << " p=" << d.p);
}

template <typename T>
void backward(const Context& ctx, const PoolShape& s, Layout layout, const T* dy, const T* y,
              const std::int32_t* argmax, float scale, T* dx, float* dbias) {
  check_tiling_pool_shape(s, s.c);
  const TilingPool p = tiling(s, s.c);
  constexpr int V = kVector<T>;
  const ChannelView view = channel_view(layout, s.n, s.c, s.out_h() * s.out_w());
  const bool aligned = vector_aligned<T, V>(dy) && vector_aligned<T, V>(y) && vector_aligned<std::int32_t, V>(argmax) &&
                       vector_aligned<T, 2 * V>(dx);
  const char* op = "maxpool2d_relu_dropout_backward";
  if (layout == Layout::nhwc) {
    if (aligned && p.c % V == 0)
      run_channel_sum<T, V>(ctx, PoolGradient<T, V, true>{p, dy, y, argmax, scale, dx}, view.outer, view.channels,
                            view.inner, dbias, op);
    else
      run_channel_sum<T, 1>(ctx, PoolGradient<T, 1, true>{p, dy, y, argmax, scale, dx}, view.outer, view.channels,
                            view.inner, dbias, op);
  } else if (aligned && p.window == 2 && p.ow % V == 0) {
    run_channel_sum<T, V>(ctx, PoolGradient<T, V, false>{p, dy, y, argmax, scale, dx}, view.outer, view.channels,
                          view.inner, dbias, op);
  } else {
    run_channel_sum<T, 1>(ctx, PoolGradient<T, 1, false>{p, dy, y, argmax, scale, dx}, view.outer, view.channels,
                          view.inner, dbias, op);
  }
}

}  // namespace

void maxpool2d_relu_dropout_forward(const Context& ctx, const PoolShape& shape, Layout layout, const float* x,
                                    float* y, std::int32_t* argmax, std::int64_t channels, const DropoutDraw& dropout) {
  forward(ctx, shape, layout, x, y, argmax, channels, dropout);
}

void maxpool2d_relu_dropout_forward(const Context& ctx, const PoolShape& shape, Layout layout, const bf16* x, bf16* y,
                                    std::int32_t* argmax, std::int64_t channels, const DropoutDraw& dropout) {
  forward(ctx, shape, layout, x, y, argmax, channels, dropout);
}

void maxpool2d_relu_dropout_backward(const Context& ctx, const PoolShape& shape, Layout layout, const float* dy,
                                     const float* y, const std::int32_t* argmax, float scale, float* dx, float* dbias) {
  backward(ctx, shape, layout, dy, y, argmax, scale, dx, dbias);
}

void maxpool2d_relu_dropout_backward(const Context& ctx, const PoolShape& shape, Layout layout, const bf16* dy,
                                     const bf16* y, const std::int32_t* argmax, float scale, bf16* dx, float* dbias) {
  backward(ctx, shape, layout, dy, y, argmax, scale, dx, dbias);
}

}  // namespace rosetta::kernels::cuda
