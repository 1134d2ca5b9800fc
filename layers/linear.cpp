#include "layers/linear.h"

#include "kernels/elementwise.h"
#include "kernels/gemm.h"

namespace rosetta {

Linear::Linear(ParameterSet& params, const std::string& name, std::int64_t in_features, std::int64_t out_features)
    : params_(params),
      in_(in_features),
      out_(out_features),
      weight_(params.declare(name + ".weight", {out_features, in_features})),
      bias_(params.declare(name + ".bias", {out_features})) {}

void Linear::setup(const Context& ctx, const Shape& input, Precision precision, const Tensor& dx_into) {
  ROSETTA_CHECK(input.rank() == 2 && input[1] == in_, "linear input " << input.str() << " is not (N, " << in_ << ")");
  ROSETTA_CHECK(!dx_into.defined() || (dx_into.shape() == input && dx_into.dtype() == DType::f32 &&
                                       dx_into.device() == ctx.device()),
                "linear input gradient buffer " << dx_into.shape().str() << ", expected F32 " << input.str()
                                                << " on the context's device");
  precision_ = precision;
  y_ = Tensor::empty({input[0], out_}, DType::f32, ctx.device());
  dx_ = dx_into.defined() ? dx_into : Tensor::empty(input, DType::f32, ctx.device());
}

const Tensor& Linear::forward(const Context& ctx, const Tensor& x) {
  const std::int64_t n = y_.dim(0);
  ROSETTA_CHECK(x.shape() == Shape({n, in_}), "linear input " << x.shape().str() << ", set up for (" << n << ", " << in_ << ")");
  x_ = x;
  // y (N, out) = x (N, in) . W^T (in, out)
  kernels::gemm(ctx, false, true, n, out_, in_, 1.0f, x.data<float>(), params_.value(weight_).data<float>(),
                          0.0f, y_.data<float>(), precision_);
  kernels::bias_add(ctx, y_.data<float>(), params_.value(bias_).data<float>(), n, out_, 1);
  return y_;
}

const Tensor& Linear::backward(const Context& ctx, const Tensor& dy) {
  const std::int64_t n = y_.dim(0);
  ROSETTA_CHECK(dy.shape() == y_.shape(), "linear output gradient " << dy.shape().str() << ", expected " << y_.shape().str());
  // dW (out, in) = dy^T (out, N) . x (N, in)
  kernels::gemm(ctx, true, false, out_, in_, n, 1.0f, dy.data<float>(), x_.data<float>(), 0.0f,
                          params_.grad(weight_).data<float>(), precision_);
  kernels::bias_backward(ctx, dy.data<float>(), params_.grad(bias_).data<float>(), n, out_, 1, false);
  // dx (N, in) = dy (N, out) . W (out, in)
  kernels::gemm(ctx, false, false, n, in_, out_, 1.0f, dy.data<float>(), params_.value(weight_).data<float>(),
                          0.0f, dx_.data<float>(), precision_);
  return dx_;
}

}  // namespace rosetta
