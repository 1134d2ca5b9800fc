#include "models/cifar_vgg.h"

#include "kernels/elementwise.h"
#include "kernels/loss.h"
#include "layers/init.h"
#include "runtime/profiler.h"

namespace rosetta {

CifarVGG::CifarVGG(Device device)
    : conv1_(params_, "conv1", 3, 50, 3, 1, 1, /*input_grad=*/false),
      conv2_(params_, "conv2", 50, 50, 3, 1),
      conv3_(params_, "conv3", 50, 100, 3, 1),
      conv4_(params_, "conv4", 100, 100, 3, 1),
      drop1_(0.25f, kDropoutUse + 0),
      drop2_(0.25f, kDropoutUse + 1),
      drop3_(0.5f, kDropoutUse + 2),
      fc1_(params_, "fc1", 100 * 8 * 8, 512),
      fc2_(params_, "fc2", 512, kClasses) {
  params_.allocate(device);
}

void CifarVGG::init_glorot(std::uint64_t seed) {
  for (int i = 0; i < params_.size(); ++i) {
    if (params_.shape(i).rank() >= 2) {
      glorot_uniform(params_, i, seed);
    } else {
      zero(params_, i);
    }
  }
}

void CifarVGG::setup(const Context& ctx, const CifarVggOptions& options) {
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "model parameters and context are on different devices");
  if (const std::optional<OptionRule> rule = options.broken_rule())
    ROSETTA_FAIL("CifarVGG: " << rule->option << " " << rule->value << " needs " << rule->required << " "
                              << rule->required_value);
  ROSETTA_CHECK(options.channel_multiple >= 1 && options.channel_multiple <= 64,
                "CifarVGG: channels padded to a multiple of " << options.channel_multiple << ", expected 1 to 64");
  options_ = options;
  const Precision precision = options.conv.precision;
  step_ = Tensor::zeros({1}, DType::u64, ctx.device());
  communicator_ = options.communicator;
  const std::int64_t first_row = communicator_->rank() * options.batch;  // in the global batch
  sgd_ = std::make_unique<SgdMomentum>(params_, options.lr, options.momentum);
  if (options.fuse) {
    const FusedCifarVgg::Parameters indices{
        {conv1_.weight_index(), conv2_.weight_index(), conv3_.weight_index(), conv4_.weight_index()},
        {conv1_.bias_index(), conv2_.bias_index(), conv3_.bias_index(), conv4_.bias_index()},
        {fc1_.weight_index(), fc2_.weight_index()},
        {fc1_.bias_index(), fc2_.bias_index()}};
    fused_ = std::make_unique<FusedCifarVgg>(params_, indices);
    fused_->setup(ctx, options, step_, first_row);
    return;
  }
  fused_.reset();
  if (!options.dropout) drop1_ = Dropout(0.0f, 0), drop2_ = Dropout(0.0f, 0), drop3_ = Dropout(0.0f, 0);

  const Shape images{options.batch, kChannels, kSize, kSize};                 // (B, 3, 32, 32)
  conv1_.setup(ctx, images, options.conv);                                      // (B, 50, 32, 32)
  relu1_.setup(ctx, conv1_.output_shape());
  conv2_.setup(ctx, conv1_.output_shape(), options.conv);                       // (B, 50, 32, 32)
  pool1_.setup(ctx, conv2_.output_shape());                                     // (B, 50, 16, 16)
  relu2_.setup(ctx, relu_after_pool() ? pool1_.output_shape() : conv2_.output_shape());
  drop1_.setup(ctx, pool1_.output_shape(), options.seed, step_, first_row);
  conv3_.setup(ctx, pool1_.output_shape(), options.conv);                       // (B, 100, 16, 16)
  relu3_.setup(ctx, conv3_.output_shape());
  conv4_.setup(ctx, conv3_.output_shape(), options.conv);                       // (B, 100, 16, 16)
  pool2_.setup(ctx, conv4_.output_shape());                                     // (B, 100, 8, 8)
  relu4_.setup(ctx, relu_after_pool() ? pool2_.output_shape() : conv4_.output_shape());
  drop2_.setup(ctx, pool2_.output_shape(), options.seed, step_, first_row);
  const Shape flat{options.batch, pool2_.output_shape().numel() / options.batch};  // (B, 6400)
  fc1_.setup(ctx, flat, precision);                                             // (B, 512)
  relu5_.setup(ctx, {options.batch, 512});
  drop3_.setup(ctx, {options.batch, 512}, options.seed, step_, first_row);
  fc2_.setup(ctx, {options.batch, 512}, precision);                             // (B, 10)
  loss_.setup(ctx, {options.batch, kClasses}, options.batch * communicator_->size());
}

