// CPU twin of max pooling: the plain-loop reference (kernels/reference/pool.h) in float.
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

}  // namespace rosetta::kernels::cpu
