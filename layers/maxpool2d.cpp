#include "layers/maxpool2d.h"

#include "kernels/dispatch.h"
#include "kernels/pool.h"

namespace rosetta {

void MaxPool2d::setup(const Context& ctx, const Shape& input) {
  ROSETTA_CHECK(input.rank() == 4, "max pool input " << input.str() << " is not (N, C, H, W)");
  input_ = input;
  const std::int64_t oh = (input[2] + 2 * pad_ - window_) / stride_ + 1;
  const std::int64_t ow = (input[3] + 2 * pad_ - window_) / stride_ + 1;
  y_ = Tensor::empty({input[0], input[1], oh, ow}, DType::f32, ctx.device());
  argmax_ = Tensor::empty(y_.shape(), DType::i32, ctx.device());
  dx_ = Tensor::empty(input, DType::f32, ctx.device());
}

const Tensor& MaxPool2d::forward(const Context& ctx, const Tensor& x) {
  ROSETTA_CHECK(x.shape() == input_, "max pool input " << x.shape().str() << ", set up for " << input_.str());
  ROSETTA_KERNEL(ctx.device(), maxpool2d_forward)(ctx, x.data<float>(), y_.data<float>(), argmax_.data<std::int32_t>(),
                                                  input_[0], input_[1], input_[2], input_[3], window_, stride_, pad_);
  return y_;
}

const Tensor& MaxPool2d::backward(const Context& ctx, const Tensor& dy) {
  ROSETTA_CHECK(dy.shape() == y_.shape(), "max pool output gradient " << dy.shape().str() << ", expected " << y_.shape().str());
  ROSETTA_KERNEL(ctx.device(), maxpool2d_backward)(ctx, dy.data<float>(), argmax_.data<std::int32_t>(), dx_.data<float>(),
                                                   input_[0], input_[1], input_[2], input_[3], window_, stride_, pad_);
  return dx_;
}

}  // namespace rosetta
