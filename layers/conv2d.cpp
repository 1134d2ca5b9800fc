#include "layers/conv2d.h"

#include "kernels/elementwise.h"

namespace rosetta {

Conv2d::Conv2d(ParameterSet& params, const std::string& name, std::int64_t in_channels, std::int64_t out_channels,
               int kernel, int pad, int stride, bool input_grad)
    : params_(params),
      in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_(kernel),
      pad_(pad),
      stride_(stride),
      input_grad_(input_grad),
      weight_(params.declare(name + ".weight", {out_channels, in_channels, kernel, kernel})),
      bias_(params.declare(name + ".bias", {out_channels})) {}

void Conv2d::setup(const Context& ctx, const Shape& input, const kernels::ConvOptions& options) {
  ROSETTA_CHECK(input.rank() == 4 && input[1] == in_channels_,
                "conv input " << input.str() << " does not have " << in_channels_ << " channels");
  kernels::ConvShape shape;
  shape.n = input[0], shape.c = input[1], shape.h = input[2], shape.w = input[3];
  shape.k = out_channels_, shape.r = kernel_, shape.s = kernel_;
  shape.pad_h = shape.pad_w = pad_;
  shape.stride_h = shape.stride_w = stride_;
  plan_ = kernels::make_conv_plan(ctx, shape, options);
  y_ = Tensor::empty({shape.n, shape.k, shape.out_h(), shape.out_w()}, DType::f32, ctx.device());
  if (input_grad_) dx_ = Tensor::empty(input, DType::f32, ctx.device());
}

const Tensor& Conv2d::forward(const Context& ctx, const Tensor& x) {
  const kernels::ConvShape& s = plan_.shape;
  ROSETTA_CHECK(x.shape() == Shape({s.n, s.c, s.h, s.w}), "conv input " << x.shape().str() << ", planned " << s.str());
  x_ = x;
  kernels::conv2d_forward(ctx, plan_, x.data<float>(), params_.value(weight_).data<float>(), y_.data<float>());
  kernels::bias_add(ctx, y_.data<float>(), params_.value(bias_).data<float>(), s.n, s.k,
                              s.out_h() * s.out_w());
  return y_;
}

const Tensor& Conv2d::backward(const Context& ctx, const Tensor& dy) {
  const kernels::ConvShape& s = plan_.shape;
  ROSETTA_CHECK(dy.shape() == y_.shape(), "conv output gradient " << dy.shape().str() << ", expected " << y_.shape().str());
  kernels::bias_backward(ctx, dy.data<float>(), params_.grad(bias_).data<float>(), s.n, s.k,
                                   s.out_h() * s.out_w(), /*accumulate=*/false);
  kernels::conv2d_backward_filter(ctx, plan_, x_.data<float>(), dy.data<float>(),
                                            params_.grad(weight_).data<float>());
  if (input_grad_) {
    kernels::conv2d_backward_data(ctx, plan_, dy.data<float>(), params_.value(weight_).data<float>(),
                                            dx_.data<float>());
  }
  return dx_;
}

}  // namespace rosetta
