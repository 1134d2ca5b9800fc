// Plain-loop reference of 2-D max pooling over NCHW (kernels/pool.inc), generic over the scalar type: float is
// what kernels/cpu runs, double is what the gradient checks run. The CUDA twin (kernels/cuda/pool.cu) computes
// each output with the same comparisons and each input gradient with the same float additions in the same order,
// so it matches this bit for bit.
//
// Forward rule (PyTorch's): the running maximum starts at -infinity with the index of the window's first
// in-image element; an element replaces it when it is greater, or when it is NaN. So the first maximum in
// row-major window order wins a tie, a NaN wins over any number (the last NaN when there are several), and
// padding never wins since it is skipped.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime/error.h"

namespace rosetta::kernels::reference {

// Throws unless the arguments describe a pooling both twins support: window and stride >= 1, 0 <= pad <=
// window / 2 (so every window holds an input element, as PyTorch requires), the padded input at least one
// window, and each plane indexable by the int32 argmax.
inline void check_maxpool2d_args(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, int window, int stride,
                                 int pad) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && h > 0 && w > 0 && window > 0 && stride > 0 && pad >= 0 && 2 * pad <= window &&
                    h + 2 * pad >= window && w + 2 * pad >= window && h * w <= std::numeric_limits<std::int32_t>::max(),
                "max pooling of (" << n << ", " << c << ", " << h << ", " << w << ") with window " << window
                                   << " stride " << stride << " pad " << pad);
}

// Output size of one pooled dimension (floor, as PyTorch with ceil_mode=False).
inline std::int64_t pool_out_size(std::int64_t in, int window, int stride, int pad) {
  return (in + 2 * pad - window) / stride + 1;
}

// The first and one-past-last output index along one dimension whose window covers input index i:
// o * stride - pad <= i <= o * stride - pad + window - 1, clamped to [0, out).
inline void pool_windows_covering(std::int64_t i, std::int64_t out, int window, int stride, int pad,
                                  std::int64_t* first, std::int64_t* last) {
  const std::int64_t lo_num = i + pad - window + 1;  // o >= ceil(lo_num / stride)
  *first = lo_num <= 0 ? 0 : (lo_num + stride - 1) / stride;
  *last = (i + pad) / stride + 1;  // o <= floor((i + pad) / stride)
  if (*last > out) *last = out;
}

// x (n, c, h, w) -> y (n, c, oh, ow), argmax (n, c, oh, ow) = ih * w + iw within the (n, c) plane.
template <typename T>
void maxpool2d_forward(const T* x, T* y, std::int32_t* argmax, std::int64_t n, std::int64_t c, std::int64_t h,
                       std::int64_t w, int window, int stride, int pad) {
  const std::int64_t oh_n = pool_out_size(h, window, stride, pad), ow_n = pool_out_size(w, window, stride, pad);
  for (std::int64_t plane = 0; plane < n * c; ++plane) {
    const T* x_plane = x + plane * h * w;
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        const std::int64_t h0 = oh * stride - pad, w0 = ow * stride - pad;
        const std::int64_t h_begin = h0 < 0 ? 0 : h0, w_begin = w0 < 0 ? 0 : w0;
        const std::int64_t h_end = h0 + window < h ? h0 + window : h, w_end = w0 + window < w ? w0 + window : w;
        T best = -std::numeric_limits<T>::infinity();
        std::int64_t best_index = h_begin * w + w_begin;
        for (std::int64_t ih = h_begin; ih < h_end; ++ih)
          for (std::int64_t iw = w_begin; iw < w_end; ++iw) {
            const T v = x_plane[ih * w + iw];
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = ih * w + iw;
            }
          }
        const std::int64_t out = (plane * oh_n + oh) * ow_n + ow;
        y[out] = best;
        argmax[out] = static_cast<std::int32_t>(best_index);
      }
  }
}

// dx (n, c, h, w) = sum of dy over the windows whose argmax is that element, in ascending (oh, ow) order.
template <typename T>
void maxpool2d_backward(const T* dy, const std::int32_t* argmax, T* dx, std::int64_t n, std::int64_t c, std::int64_t h,
                        std::int64_t w, int window, int stride, int pad) {
  const std::int64_t oh_n = pool_out_size(h, window, stride, pad), ow_n = pool_out_size(w, window, stride, pad);
  for (std::int64_t plane = 0; plane < n * c; ++plane)
    for (std::int64_t ih = 0; ih < h; ++ih)
      for (std::int64_t iw = 0; iw < w; ++iw) {
        std::int64_t oh_first, oh_last, ow_first, ow_last;
        pool_windows_covering(ih, oh_n, window, stride, pad, &oh_first, &oh_last);
        pool_windows_covering(iw, ow_n, window, stride, pad, &ow_first, &ow_last);
        T sum = T(0);
        for (std::int64_t oh = oh_first; oh < oh_last; ++oh)
          for (std::int64_t ow = ow_first; ow < ow_last; ++ow) {
            const std::int64_t out = (plane * oh_n + oh) * ow_n + ow;
            if (argmax[out] == ih * w + iw) sum += dy[out];
          }
        dx[(plane * h + ih) * w + iw] = sum;
      }
}

}  // namespace rosetta::kernels::reference
