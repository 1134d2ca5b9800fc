#include "layers/dropout.h"

#include "kernels/elementwise.h"

namespace rosetta {

void Dropout::setup(const Context& ctx, const Shape& input, std::uint64_t seed, const Tensor& step,
                    std::int64_t first_row) {
  ROSETTA_CHECK(p_ >= 0.0f && p_ < 1.0f, "dropout probability " << p_ << " is not in [0, 1)");
  ROSETTA_CHECK(input.rank() >= 1 && first_row >= 0, "dropout input " << input.str() << " from row " << first_row);
  seed_ = seed;
  first_ = static_cast<std::uint64_t>(first_row * (input.numel() / input[0]));
  step_ = step;
  if (p_ == 0.0f) return;
  y_ = Tensor::empty(input, DType::f32, ctx.device());
  mask_ = Tensor::empty(input, DType::f32, ctx.device());
  dx_ = Tensor::empty(input, DType::f32, ctx.device());
}

const Tensor& Dropout::forward(const Context& ctx, const Tensor& x) {
  if (p_ == 0.0f) return x;
  ROSETTA_CHECK(x.shape() == y_.shape(), "dropout input " << x.shape().str() << ", set up for " << y_.shape().str());
  kernels::dropout_forward(ctx, x.data<float>(), y_.data<float>(), mask_.data<float>(), p_, seed_,
                                                use_, step_.data<std::uint64_t>(), first_, x.numel());
  return y_;
}

const Tensor& Dropout::backward(const Context& ctx, const Tensor& dy) {
  if (p_ == 0.0f) return dy;
  kernels::dropout_backward(ctx, dy.data<float>(), mask_.data<float>(), dx_.data<float>(),
                                                 dy.numel());
  return dx_;
}

}  // namespace rosetta
