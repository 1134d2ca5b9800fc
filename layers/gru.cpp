#include "layers/gru.h"

#include <cmath>
#include <vector>

#include "kernels/layout.h"
#include "layers/init.h"

namespace rosetta {

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
    : params_(params), input_size_(input_size), hidden_size_(hidden_size) {
  // Packed, in kernels/gru.h's order: the block is cuDNN's weight space when its plan says so.
  const std::vector<int> indices = params.declare_packed({{name + ".weight_ih_l0", {3 * hidden_size, input_size}},
                                                          {name + ".weight_hh_l0", {3 * hidden_size, hidden_size}},
                                                          {name + ".bias_ih_l0", {3 * hidden_size}},
                                                          {name + ".bias_hh_l0", {3 * hidden_size}}});
  weight_ih_ = indices[0], weight_hh_ = indices[1], bias_ih_ = indices[2], bias_hh_ = indices[3];
}

void GRU::init_default(std::uint64_t seed) {
  const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hidden_size_)));
  for (int index : {weight_ih_, weight_hh_, bias_ih_, bias_hh_}) uniform(params_, index, bound, seed);
}

void GRU::setup(const Context& ctx, const Shape& input, const GruOptions& options) {
  ROSETTA_CHECK(input.rank() == 3 && input[2] == input_size_,
                "GRU input " << input.str() << " is not (" << (options.layout == SequenceLayout::tnc ? "T, N" : "N, T")
                             << ", " << input_size_ << ")");
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "GRU parameters and context are on different devices");
  options_ = options;
  const bool ntc = batch_first();
  const kernels::GruShape shape{ntc ? input[1] : input[0], ntc ? input[0] : input[1], input_size_, hidden_size_};
  plan_ = kernels::make_gru_plan(ctx, shape, options);
  input_shape_ = input;
  output_shape_ = ntc ? Shape{shape.n, shape.t, shape.h} : Shape{shape.t, shape.n, shape.h};
  const Device device = ctx.device();
  reserve_ = plan_.reserve_elements > 0 ? Tensor::empty({plan_.reserve_elements}, DType::f32, device) : Tensor();
  h_ = Tensor::empty({shape.t, shape.n, shape.h}, DType::f32, device);
  dx_ = Tensor::empty({shape.t, shape.n, shape.i}, DType::f32, device);
  x_tnc_ = h_ntc_ = dh_tnc_ = dx_ntc_ = Tensor();
  if (ntc) {
    x_tnc_ = Tensor::empty({shape.t, shape.n, shape.i}, DType::f32, device);
    h_ntc_ = Tensor::empty(output_shape_, DType::f32, device);
    dh_tnc_ = Tensor::empty({shape.t, shape.n, shape.h}, DType::f32, device);
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

std::string GRU::weight_space() const {
  if (!plan_.uses_cudnn()) return "";
  if (!kernels::gru_weights_packed(plan_.shape, weights()) || !kernels::gru_gradients_packed(plan_.shape, gradients()))
    return "copied: the parameters are not one packed block";
  return plan_.cudnn_space_packed ? "in place" : "copied: " + plan_.cudnn_space_note;
}

float* GRU::reserve() const { return reserve_.defined() ? reserve_.data<float>() : nullptr; }

const Tensor& GRU::forward(const Context& ctx, const Tensor& x) {
  ROSETTA_CHECK(x.shape() == input_shape_, "GRU input " << x.shape().str() << ", set up for " << input_shape_.str());
  const kernels::GruShape& s = plan_.shape;
  if (batch_first()) {
    kernels::swap_leading_axes(ctx, x.data<float>(), x_tnc_.data<float>(), s.n, s.t, s.i);
    x_ = x_tnc_;
  } else {
    x_ = x;
  }
  kernels::gru_forward(ctx, plan_, x_.data<float>(), weights(), h_.data<float>(), reserve());
  if (!batch_first()) return h_;
  kernels::swap_leading_axes(ctx, h_.data<float>(), h_ntc_.data<float>(), s.t, s.n, s.h);
  return h_ntc_;
}

const Tensor& GRU::backward(const Context& ctx, const Tensor& dh) {
  ROSETTA_CHECK(dh.shape() == output_shape_,
                "GRU output gradient " << dh.shape().str() << ", expected " << output_shape_.str());
  const kernels::GruShape& s = plan_.shape;
  const float* dh_tnc = dh.data<float>();
  if (batch_first()) {
    kernels::swap_leading_axes(ctx, dh_tnc, dh_tnc_.data<float>(), s.n, s.t, s.h);
    dh_tnc = dh_tnc_.data<float>();
  }
  kernels::gru_backward(ctx, plan_, x_.data<float>(), weights(), h_.data<float>(), reserve(), dh_tnc,
                        dx_.data<float>(), gradients());
  if (!batch_first()) return dx_;
  kernels::swap_leading_axes(ctx, dx_.data<float>(), dx_ntc_.data<float>(), s.t, s.n, s.i);
  return dx_ntc_;
}

}  // namespace rosetta
