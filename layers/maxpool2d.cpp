#include "layers/maxpool2d.h"

namespace rosetta {

void MaxPool2d::setup(const Context& ctx, const Shape& input) {
  ROSETTA_CHECK(input.rank() == 4, "max pool input " << input.str() << " is not (N, C, H, W)");
  input_ = input;
  shape_ = kernels::PoolShape{input[0], input[1], input[2], input[3], window_, stride_, pad_};
  kernels::check_pool_shape(shape_);
  y_ = Tensor::empty({input[0], input[1], shape_.out_h(), shape_.out_w()}, DType::f32, ctx.device());
  argmax_ = Tensor::empty(y_.shape(), DType::i32, ctx.device());
  dx_ = Tensor::empty(input, DType::f32, ctx.device());
}

const Tensor& MaxPool2d::forward(const Context& ctx, const Tensor& x) {
  ROSETTA_CHECK(x.shape() == input_, "max pool input " << x.shape().str() << ", set up for " << input_.str());
  kernels::maxpool2d_forward(ctx, shape_, Layout::nchw, x.data<float>(), y_.data<float>(), argmax_.data<std::int32_t>());
  return y_;
}

const Tensor& MaxPool2d::backward(const Context& ctx, const Tensor& dy) {
  ROSETTA_CHECK(dy.shape() == y_.shape(), "max pool output gradient " << dy.shape().str() << ", expected " << y_.shape().str());
  kernels::maxpool2d_backward(ctx, shape_, Layout::nchw, dy.data<float>(), argmax_.data<std::int32_t>(), dx_.data<float>());
  return dx_;
}

}  // namespace rosetta
