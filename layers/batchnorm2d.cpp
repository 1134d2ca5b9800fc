#include "layers/batchnorm2d.h"

#include <cmath>

#include "kernels/batchnorm.h"

namespace rosetta {

BatchNorm2d::BatchNorm2d(ParameterSet& params, const std::string& name, std::int64_t channels, float eps)
    : params_(params),
      channels_(channels),
      eps_(eps),
      weight_(params.declare(name + ".weight", {channels})),
      bias_(params.declare(name + ".bias", {channels})),
      mean_(params.declare(name + ".running_mean", {channels})),
      var_(params.declare(name + ".running_var", {channels})) {}

void BatchNorm2d::forward(const Context& ctx, const Tensor& x, const Tensor& y) const {
  ROSETTA_CHECK(x.shape().rank() == 4 && x.dim(1) == channels_ && y.shape() == x.shape(),
                "batch norm of " << x.shape().str() << " into " << y.shape().str() << ", expected " << channels_
                                 << " channels");
  kernels::batchnorm_inference_forward(
      ctx, x.data<float>(), y.data<float>(), params_.value(weight_).data<float>(), params_.value(bias_).data<float>(),
      params_.value(mean_).data<float>(), params_.value(var_).data<float>(), eps_, x.dim(0), channels_,
      x.dim(2) * x.dim(3));
}

void fold_batchnorm(const BatchNorm2d& bn, const ParameterSet& params, int conv_weight, const Tensor& folded_weight,
                    const Tensor& folded_bias) {
  const Shape& w_shape = params.shape(conv_weight);
  ROSETTA_CHECK(w_shape.rank() == 4 && w_shape[0] == bn.channels() && folded_weight.shape() == w_shape &&
                    folded_bias.shape() == Shape({bn.channels()}) && folded_weight.device() == Device::cpu &&
                    folded_bias.device() == Device::cpu,
                "folding batch norm of " << bn.channels() << " channels into " << params.name(conv_weight) << " "
                                         << w_shape.str());
  const Tensor w = params.value(conv_weight).to(Device::cpu);  // (K, C, R, S)
  const Tensor gamma = params.value(bn.weight_index()).to(Device::cpu), beta = params.value(bn.bias_index()).to(Device::cpu);
  const Tensor mean = params.value(bn.mean_index()).to(Device::cpu), var = params.value(bn.var_index()).to(Device::cpu);
  const std::int64_t per_filter = w_shape[1] * w_shape[2] * w_shape[3];
  for (std::int64_t k = 0; k < bn.channels(); ++k) {
    const double scale = double(gamma.data<float>()[k]) / std::sqrt(double(var.data<float>()[k]) + double(bn.eps()));
    for (std::int64_t i = 0; i < per_filter; ++i)
      folded_weight.data<float>()[k * per_filter + i] = static_cast<float>(double(w.data<float>()[k * per_filter + i]) * scale);
    folded_bias.data<float>()[k] = static_cast<float>(double(beta.data<float>()[k]) - double(mean.data<float>()[k]) * scale);
  }
}

}  // namespace rosetta
