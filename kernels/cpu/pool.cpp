// CPU twin of max pooling (the plain-loop reference, kernels/reference/pool.h, in float), and of the NHWC max pool
// and global average pooling (inference only, so their plain loops are here), in float and bf16 (computed in float).
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/half.h"
#include "kernels/reference/pool.h"

namespace rosetta::kernels::cpu {

void maxpool2d_forward(const Context&, const float* x, float* y, std::int32_t* argmax, std::int64_t n, std::int64_t c,
                       std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  reference::check_maxpool2d_args(n, c, h, w, window, stride, pad);
  reference::maxpool2d_forward(x, y, argmax, n, c, h, w, window, stride, pad);
}

void maxpool2d_backward(const Context&, const float* dy, const std::int32_t* argmax, float* dx, std::int64_t n,
                        std::int64_t c, std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  reference::check_maxpool2d_args(n, c, h, w, window, stride, pad);
  reference::maxpool2d_backward(dy, argmax, dx, n, c, h, w, window, stride, pad);
}

namespace {

template <typename T>
void maxpool_nhwc(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, int window,
                  int stride, int pad) {
  reference::check_maxpool2d_args(n, c, h, w, window, stride, pad);
  const std::int64_t oh_n = reference::pool_out_size(h, window, stride, pad);
  const std::int64_t ow_n = reference::pool_out_size(w, window, stride, pad);
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        const std::int64_t h0 = oh * stride - pad, w0 = ow * stride - pad;
        const std::int64_t h_begin = std::max<std::int64_t>(h0, 0), w_begin = std::max<std::int64_t>(w0, 0);
        const std::int64_t h_end = std::min(h0 + window, h), w_end = std::min(w0 + window, w);
        for (std::int64_t ch = 0; ch < c; ++ch) {
          float best = -std::numeric_limits<float>::infinity();
          for (std::int64_t ih = h_begin; ih < h_end; ++ih)
            for (std::int64_t iw = w_begin; iw < w_end; ++iw) {
              const float v = as_float(x[((image * h + ih) * w + iw) * c + ch]);
              if (v > best || std::isnan(v)) best = v;
            }
          store_from_float(y + ((image * oh_n + oh) * ow_n + ow) * c + ch, best);
        }
      }
}

template <typename T>
void avgpool(const T* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw, bool channels_last) {
  ROSETTA_CHECK(n >= 0 && c > 0 && hw > 0, "global average pooling of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t channel_stride = channels_last ? 1 : hw, position_stride = channels_last ? c : 1;
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const T* x_nc = x + image * c * hw + ch * channel_stride;
      float sum = 0.0f;
      for (std::int64_t i = 0; i < hw; ++i) sum += as_float(x_nc[i * position_stride]);
      y[image * c + ch] = sum / static_cast<float>(hw);
    }
}

}  // namespace

void maxpool2d_forward_nhwc(const Context&, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t h,
                            std::int64_t w, int window, int stride, int pad) {
  maxpool_nhwc(x, y, n, c, h, w, window, stride, pad);
}

void maxpool2d_forward_nhwc_bf16(const Context&, const std::uint16_t* x, std::uint16_t* y, std::int64_t n,
                                 std::int64_t c, std::int64_t h, std::int64_t w, int window, int stride, int pad) {
  maxpool_nhwc(x, y, n, c, h, w, window, stride, pad);
}

void global_avgpool_forward(const Context&, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                            bool channels_last) {
  avgpool(x, y, n, c, hw, channels_last);
}

void global_avgpool_forward_bf16(const Context&, const std::uint16_t* x, float* y, std::int64_t n, std::int64_t c,
                                 std::int64_t hw, bool channels_last) {
  avgpool(x, y, n, c, hw, channels_last);
}

}  // namespace rosetta::kernels::cpu
