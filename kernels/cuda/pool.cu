// CUDA twin of max pooling (kernels/pool.inc), NCHW and (forward only) NHWC. One thread per output in the forward, one per input element in the
// backward (a gather over the windows that cover it: no atomics, deterministic). Each thread performs exactly the
// comparisons and float additions of kernels/reference/pool.h in the same order, so results, argmax included,
// are bit-identical to the CPU twin. Global average pooling: one thread per (n, c) output, the CPU twin's float sum
// in the same order (consecutive threads read consecutive channels in NHWC, consecutive planes in NCHW). The bf16
// variants run the same kernels on bf16 bits, compared and summed as floats.
#include <limits>

#include "kernels/cuda/launch.h"
#include "kernels/half.h"
#include "kernels/pool.h"
#include "kernels/reference/pool.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// x (planes, h, w) -> y, argmax (planes, oh, ow); see reference::maxpool2d_forward for the rule.
__global__ void maxpool2d_forward_kernel(const float* x, float* y, std::int32_t* argmax, std::int64_t h, std::int64_t w,
                                         std::int64_t oh_n, std::int64_t ow_n, int window, int stride, int pad,
                                         std::int64_t outputs) {
  for (std::int64_t out = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; out < outputs;
       out += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t ow = out % ow_n, oh = out / ow_n % oh_n, plane = out / (ow_n * oh_n);
    const float* x_plane = x + plane * h * w;
    const std::int64_t h0 = oh * stride - pad, w0 = ow * stride - pad;
    const std::int64_t h_begin = h0 < 0 ? 0 : h0, w_begin = w0 < 0 ? 0 : w0;
    const std::int64_t h_end = h0 + window < h ? h0 + window : h, w_end = w0 + window < w ? w0 + window : w;
    float best = -std::numeric_limits<float>::infinity();
    std::int64_t best_index = h_begin * w + w_begin;
    for (std::int64_t ih = h_begin; ih < h_end; ++ih)
      for (std::int64_t iw = w_begin; iw < w_end; ++iw) {
        const float v = x_plane[ih * w + iw];
        if (v > best || isnan(v)) {
          best = v;
          best_index = ih * w + iw;
        }
      }
    y[out] = best;
    argmax[out] = static_cast<std::int32_t>(best_index);
  }
}

// x (n, h, w, c) -> y (n, oh, ow, c): one thread per output, consecutive threads on consecutive channels.
template <typename T>
__global__ void maxpool2d_forward_nhwc_kernel(const T* x, T* y, std::int64_t c, std::int64_t h, std::int64_t w,
                                              std::int64_t oh_n, std::int64_t ow_n, int window, int stride, int pad,
                                              std::int64_t outputs) {
  for (std::int64_t out = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; out < outputs;
       out += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t ch = out % c, ow = out / c % ow_n, oh = out / (c * ow_n) % oh_n, image = out / (c * ow_n * oh_n);
    const std::int64_t h0 = oh * stride - pad, w0 = ow * stride - pad;
    const std::int64_t h_begin = h0 < 0 ? 0 : h0, w_begin = w0 < 0 ? 0 : w0;
    const std::int64_t h_end = h0 + window < h ? h0 + window : h, w_end = w0 + window < w ? w0 + window : w;
    float best = -std::numeric_limits<float>::infinity();
    for (std::int64_t ih = h_begin; ih < h_end; ++ih)
      for (std::int64_t iw = w_begin; iw < w_end; ++iw) {
        const float v = as_float(x[((image * h + ih) * w + iw) * c + ch]);
        if (v > best || isnan(v)) best = v;
      }
    store_from_float(y + out, best);
  }
}

// First and one-past-last output index along one dimension whose window covers input index i (as
// reference::pool_windows_covering).
__device__ void windows_covering(std::int64_t i, std::int64_t out, int window, int stride, int pad, std::int64_t* first,
                                 std::int64_t* last) {
  const std::int64_t lo_num = i + pad - window + 1;
  *first = lo_num <= 0 ? 0 : (lo_num + stride - 1) / stride;
  *last = (i + pad) / stride + 1;
  if (*last > out) *last = out;
}

// dx (planes, h, w) = sum of dy over the covering windows whose argmax is that element, ascending (oh, ow).
__global__ void maxpool2d_backward_kernel(const float* dy, const std::int32_t* argmax, float* dx, std::int64_t h,
                                          std::int64_t w, std::int64_t oh_n, std::int64_t ow_n, int window, int stride,
                                          int pad, std::int64_t inputs) {
  for (std::int64_t in = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; in < inputs;
       in += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t iw = in % w, ih = in / w % h, plane = in / (w * h);
    std::int64_t oh_first, oh_last, ow_first, ow_last;
    windows_covering(ih, oh_n, window, stride, pad, &oh_first, &oh_last);
    windows_covering(iw, ow_n, window, stride, pad, &ow_first, &ow_last);
    const std::int32_t self = static_cast<std::int32_t>(ih * w + iw);
    float sum = 0.0f;
    for (std::int64_t oh = oh_first; oh < oh_last; ++oh)
      for (std::int64_t ow = ow_first; ow < ow_last; ++ow) {
        const std::int64_t out = (plane * oh_n + oh) * ow_n + ow;
        if (argmax[out] == self) sum += dy[out];
      }
    dx[in] = sum;
  }
}

