// Plain-loop reference of the pooling ops (kernels/pool.inc), generic over the storage type (float and bf16 compute
// in float, double in double: the gradient checks) and either layout: this is the definition. The CUDA twin
// (kernels/cuda/pool.cu) computes each output with the same comparisons and each input gradient with the same
// additions in the same order, so it matches this bit for bit.
//
// Forward rule (PyTorch's): the running maximum starts at -infinity with the index of the window's first
// in-image element; an element replaces it when it is greater, or when it is NaN. So the first maximum in
// row-major window order wins a tie, a NaN wins over any number (the last NaN when there are several), and
// padding never wins since it is skipped.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/dropout_draw.h"
#include "kernels/pool.h"
#include "kernels/reference/elementwise.h"
#include "runtime/half.h"
#include "runtime/layout.h"

namespace rosetta::kernels::reference {

// The first and one-past-last output index along one dimension whose window covers input index i:
// o * stride - pad <= i <= o * stride - pad + window - 1, clamped to [0, out).
ROSETTA_HD void pool_windows_covering(std::int64_t i, std::int64_t out, int window, int stride, int pad,
                                      std::int64_t* first, std::int64_t* last) {
  const std::int64_t lo_num = i + pad - window + 1;  // o >= ceil(lo_num / stride)
  *first = lo_num <= 0 ? 0 : (lo_num + stride - 1) / stride;
  *last = (i + pad) / stride + 1;  // o <= floor((i + pad) / stride)
  if (*last > out) *last = out;
}

// The window rule for output (image, ch, oh, ow): the chosen value and its flat index ih * W + iw in the plane.
template <typename T>
struct PoolChoice {
  compute_t<T> value;
  std::int32_t index;
};

template <typename T>
ROSETTA_HD PoolChoice<T> pool_window_max(const PoolShape& s, Layout layout, const T* x, std::int64_t image,
                                         std::int64_t ch, std::int64_t oh, std::int64_t ow) {
  using Compute = compute_t<T>;
  const std::int64_t h0 = oh * s.stride - s.pad, w0 = ow * s.stride - s.pad;
  const std::int64_t h_begin = h0 < 0 ? 0 : h0, w_begin = w0 < 0 ? 0 : w0;
  const std::int64_t h_end = h0 + s.window < s.h ? h0 + s.window : s.h;
  const std::int64_t w_end = w0 + s.window < s.w ? w0 + s.window : s.w;
  Compute best = -std::numeric_limits<Compute>::infinity();
  std::int64_t best_index = h_begin * s.w + w_begin;
  for (std::int64_t ih = h_begin; ih < h_end; ++ih)
    for (std::int64_t iw = w_begin; iw < w_end; ++iw) {
      const Compute v = static_cast<Compute>(x[element_offset(layout, image, ch, ih, iw, s.c, s.h, s.w)]);
      if (v > best || v != v) {  // v != v: NaN
        best = v;
        best_index = ih * s.w + iw;
      }
    }
  return {best, static_cast<std::int32_t>(best_index)};
}

// The gradient reaching input (image, ch, ih, iw): dy summed over the covering windows that chose it, ascending
// (oh, ow), in the compute type.
template <typename T>
ROSETTA_HD compute_t<T> pool_input_gradient(const PoolShape& s, Layout layout, const T* dy, const std::int32_t* argmax,
                                            std::int64_t image, std::int64_t ch, std::int64_t ih, std::int64_t iw) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  std::int64_t oh_first, oh_last, ow_first, ow_last;
  pool_windows_covering(ih, oh_n, s.window, s.stride, s.pad, &oh_first, &oh_last);
  pool_windows_covering(iw, ow_n, s.window, s.stride, s.pad, &ow_first, &ow_last);
  const std::int32_t self = static_cast<std::int32_t>(ih * s.w + iw);
  compute_t<T> sum = 0;
  for (std::int64_t oh = oh_first; oh < oh_last; ++oh)
    for (std::int64_t ow = ow_first; ow < ow_last; ++ow) {
      const std::int64_t out = element_offset(layout, image, ch, oh, ow, s.c, oh_n, ow_n);
      if (argmax[out] == self) sum += static_cast<compute_t<T>>(dy[out]);
    }
  return sum;
}

// x (N, C, H, W) -> y, argmax (N, C, OH, OW), all in `layout`; argmax may be null.
template <typename T>
void maxpool2d_forward(const PoolShape& s, Layout layout, const T* x, T* y, std::int32_t* argmax) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  for (std::int64_t image = 0; image < s.n; ++image)
    for (std::int64_t ch = 0; ch < s.c; ++ch)
      for (std::int64_t oh = 0; oh < oh_n; ++oh)
        for (std::int64_t ow = 0; ow < ow_n; ++ow) {
          const PoolChoice<T> choice = pool_window_max(s, layout, x, image, ch, oh, ow);
          const std::int64_t out = element_offset(layout, image, ch, oh, ow, s.c, oh_n, ow_n);
          y[out] = T(choice.value);
          if (argmax) argmax[out] = choice.index;
        }
}

