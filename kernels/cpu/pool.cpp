// CPU twin of the pooling ops (kernels/pool.inc): the plain-loop reference (kernels/reference/pool.h) in float, on
// float or bf16 storage, after the shared argument checks.
#include "kernels/pool.h"

#include "kernels/reference/pool.h"
#include "runtime/error.h"

namespace rosetta::kernels::cpu {
namespace {

void check_avgpool(std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c > 0 && hw > 0, "global average pooling of (" << n << ", " << c << ", " << hw << ")");
}

}  // namespace

void maxpool2d_forward(const Context&, const PoolShape& shape, Layout layout, const float* x, float* y,
                       std::int32_t* argmax) {
  check_pool_shape(shape);
  reference::maxpool2d_forward(shape, layout, x, y, argmax);
}

void maxpool2d_forward(const Context&, const PoolShape& shape, Layout layout, const bf16* x, bf16* y,
                       std::int32_t* argmax) {
  check_pool_shape(shape);
  reference::maxpool2d_forward(shape, layout, x, y, argmax);
}

void maxpool2d_backward(const Context&, const PoolShape& shape, Layout layout, const float* dy,
                        const std::int32_t* argmax, float* dx) {
  check_pool_shape(shape);
  reference::maxpool2d_backward(shape, layout, dy, argmax, dx);
}

void maxpool2d_backward(const Context&, const PoolShape& shape, Layout layout, const bf16* dy,
                        const std::int32_t* argmax, bf16* dx) {
  check_pool_shape(shape);
  reference::maxpool2d_backward(shape, layout, dy, argmax, dx);
}

void maxpool2d_relu_dropout_forward(const Context&, const PoolShape& shape, Layout layout, const float* x, float* y,
                                    std::int32_t* argmax, std::int64_t channels, const DropoutDraw& dropout) {
  check_tiling_pool_shape(shape, channels);
  reference::maxpool2d_relu_dropout_forward(shape, layout, x, y, argmax, channels, dropout);
}

void maxpool2d_relu_dropout_forward(const Context&, const PoolShape& shape, Layout layout, const bf16* x, bf16* y,
                                    std::int32_t* argmax, std::int64_t channels, const DropoutDraw& dropout) {
  check_tiling_pool_shape(shape, channels);
  reference::maxpool2d_relu_dropout_forward(shape, layout, x, y, argmax, channels, dropout);
}

void maxpool2d_relu_dropout_backward(const Context&, const PoolShape& shape, Layout layout, const float* dy,
                                     const float* y, const std::int32_t* argmax, float scale, float* dx, float* dbias) {
  check_tiling_pool_shape(shape, shape.c);
  reference::maxpool2d_relu_dropout_backward(shape, layout, dy, y, argmax, scale, dx, dbias);
}

void maxpool2d_relu_dropout_backward(const Context&, const PoolShape& shape, Layout layout, const bf16* dy,
                                     const bf16* y, const std::int32_t* argmax, float scale, bf16* dx, float* dbias) {
  check_tiling_pool_shape(shape, shape.c);
  reference::maxpool2d_relu_dropout_backward(shape, layout, dy, y, argmax, scale, dx, dbias);
}

void global_avgpool_forward(const Context&, Layout layout, const float* x, float* y, std::int64_t n, std::int64_t c,
                            std::int64_t hw) {
  check_avgpool(n, c, hw);
  reference::global_avgpool_forward(layout, x, y, n, c, hw);
}

void global_avgpool_forward(const Context&, Layout layout, const bf16* x, float* y, std::int64_t n, std::int64_t c,
                            std::int64_t hw) {
  check_avgpool(n, c, hw);
  reference::global_avgpool_forward(layout, x, y, n, c, hw);
}

}  // namespace rosetta::kernels::cpu