template <typename T>
__global__ void global_avgpool_kernel(const T* x, float* y, std::int64_t c, std::int64_t hw,
                                      std::int64_t channel_stride, std::int64_t position_stride, std::int64_t outputs) {
  for (std::int64_t out = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; out < outputs;
       out += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t image = out / c, ch = out % c;
    const T* x_nc = x + image * c * hw + ch * channel_stride;
    float sum = 0.0f;
    for (std::int64_t i = 0; i < hw; ++i) sum = __fadd_rn(sum, as_float(x_nc[i * position_stride]));
    y[out] = __fdiv_rn(sum, static_cast<float>(hw));
  }
}

template <typename T>
void maxpool_nhwc(const Context& ctx, const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                  int window, int stride, int pad, const char* name) {
  reference::check_maxpool2d_args(n, c, h, w, window, stride, pad);
  const std::int64_t oh_n = reference::pool_out_size(h, window, stride, pad);
  const std::int64_t ow_n = reference::pool_out_size(w, window, stride, pad);
  const std::int64_t outputs = n * c * oh_n * ow_n;
  if (outputs == 0) return;
  maxpool2d_forward_nhwc_kernel<T><<<grid_for(outputs), kThreads, 0, ctx.stream()>>>(x, y, c, h, w, oh_n, ow_n, window,
                                                                                     stride, pad, outputs);
  ROSETTA_LAUNCH_CHECK(name << " (" << n << ", " << h << ", " << w << ", " << c << ") window " << window << " stride "
                            << stride << " pad " << pad);
}

template <typename T>
void avgpool(const Context& ctx, const T* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
             bool channels_last, const char* name) {
  ROSETTA_CHECK(n >= 0 && c > 0 && hw > 0, "global average pooling of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t outputs = n * c;
  if (outputs == 0) return;
  global_avgpool_kernel<T><<<grid_for(outputs), kThreads, 0, ctx.stream()>>>(x, y, c, hw, channels_last ? 1 : hw,
                                                                             channels_last ? c : 1, outputs);
  ROSETTA_LAUNCH_CHECK(name << " (" << n << ", " << c << ", " << hw << ")" << (channels_last ? " channels-last" : ""));
}

}  // namespace

void maxpool2d_forward(const Context& ctx, const float* x, float* y, std::int32_t* argmax, std::int64_t n,
                       std::int64_t c, std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  reference::check_maxpool2d_args(n, c, h, w, window, stride, pad);
  const std::int64_t oh_n = reference::pool_out_size(h, window, stride, pad);
  const std::int64_t ow_n = reference::pool_out_size(w, window, stride, pad);
  const std::int64_t outputs = n * c * oh_n * ow_n;
  if (outputs == 0) return;
  maxpool2d_forward_kernel<<<grid_for(outputs), kThreads, 0, ctx.stream()>>>(x, y, argmax, h, w, oh_n, ow_n, window,
                                                                             stride, pad, outputs);
  ROSETTA_LAUNCH_CHECK("maxpool2d_forward (" << n << ", " << c << ", " << h << ", " << w << ") window " << window
                                             << " stride " << stride << " pad " << pad);
}

void maxpool2d_backward(const Context& ctx, const float* dy, const std::int32_t* argmax, float* dx, std::int64_t n,
                        std::int64_t c, std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  reference::check_maxpool2d_args(n, c, h, w, window, stride, pad);
  const std::int64_t oh_n = reference::pool_out_size(h, window, stride, pad);
  const std::int64_t ow_n = reference::pool_out_size(w, window, stride, pad);
  const std::int64_t inputs = n * c * h * w;
  if (inputs == 0) return;
  maxpool2d_backward_kernel<<<grid_for(inputs), kThreads, 0, ctx.stream()>>>(dy, argmax, dx, h, w, oh_n, ow_n, window,
                                                                             stride, pad, inputs);
  ROSETTA_LAUNCH_CHECK("maxpool2d_backward (" << n << ", " << c << ", " << h << ", " << w << ") window " << window
                                              << " stride " << stride << " pad " << pad);
}

void maxpool2d_forward_nhwc(const Context& ctx, const float* x, float* y, std::int64_t n, std::int64_t c,
                            std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  maxpool_nhwc(ctx, x, y, n, c, h, w, window, stride, pad, "maxpool2d_forward_nhwc");
}

void maxpool2d_forward_nhwc_bf16(const Context& ctx, const std::uint16_t* x, std::uint16_t* y, std::int64_t n,
                                 std::int64_t c, std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  maxpool_nhwc(ctx, x, y, n, c, h, w, window, stride, pad, "maxpool2d_forward_nhwc_bf16");
}

void global_avgpool_forward(const Context& ctx, const float* x, float* y, std::int64_t n, std::int64_t c,
                            std::int64_t hw, bool channels_last) {
  avgpool(ctx, x, y, n, c, hw, channels_last, "global_avgpool_forward");
}

void global_avgpool_forward_bf16(const Context& ctx, const std::uint16_t* x, float* y, std::int64_t n, std::int64_t c,
                                 std::int64_t hw, bool channels_last) {
  avgpool(ctx, x, y, n, c, hw, channels_last, "global_avgpool_forward_bf16");
}

}  // namespace rosetta::kernels::cuda
