#include "layers/gru.h"

#include <cmath>

#include "kernels/dispatch.h"
#include "layers/init.h"

namespace rosetta {

const char* gru_implementation_name(GruImplementation implementation) {
  return implementation == GruImplementation::cudnn ? "cudnn" : "naive";
}

bool gru_implementation_from_name(const std::string& name, GruImplementation* implementation) {
  for (GruImplementation i : {GruImplementation::cudnn, GruImplementation::naive})
    if (name == gru_implementation_name(i)) {
      *implementation = i;
      return true;
    }
  return false;
}

const char* sequence_layout_name(SequenceLayout layout) { return layout == SequenceLayout::tnc ? "tnc" : "ntc"; }

bool sequence_layout_from_name(const std::string& name, SequenceLayout* layout) {
  for (SequenceLayout l : {SequenceLayout::tnc, SequenceLayout::ntc})
    if (name == sequence_layout_name(l)) {
      *layout = l;
      return true;
    }
  return false;
}

GRU::GRU(ParameterSet& params, const std::string& name, std::int64_t input_size, std::int64_t hidden_size)
    : params_(params),
      input_size_(input_size),
      hidden_size_(hidden_size),
      weight_ih_(params.declare(name + ".weight_ih_l0", {3 * hidden_size, input_size})),
      weight_hh_(params.declare(name + ".weight_hh_l0", {3 * hidden_size, hidden_size})),
      bias_ih_(params.declare(name + ".bias_ih_l0", {3 * hidden_size})),
      bias_hh_(params.declare(name + ".bias_hh_l0", {3 * hidden_size})) {}

void GRU::init_default(std::uint64_t seed) {
  const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hidden_size_)));
  for (int index : {weight_ih_, weight_hh_, bias_ih_, bias_hh_}) uniform(params_, index, bound, seed);
}

void GRU::setup(const Context& ctx, const Shape& input, const GruOptions& options) {
  ROSETTA_CHECK(input.rank() == 3 && input[2] == input_size_,
                "GRU input " << input.str() << " is not (" << (options.layout == SequenceLayout::tnc ? "T, N" : "N, T")
                             << ", " << input_size_ << ")");
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "GRU parameters and context are on different devices");
  ROSETTA_CHECK(options.precision != Precision::bf16, "the GRU takes f32 tensors in fp32 or tf32, not bf16");
  options_ = options;
  const bool ntc = batch_first();
  shape_ = kernels::GruShape{ntc ? input[1] : input[0], ntc ? input[0] : input[1], input_size_, hidden_size_};
  kernels::validate_gru_shape(shape_);
  input_shape_ = input;
  output_shape_ = ntc ? Shape{shape_.n, shape_.t, shape_.h} : Shape{shape_.t, shape_.n, shape_.h};
  const Device device = ctx.device();

  plan_ = kernels::CudnnGruPlan{};
  reserve_ = Tensor();
#if ROSETTA_WITH_CUDA
  if (device == Device::cuda && options.implementation == GruImplementation::cudnn) {
    kernels::CudnnGruOptions cudnn;
    cudnn.precision = options.precision, cudnn.padded_io = options.cudnn_padded_io;
    if (options.algorithm) {
      cudnn.algorithm = *options.algorithm;
      plan_ = kernels::cuda::make_cudnn_gru_plan(ctx, shape_, cudnn);
    } else {
      plan_ = kernels::cuda::make_fastest_cudnn_gru_plan(ctx, shape_, cudnn);
    }
  } else
#endif
  {
    reserve_ = Tensor::empty({kernels::gru_reserve_elements(shape_)}, DType::f32, device);
    ctx.workspace(kernels::gru_workspace_bytes(shape_));
  }
  h_ = Tensor::empty({shape_.t, shape_.n, shape_.h}, DType::f32, device);
  dx_ = Tensor::empty({shape_.t, shape_.n, shape_.i}, DType::f32, device);
  x_tnc_ = h_ntc_ = dh_tnc_ = dx_ntc_ = Tensor();
  if (ntc) {
    x_tnc_ = Tensor::empty({shape_.t, shape_.n, shape_.i}, DType::f32, device);
    h_ntc_ = Tensor::empty(output_shape_, DType::f32, device);
    dh_tnc_ = Tensor::empty({shape_.t, shape_.n, shape_.h}, DType::f32, device);
    dx_ntc_ = Tensor::empty(input, DType::f32, device);
  }
}

kernels::GruWeights GRU::weights() const {
  return {params_.value(weight_ih_).data<float>(), params_.value(weight_hh_).data<float>(),
          params_.value(bias_ih_).data<float>(), params_.value(bias_hh_).data<float>()};
}

kernels::GruGradients GRU::gradients() const {
  return {params_.grad(weight_ih_).data<float>(), params_.grad(weight_hh_).data<float>(),
          params_.grad(bias_ih_).data<float>(), params_.grad(bias_hh_).data<float>()};
}

const Tensor& GRU::forward(const Context& ctx, const Tensor& x) {
  ROSETTA_CHECK(x.shape() == input_shape_, "GRU input " << x.shape().str() << ", set up for " << input_shape_.str());
  const Device d = ctx.device();
  if (batch_first()) {
    ROSETTA_KERNEL(d, swap_leading_axes)(ctx, x.data<float>(), x_tnc_.data<float>(), shape_.n, shape_.t, shape_.i);
    x_ = x_tnc_;
  } else {
    x_ = x;
  }
#if ROSETTA_WITH_CUDA
  if (uses_cudnn()) {
    kernels::cuda::gru_cudnn_forward(ctx, plan_, x_.data<float>(), weights(), h_.data<float>());
  } else
#endif
  {
    ROSETTA_KERNEL(d, gru_forward)(ctx, shape_, x_.data<float>(), weights(), h_.data<float>(), reserve_.data<float>(),
                                   options_.precision);
  }
  if (!batch_first()) return h_;
  ROSETTA_KERNEL(d, swap_leading_axes)(ctx, h_.data<float>(), h_ntc_.data<float>(), shape_.t, shape_.n, shape_.h);
  return h_ntc_;
}

const Tensor& GRU::backward(const Context& ctx, const Tensor& dh) {
  ROSETTA_CHECK(dh.shape() == output_shape_,
                "GRU output gradient " << dh.shape().str() << ", expected " << output_shape_.str());
  const Device d = ctx.device();
  const float* dh_tnc = dh.data<float>();
  if (batch_first()) {
    ROSETTA_KERNEL(d, swap_leading_axes)(ctx, dh_tnc, dh_tnc_.data<float>(), shape_.n, shape_.t, shape_.h);
    dh_tnc = dh_tnc_.data<float>();
  }
#if ROSETTA_WITH_CUDA
  if (uses_cudnn()) {
    kernels::cuda::gru_cudnn_backward(ctx, plan_, x_.data<float>(), h_.data<float>(), dh_tnc, dx_.data<float>(),
                                      gradients());
  } else
#endif
  {
    ROSETTA_KERNEL(d, gru_backward)(ctx, shape_, x_.data<float>(), weights(), h_.data<float>(),
                                    reserve_.data<float>(), dh_tnc, dx_.data<float>(), gradients(), options_.precision);
  }
  if (!batch_first()) return dx_;
  ROSETTA_KERNEL(d, swap_leading_axes)(ctx, dx_.data<float>(), dx_ntc_.data<float>(), shape_.t, shape_.n, shape_.i);
  return dx_ntc_;
}

}  // namespace rosetta
