#include "layers/relu.h"

#include "kernels/elementwise.h"

namespace rosetta {

void ReLU::setup(const Context& ctx, const Shape& input) {
  y_ = Tensor::empty(input, DType::f32, ctx.device());
  dx_ = Tensor::empty(input, DType::f32, ctx.device());
}

const Tensor& ReLU::forward(const Context& ctx, const Tensor& x) {
  ROSETTA_CHECK(x.shape() == y_.shape(), "relu input " << x.shape().str() << ", set up for " << y_.shape().str());
  kernels::relu_forward(ctx, x.data<float>(), y_.data<float>(), x.numel());
  return y_;
}

const Tensor& ReLU::backward(const Context& ctx, const Tensor& dy) {
  ROSETTA_CHECK(dy.shape() == y_.shape(), "relu output gradient " << dy.shape().str() << ", expected " << y_.shape().str());
  kernels::relu_backward(ctx, y_.data<float>(), dy.data<float>(), dx_.data<float>(), dy.numel());
  return dx_;
}

}  // namespace rosetta