const kernels::ConvPlan& CifarVGG::conv_plan(int i) const {
  ROSETTA_CHECK(i >= 0 && i < 4, "CifarVGG has convolutions 0..3, not " << i);
  if (fused_) return fused_->plan(i);
  const Conv2d* convs[4] = {&conv1_, &conv2_, &conv3_, &conv4_};
  return convs[i]->plan();
}

const Tensor& CifarVGG::forward(const Context& ctx, const Tensor& images, bool training) {
  const bool after = relu_after_pool();
  const Tensor* x = &relu1_.forward(ctx, conv1_.forward(ctx, images));
  x = &conv2_.forward(ctx, *x);
  x = after ? &relu2_.forward(ctx, pool1_.forward(ctx, *x)) : &pool1_.forward(ctx, relu2_.forward(ctx, *x));
  if (training) x = &drop1_.forward(ctx, *x);
  x = &relu3_.forward(ctx, conv3_.forward(ctx, *x));
  x = &conv4_.forward(ctx, *x);
  x = after ? &relu4_.forward(ctx, pool2_.forward(ctx, *x)) : &pool2_.forward(ctx, relu4_.forward(ctx, *x));
  if (training) x = &drop2_.forward(ctx, *x);
  x = &relu5_.forward(ctx, fc1_.forward(ctx, flatten_.forward(*x)));
  if (training) x = &drop3_.forward(ctx, *x);
  return fc2_.forward(ctx, *x);
}

void CifarVGG::backward(const Context& ctx, const Tensor& dlogits) {
  const Tensor* g = &drop3_.backward(ctx, fc2_.backward(ctx, dlogits));
  g = &fc1_.backward(ctx, relu5_.backward(ctx, *g));
  const Tensor unflat = flatten_.backward(*g);
  const bool after = relu_after_pool();
  g = &drop2_.backward(ctx, unflat);
  g = after ? &pool2_.backward(ctx, relu4_.backward(ctx, *g)) : &relu4_.backward(ctx, pool2_.backward(ctx, *g));
  g = &conv3_.backward(ctx, relu3_.backward(ctx, conv4_.backward(ctx, *g)));
  g = &drop1_.backward(ctx, *g);
  g = after ? &pool1_.backward(ctx, relu2_.backward(ctx, *g)) : &relu2_.backward(ctx, pool1_.backward(ctx, *g));
  conv1_.backward(ctx, relu1_.backward(ctx, conv2_.backward(ctx, *g)));
}

NamedTensors CifarVGG::training_state() const {
  ROSETTA_CHECK(sgd_ != nullptr, "CifarVGG::training_state before setup");
  NamedTensors state = sgd_->state();
  state.emplace_back("model.step", step_);
  return state;
}

void CifarVGG::step(const Context& ctx, const Tensor& images, const Tensor& labels) {
  ROSETTA_CHECK(sgd_ != nullptr, "CifarVGG::step before setup");
  {
    const ProfilePass pass(ctx, "forward");
    kernels::increment_counter(ctx, step_.data<std::uint64_t>());
  }
  if (fused_) {
    fused_->forward_backward(ctx, images, labels);  // labels its forward and backward passes itself
  } else {
    {
      const ProfilePass pass(ctx, "forward");
      loss_.forward(ctx, forward(ctx, images, /*training=*/true), labels);
    }
    const ProfilePass pass(ctx, "backward");
    backward(ctx, loss_.dlogits());
  }
  {
    const ProfilePass pass(ctx, "backward");
    communicator_->all_reduce_sum(ctx, {params_.grads(), loss()});
  }
  const ProfilePass pass(ctx, "update");
  sgd_->step(ctx);
}

void CifarVGG::evaluate(const Context& ctx, const Tensor& images, const Tensor& labels, const Tensor& correct) {
  ROSETTA_CHECK(sgd_ != nullptr, "CifarVGG::evaluate before setup");
  if (fused_) {
    fused_->evaluate(ctx, images, labels, correct);
    return;
  }
  const Tensor& logits = forward(ctx, images, /*training=*/false);
  kernels::count_correct(ctx, logits.data<float>(), labels.data<std::int32_t>(),
                                              correct.data<std::int32_t>(), logits.dim(0), logits.dim(1));
}

}  // namespace rosetta
