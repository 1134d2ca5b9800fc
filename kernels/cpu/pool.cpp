// CPU twin of max pooling (the plain-loop reference, kernels/reference/pool.h, in float) and of global average
// pooling (inference only, so its plain loop is here).
#include "kernels/pool.h"

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

void global_avgpool_forward(const Context&, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                            bool channels_last) {
  ROSETTA_CHECK(n >= 0 && c > 0 && hw > 0, "global average pooling of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t channel_stride = channels_last ? 1 : hw, position_stride = channels_last ? c : 1;
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float* x_nc = x + image * c * hw + ch * channel_stride;
      float sum = 0.0f;
      for (std::int64_t i = 0; i < hw; ++i) sum += x_nc[i * position_stride];
      y[image * c + ch] = sum / static_cast<float>(hw);
    }
}

}  // namespace rosetta::kernels::cpu
