#include "models/imdb_gru.h"

#include <cmath>

#include "kernels/layout.h"
#include "kernels/gru.h"
#include "kernels/loss.h"
#include "layers/init.h"
#include "runtime/profiler.h"

namespace rosetta {

ImdbGRU::ImdbGRU(Device device)
    : embedding_(params_, "embedding", kVocabulary, kEmbedding),
      gru_(params_, "gru", kEmbedding, kHidden),
      l_out_(params_, "l_out", kHidden, kClasses) {
  params_.allocate(device);
}

void ImdbGRU::init_default(std::uint64_t seed) {
  embedding_.init_default(seed);
  gru_.init_default(seed);
  const float bound = 1.0f / std::sqrt(static_cast<float>(kHidden));  // nn.Linear: 1 / sqrt(in_features)
  uniform(params_, l_out_.weight_index(), bound, seed);
  uniform(params_, l_out_.bias_index(), bound, seed);
}

std::optional<OptionRule> ImdbGruOptions::broken_rule(Device device) const {
  const kernels::GruImplementation i = gru.implementation;
  if (device == Device::cpu && (i == kernels::GruImplementation::naive || i == kernels::GruImplementation::persistent))
    return OptionRule{"rnn", kernels::gru_implementation_name(i), "device", "cuda"};
  return std::nullopt;
}

void ImdbGRU::setup(const Context& ctx, const ImdbGruOptions& options) {
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "model parameters and context are on different devices");
  if (const std::optional<OptionRule> rule = options.broken_rule(ctx.device()))
    ROSETTA_INPUT_ERROR("ImdbGRU: " << rule->option << " " << rule->value << " needs " << rule->required << " "
                                    << rule->required_value);
  const std::int64_t t = options.steps, n = options.batch;
  batch_first_ = options.gru.layout == SequenceLayout::ntc;
  token_shape_ = batch_first_ ? Shape{n, t} : Shape{t, n};
  embedding_.setup(ctx, token_shape_);                                  // (T, N, E) or (N, T, E)
  gru_.setup(ctx, embedding_.output_shape(), options.gru);              // (T, N, H) or (N, T, H)
  dh_tnc_ = Tensor::zeros({t, n, kHidden}, DType::f32, ctx.device());  // only the last step is ever written
  // l_out's input gradient is the last step's slice of dh_tnc_: written there, with no copy.
  l_out_.setup(ctx, {n, kHidden}, options.gru.precision, dh_tnc_.view((t - 1) * n * kHidden, {n, kHidden}));  // (N, 2)
  communicator_ = options.communicator;
  loss_.setup(ctx, {n, kClasses}, n * communicator_->size());
  if (batch_first_) {
    h_tnc_ = Tensor::empty({t, n, kHidden}, DType::f32, ctx.device());
    dh_ntc_ = Tensor::empty({n, t, kHidden}, DType::f32, ctx.device());
  }
  adam_ = std::make_unique<Adam>(params_, options.lr);
}

const Tensor& ImdbGRU::forward(const Context& ctx, const Tensor& tokens) {
  const Tensor& h = gru_.forward(ctx, embedding_.forward(ctx, tokens));
  const std::int64_t t = dh_tnc_.dim(0), n = dh_tnc_.dim(1);
  if (batch_first_) {
    kernels::swap_leading_axes(ctx, h.data<float>(), h_tnc_.data<float>(), n, t, kHidden);
  }
  const Tensor& h_tnc = batch_first_ ? h_tnc_ : h;
  return l_out_.forward(ctx, h_tnc.view((t - 1) * n * kHidden, {n, kHidden}));  // the last step, (N, H)
}

void ImdbGRU::backward(const Context& ctx, const Tensor& dlogits) {
  l_out_.backward(ctx, dlogits);  // (N, H), into dh_tnc_'s last step
  const std::int64_t t = dh_tnc_.dim(0), n = dh_tnc_.dim(1);
  if (batch_first_) kernels::swap_leading_axes(ctx, dh_tnc_.data<float>(), dh_ntc_.data<float>(), t, n, kHidden);
  embedding_.backward(ctx, gru_.backward(ctx, batch_first_ ? dh_ntc_ : dh_tnc_));
}

NamedTensors ImdbGRU::training_state() const {
  ROSETTA_CHECK(adam_ != nullptr, "ImdbGRU::training_state before setup");
  return adam_->state();
}

void ImdbGRU::step(const Context& ctx, const Tensor& tokens, const Tensor& labels) {
  ROSETTA_CHECK(adam_ != nullptr, "ImdbGRU::step before setup");
  {
    const ProfilePass pass(ctx, "forward");
    loss_.forward(ctx, forward(ctx, tokens), labels);
  }
  {
    const ProfilePass pass(ctx, "backward");
    backward(ctx, loss_.dlogits());
    communicator_->all_reduce_sum(ctx, {params_.grads(), loss_.loss()});
  }
  const ProfilePass pass(ctx, "update");
  adam_->step(ctx);
}

void ImdbGRU::evaluate(const Context& ctx, const Tensor& tokens, const Tensor& labels, const Tensor& correct) {
  const Tensor& logits = forward(ctx, tokens);
  kernels::count_correct(ctx, logits.data<float>(), labels.data<std::int32_t>(),
                                              correct.data<std::int32_t>(), logits.dim(0), logits.dim(1));
}

}  // namespace rosetta