// dy, argmax (N, C, OH, OW) -> dx (N, C, H, W), all in `layout`.
template <typename T>
void maxpool2d_backward(const PoolShape& s, Layout layout, const T* dy, const std::int32_t* argmax, T* dx) {
  for (std::int64_t image = 0; image < s.n; ++image)
    for (std::int64_t ch = 0; ch < s.c; ++ch)
      for (std::int64_t ih = 0; ih < s.h; ++ih)
        for (std::int64_t iw = 0; iw < s.w; ++iw)
          dx[element_offset(layout, image, ch, ih, iw, s.c, s.h, s.w)] =
              T(pool_input_gradient(s, layout, dy, argmax, image, ch, ih, iw));
}

// The fused max pooling + ReLU + dropout (kernels/pool.inc) of output (image, ch, oh, ow): the window's maximum under
// pool_window_max's rule, the ReLU (NaN becomes 0, as relu_forward), then the dropout's mask under draw index
// ((image * channels + ch) * OH + oh) * OW + ow, `channels` being the unpadded count (a padded channel is dropped).
template <typename T>
ROSETTA_HD compute_t<T> pool_relu_dropout_value(compute_t<T> maximum, const DropoutDraw& d, float scale,
                                                std::uint64_t stream, std::int64_t channels, std::int64_t image,
                                                std::int64_t ch, std::int64_t oh, std::int64_t ow, std::int64_t oh_n,
                                                std::int64_t ow_n) {
  using Compute = compute_t<T>;
  const Compute relu = maximum > Compute(0) ? maximum : Compute(0);
  const float mask =
      ch < channels ? dropout_mask(d, scale, stream, static_cast<std::uint64_t>(((image * channels + ch) * oh_n + oh) * ow_n + ow))
                    : 0.0f;
  return relu * static_cast<Compute>(mask);
}

// x (N, C, H, W) -> y, argmax (N, C, OH, OW), all in `layout`.
template <typename T>
void maxpool2d_relu_dropout_forward(const PoolShape& s, Layout layout, const T* x, T* y, std::int32_t* argmax,
                                    std::int64_t channels, const DropoutDraw& d) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  const float scale = dropout_scale(d.p);
  const std::uint64_t stream = d.p > 0.0f ? philox_step_stream(d.use, *d.step) : 0;
  for (std::int64_t image = 0; image < s.n; ++image)
    for (std::int64_t ch = 0; ch < s.c; ++ch)
      for (std::int64_t oh = 0; oh < oh_n; ++oh)
        for (std::int64_t ow = 0; ow < ow_n; ++ow) {
          const PoolChoice<T> choice = pool_window_max(s, layout, x, image, ch, oh, ow);
          const std::int64_t out = element_offset(layout, image, ch, oh, ow, s.c, oh_n, ow_n);
          y[out] = T(pool_relu_dropout_value<T>(choice.value, d, scale, stream, channels, image, ch, oh, ow, oh_n, ow_n));
          argmax[out] = choice.index;
        }
}

// The gradient of the fused forward, whose windows tile the input: input element (image, ch, ih, iw) receives
// T(dy * scale) of its window when it is the window's arg-max and the window's output y is > 0, else 0; then
// dbias = channel_sums of dx over its per-channel view.
template <typename T, typename B>
void maxpool2d_relu_dropout_backward(const PoolShape& s, Layout layout, const T* dy, const T* y,
                                     const std::int32_t* argmax, float scale, T* dx, B* dbias) {
  using Compute = compute_t<T>;
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  for (std::int64_t image = 0; image < s.n; ++image)
    for (std::int64_t ch = 0; ch < s.c; ++ch)
      for (std::int64_t ih = 0; ih < s.h; ++ih)
        for (std::int64_t iw = 0; iw < s.w; ++iw) {
          const std::int64_t out = element_offset(layout, image, ch, ih / s.window, iw / s.window, s.c, oh_n, ow_n);
          const bool chosen = argmax[out] == ih * s.w + iw && static_cast<Compute>(y[out]) > Compute(0);
          dx[element_offset(layout, image, ch, ih, iw, s.c, s.h, s.w)] =
              relu_dropout_gradient<T>(chosen, static_cast<Compute>(dy[out]), scale);
        }
  const ChannelView v = channel_view(layout, s.n, s.c, s.h * s.w);
  channel_sums<T, B>(dx, dbias, v.outer, v.channels, v.inner);
}

// The global average of channel ch of image `image` of x (n, c, hw) in `layout`: the sum over the hw positions in
// ascending order, divided by hw, in the compute type.
template <typename T>
ROSETTA_HD compute_t<T> global_average(Layout layout, const T* x, std::int64_t image, std::int64_t ch, std::int64_t c,
                                       std::int64_t hw) {
  compute_t<T> sum = 0;
  for (std::int64_t i = 0; i < hw; ++i)
    sum += static_cast<compute_t<T>>(x[element_offset(layout, image, ch, 0, i, c, 1, hw)]);
  return sum / static_cast<compute_t<T>>(hw);
}

// x (n, c, hw) in `layout` -> y (n, c).
template <typename T, typename Out>
void global_avgpool_forward(Layout layout, const T* x, Out* y, std::int64_t n, std::int64_t c, std::int64_t hw) {
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < c; ++ch) y[image * c + ch] = static_cast<Out>(global_average(layout, x, image, ch, c, hw));
}

}  // namespace rosetta::kernels::reference
