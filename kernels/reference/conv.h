// Plain-loop reference of the 2-D convolution (cross-correlation, NCHW, groups 1, dilation 1), generic over the
// scalar type: this is the definition. Tests run it in double for gradient checks and to judge the fast float
// CPU twin (kernels/cpu/conv.cpp) and cuDNN. Every output is written once, as a sum in double over its terms in
// a fixed order, so the reference does not drift with the size of the sum.
//
// With oh, ow the output position, r, s the filter tap and (ih, iw) = (oh * stride - pad + r, ow * stride - pad
// + s) the input position (zero outside the image):
//   forward          y[n, k, oh, ow] = sum over c, r, s of x[n, c, ih, iw] * w[k, c, r, s]
//   backward-data   dx[n, c, ih, iw] = sum over k, r, s (with an output position that reads (ih, iw)) of
//                                      dy[n, k, oh, ow] * w[k, c, r, s]
//   backward-filter dw[k, c, r, s]   = sum over n, oh, ow of x[n, c, ih, iw] * dy[n, k, oh, ow]
#pragma once
#include <cstdint>

#include "kernels/conv.h"

namespace rosetta::kernels::reference {

// Flat offsets of the NCHW input, the KCRS filter and the N K OH OW output.
inline std::int64_t conv_x_index(const ConvShape& shape, std::int64_t n, std::int64_t c, std::int64_t ih,
                                 std::int64_t iw) {
  return ((n * shape.c + c) * shape.h + ih) * shape.w + iw;
}
inline std::int64_t conv_w_index(const ConvShape& shape, std::int64_t k, std::int64_t c, std::int64_t r,
                                 std::int64_t q) {
  return ((k * shape.c + c) * shape.r + r) * shape.s + q;
}
inline std::int64_t conv_y_index(const ConvShape& shape, std::int64_t n, std::int64_t k, std::int64_t oh,
                                 std::int64_t ow) {
  return ((n * shape.k + k) * shape.out_h() + oh) * shape.out_w() + ow;
}

// x (N, C, H, W), w (K, C, R, S) -> y (N, K, OH, OW)
template <typename T>
void conv2d_forward(const ConvShape& shape, const T* x, const T* w, T* y) {
  const std::int64_t oh_n = shape.out_h(), ow_n = shape.out_w();
  for (std::int64_t n = 0; n < shape.n; ++n)
    for (std::int64_t k = 0; k < shape.k; ++k)
      for (std::int64_t oh = 0; oh < oh_n; ++oh)
        for (std::int64_t ow = 0; ow < ow_n; ++ow) {
          double sum = 0;
          for (std::int64_t c = 0; c < shape.c; ++c)
            for (std::int64_t r = 0; r < shape.r; ++r) {
              const std::int64_t ih = oh * shape.stride_h - shape.pad_h + r;
              if (ih < 0 || ih >= shape.h) continue;
              for (std::int64_t q = 0; q < shape.s; ++q) {
                const std::int64_t iw = ow * shape.stride_w - shape.pad_w + q;
                if (iw < 0 || iw >= shape.w) continue;
                sum += double(x[conv_x_index(shape, n, c, ih, iw)]) * double(w[conv_w_index(shape, k, c, r, q)]);
              }
            }
          y[conv_y_index(shape, n, k, oh, ow)] = static_cast<T>(sum);
        }
}

// dy (N, K, OH, OW), w (K, C, R, S) -> dx (N, C, H, W). A gather: each dx element sums the outputs that read it.
template <typename T>
void conv2d_backward_data(const ConvShape& shape, const T* dy, const T* w, T* dx) {
  const std::int64_t oh_n = shape.out_h(), ow_n = shape.out_w();
  for (std::int64_t n = 0; n < shape.n; ++n)
    for (std::int64_t c = 0; c < shape.c; ++c)
      for (std::int64_t ih = 0; ih < shape.h; ++ih)
        for (std::int64_t iw = 0; iw < shape.w; ++iw) {
          double sum = 0;
          for (std::int64_t k = 0; k < shape.k; ++k)
            for (std::int64_t r = 0; r < shape.r; ++r) {
              const std::int64_t oh_stride = ih + shape.pad_h - r;  // = oh * stride_h when output row oh reads row ih
              if (oh_stride < 0 || oh_stride % shape.stride_h != 0 || oh_stride / shape.stride_h >= oh_n) continue;
              const std::int64_t oh = oh_stride / shape.stride_h;
              for (std::int64_t q = 0; q < shape.s; ++q) {
                const std::int64_t ow_stride = iw + shape.pad_w - q;
                if (ow_stride < 0 || ow_stride % shape.stride_w != 0 || ow_stride / shape.stride_w >= ow_n) continue;
                const std::int64_t ow = ow_stride / shape.stride_w;
                sum += double(dy[conv_y_index(shape, n, k, oh, ow)]) * double(w[conv_w_index(shape, k, c, r, q)]);
              }
            }
          dx[conv_x_index(shape, n, c, ih, iw)] = static_cast<T>(sum);
        }
}

// x (N, C, H, W), dy (N, K, OH, OW) -> dw (K, C, R, S)
template <typename T>
void conv2d_backward_filter(const ConvShape& shape, const T* x, const T* dy, T* dw) {
  const std::int64_t oh_n = shape.out_h(), ow_n = shape.out_w();
  for (std::int64_t k = 0; k < shape.k; ++k)
    for (std::int64_t c = 0; c < shape.c; ++c)
      for (std::int64_t r = 0; r < shape.r; ++r)
        for (std::int64_t q = 0; q < shape.s; ++q) {
          double sum = 0;
          for (std::int64_t n = 0; n < shape.n; ++n)
            for (std::int64_t oh = 0; oh < oh_n; ++oh) {
              const std::int64_t ih = oh * shape.stride_h - shape.pad_h + r;
              if (ih < 0 || ih >= shape.h) continue;
              for (std::int64_t ow = 0; ow < ow_n; ++ow) {
                const std::int64_t iw = ow * shape.stride_w - shape.pad_w + q;
                if (iw < 0 || iw >= shape.w) continue;
                sum += double(x[conv_x_index(shape, n, c, ih, iw)]) * double(dy[conv_y_index(shape, n, k, oh, ow)]);
              }
            }
          dw[conv_w_index(shape, k, c, r, q)] = static_cast<T>(sum);
        }
}

}  // namespace rosetta::kernels::reference
