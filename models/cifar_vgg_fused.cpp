#include "models/cifar_vgg_fused.h"

#include <algorithm>

#include "kernels/channel_sum.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/loss.h"
#include "models/cifar_vgg.h"

namespace rosetta {
namespace {

// The (N, C, H, W) tensor of logical dimensions stored in `layout`.
Shape stored(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, Layout layout) {
  return layout == Layout::nhwc ? Shape{n, h, w, c} : Shape{n, c, h, w};
}

// The CNN's convolutions: (in channels, out channels, output size); 3x3, pad 1, stride 1.
constexpr std::int64_t kConvs[4][3] = {{3, 50, 32}, {50, 50, 32}, {50, 100, 16}, {100, 100, 16}};
constexpr std::int64_t kHidden = 512, kFeatures = 100 * 8 * 8;

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, bf16> ? DType::bf16 : DType::f32;
}

}  // namespace

FusedCifarVgg::FusedCifarVgg(ParameterSet& params, const Parameters& indices) : params_(params), indices_(indices) {}

void FusedCifarVgg::setup(const Context& ctx, const CifarVggOptions& options, const Tensor& step,
                          std::int64_t first_row) {
  options_ = options;
  layout_ = options.conv.layout;
  bf16_ = options.conv.precision == Precision::bf16;
  const DType t = bf16_ ? DType::bf16 : DType::f32;
  const Device device = ctx.device();
  const std::int64_t batch = options.batch;

  // Which parameters need a working copy: the convolutions' whenever the layout, padding or type differ from the
  // arena's; the linear layers' in bf16 only (float linear layers read PyTorch's (out, in) weights as they are).
  const bool conv_copies = layout_ == Layout::nhwc || options.channel_multiple > 1 || bf16_;
  copies_ = {};
  std::int64_t conv_weight_at[4] = {}, conv_bias_at[4] = {}, fc_weight_at[2] = {}, fc_bias_at[2] = {};
  if (conv_copies) {
    for (int i = 0; i < 4; ++i) {
      const std::int64_t in = kConvs[i][0], out = kConvs[i][1];
      conv_weight_at[i] = copies_.add({params_.offset(indices_.conv_weight[i]), 0, out, in, 9, options.padded(out),
                                       options.padded(in), layout_, false});
      conv_bias_at[i] =
          copies_.add({params_.offset(indices_.conv_bias[i]), 0, out, 1, 1, options.padded(out), 1, layout_, true});
    }
  }
  if (bf16_) {
    const std::int64_t shapes[2][2] = {{kHidden, kFeatures}, {CifarVGG::kClasses, kHidden}};
    for (int i = 0; i < 2; ++i) {
      fc_weight_at[i] = copies_.add({params_.offset(indices_.fc_weight[i]), 0, shapes[i][0], shapes[i][1], 1,
                                     shapes[i][0], shapes[i][1], Layout::nchw, false});
      fc_bias_at[i] = copies_.add({params_.offset(indices_.fc_bias[i]), 0, shapes[i][0], 1, 1, shapes[i][0], 1,
                                   Layout::nchw, true});
    }
  }
  if (staged()) {
    working_weights_ = Tensor::zeros({copies_.working_elements(false)}, t, device);
    working_biases_ = Tensor::zeros({copies_.working_elements(true)}, t, device);
    weight_grads_ = Tensor::zeros({copies_.working_elements(false)}, t, device);
    bias_grads_ = Tensor::zeros({copies_.working_elements(true)}, DType::f32, device);
  }

  // The images' relayout target (channels-last, padded, or T).
  const std::int64_t c0 = options.padded(3);
  images_ = conv_copies ? Tensor::zeros(stored(batch, c0, 32, 32, layout_), t, device) : Tensor();

  std::size_t workspace = 0;  // the fused gradients' channel sums (kernels/channel_sum.h)
  kernels::ConvOptions conv_options = options.conv;
  conv_options.forward_only = false;
  for (int i = 0; i < 4; ++i) {
    Conv& c = conv_[i];
    c.in = kConvs[i][0], c.out = kConvs[i][1], c.size = kConvs[i][2];
    // The epilogue its forward runs (forward<T>): bias + ReLU, but bias alone for conv2 and conv4 when their ReLU
    // follows the pool. Declared, so the planner may choose a backend that builds it into the convolution.
    c.relu = i % 2 == 0 || options.relu_order == ReluOrder::before_pool;
    conv_options.epilogue = c.relu ? kernels::ConvEpilogue::bias_relu : kernels::ConvEpilogue::bias;
    const std::int64_t in_p = i == 0 ? c0 : options.padded(c.in), out_p = options.padded(c.out);
    kernels::ConvShape shape;
    shape.n = batch, shape.c = in_p, shape.h = shape.w = c.size, shape.k = out_p, shape.r = shape.s = 3;
    shape.pad_h = shape.pad_w = 1;
    c.plan = kernels::make_conv_plan(ctx, shape, conv_options);
    if (conv_copies) {
      c.w = working_weights_.view(conv_weight_at[i], stored(out_p, in_p, 3, 3, layout_));
      c.dw = weight_grads_.view(conv_weight_at[i], stored(out_p, in_p, 3, 3, layout_));
      c.b = working_biases_.view(conv_bias_at[i], {out_p});
      c.db = bias_grads_.view(conv_bias_at[i], {out_p});
    } else {
      c.w = params_.value(indices_.conv_weight[i]), c.dw = params_.grad(indices_.conv_weight[i]);
      c.b = params_.value(indices_.conv_bias[i]), c.db = params_.grad(indices_.conv_bias[i]);
    }
    // Zeros: cuDNN's fused call reads y as its (zero-scaled) residual, so it must hold finite values.
    c.y = Tensor::zeros(stored(batch, out_p, c.size, c.size, layout_), t, device);
    c.dz = Tensor::empty(c.y.shape(), t, device);
    if (i > 0) c.dx = Tensor::empty(stored(batch, in_p, c.size, c.size, layout_), t, device);
    if (i == 0 || i == 2) {
      const ChannelView v = channel_view(layout_, batch, out_p, c.size * c.size);
      workspace = std::max(workspace, kernels::channel_sum_workspace_bytes(v.outer, v.channels, v.inner));
    }
  }

  const float p_conv = options.dropout ? 0.25f : 0.0f, p_fc = options.dropout ? 0.5f : 0.0f;
  for (int j = 0; j < 2; ++j) {
    Pool& p = pool_[j];
    const Conv& c = conv_[2 * j + 1];
    const std::int64_t channels_p = options.padded(c.out), size = c.size / 2;
    p.shape = kernels::PoolShape{batch, channels_p, c.size, c.size, 2, 2, 0};
    kernels::check_tiling_pool_shape(p.shape, c.out);
    p.channels = c.out;
    p.dropout = kernels::DropoutDraw{p_conv, options.seed, CifarVGG::kDropoutUse + std::uint32_t(j),
                                     step.data<std::uint64_t>(), std::uint64_t(first_row * c.out * size * size)};
    p.y = Tensor::zeros(stored(batch, channels_p, size, size, layout_), t, device);
    p.argmax = Tensor::zeros(p.y.shape(), DType::i32, device);
    const ChannelView v = channel_view(layout_, batch, channels_p, size * size);
    workspace = std::max(workspace, kernels::channel_sum_workspace_bytes(v.outer, v.channels, v.inner));
  }
  fc1_dropout_ = kernels::DropoutDraw{p_fc, options.seed, CifarVGG::kDropoutUse + 2, step.data<std::uint64_t>(),
                                      std::uint64_t(first_row * kHidden)};

  // Flatten: pool2's output in NCHW order, unpadded (PyTorch's view(-1, 6400)).
  const bool flat_view = layout_ == Layout::nchw && options.channel_multiple == 1;
  flat_ = flat_view ? Tensor() : Tensor::empty({batch, kFeatures}, t, device);
  dflat_ = Tensor::empty({batch, kFeatures}, t, device);
  dpool2_ = flat_view ? dflat_.reshape(pool_[1].y.shape()) : Tensor::empty(pool_[1].y.shape(), t, device);

  const std::int64_t fc_shapes[2][2] = {{kHidden, kFeatures}, {CifarVGG::kClasses, kHidden}};
  for (int i = 0; i < 2; ++i) {
    Linear& f = fc_[i];
    const Shape w{fc_shapes[i][0], fc_shapes[i][1]}, b{fc_shapes[i][0]};
    if (bf16_) {
      f.w = working_weights_.view(fc_weight_at[i], w), f.dw = weight_grads_.view(fc_weight_at[i], w);
      f.b = working_biases_.view(fc_bias_at[i], b), f.db = bias_grads_.view(fc_bias_at[i], b);
    } else {
      f.w = params_.value(indices_.fc_weight[i]), f.dw = params_.grad(indices_.fc_weight[i]);
      f.b = params_.value(indices_.fc_bias[i]), f.db = params_.grad(indices_.fc_bias[i]);
    }
    f.z = Tensor::empty({batch, fc_shapes[i][0]}, DType::f32, device);
    f.y = Tensor::empty({batch, fc_shapes[i][0]}, t, device);
    f.dz = Tensor::empty({batch, fc_shapes[i][0]}, t, device);
    workspace = std::max(workspace, kernels::channel_sum_workspace_bytes(batch, fc_shapes[i][0], 1));
  }
  dlogits_ = Tensor::empty({batch, CifarVGG::kClasses}, t, device);
  dh_ = Tensor::empty({batch, kHidden}, t, device);
  loss_ = Tensor::zeros({1}, DType::f32, device);
  ctx.workspace(workspace);
}

template <typename T>
void FusedCifarVgg::conv_forward(const Context& ctx, Conv& c, const Tensor& x) {
  kernels::conv2d_bias_activation_forward(ctx, c.plan, x.data<T>(), c.w.data<T>(), c.b.data<T>(), nullptr, c.relu,
                                          c.y.data<T>());
}

template <typename T>
void FusedCifarVgg::forward(const Context& ctx, const Tensor& images, bool training) {
  ROSETTA_CHECK(images.shape() == Shape({options_.batch, 3, 32, 32}) && images.dtype() == DType::f32,
                "CifarVGG images " << dtype_name(images.dtype()) << images.shape().str() << ", set up for F32("
                                   << options_.batch << ", 3, 32, 32)");
  const std::int64_t batch = options_.batch;
  if (staged()) kernels::stage_parameters(ctx, copies_, params_.values().data<float>(), working_weights_.data<T>(),
                                          working_biases_.data<T>());
  x0_ = &images;  // conv1's input: the images themselves in float NCHW unpadded, else their relayout
  if (images_.defined()) {
    kernels::relayout_channels(ctx, images.data<float>(), Layout::nchw, 3, images_.data<T>(), layout_,
                               options_.padded(3), batch, 3, 32 * 32);
    x0_ = &images_;
  }
  const Tensor* x = x0_;
  const kernels::DropoutDraw none{};
  for (int j = 0; j < 2; ++j) {
    Conv& first = conv_[2 * j];
    Conv& second = conv_[2 * j + 1];
    Pool& p = pool_[j];
    conv_forward<T>(ctx, first, *x);
    conv_forward<T>(ctx, second, first.y);
    kernels::maxpool2d_relu_dropout_forward(ctx, p.shape, layout_, second.y.data<T>(), p.y.data<T>(),
                                            p.argmax.data<std::int32_t>(), p.channels, training ? p.dropout : none);
    x = &p.y;
  }
  const Tensor flat = flat_.defined() ? flat_ : pool_[1].y.reshape({batch, kFeatures});  // (B, 6400) NCHW order
  if (flat_.defined())
    kernels::relayout_channels(ctx, pool_[1].y.data<T>(), layout_, pool_[1].shape.c, flat_.data<T>(), Layout::nchw,
                               conv_[3].out, batch, conv_[3].out, 8 * 8);
  const Precision precision = options_.conv.precision;
  Linear& fc1 = fc_[0];
  Linear& fc2 = fc_[1];
  kernels::gemm(ctx, false, true, batch, kHidden, kFeatures, 1.0f, flat.data<T>(), fc1.w.data<T>(), 0.0f,
                fc1.z.data<float>(), precision);
  kernels::bias_relu_dropout_forward(ctx, fc1.z.data<float>(), fc1.b.data<T>(), fc1.y.data<T>(), true,
                                     training ? fc1_dropout_ : none, batch, kHidden, 1);
  kernels::gemm(ctx, false, true, batch, CifarVGG::kClasses, kHidden, 1.0f, fc1.y.data<T>(), fc2.w.data<T>(), 0.0f,
                fc2.z.data<float>(), precision);
  kernels::bias_relu_dropout_forward(ctx, fc2.z.data<float>(), fc2.b.data<T>(), fc2.y.data<T>(), false, none,
                                     batch, CifarVGG::kClasses, 1);
}

template <typename T>
void FusedCifarVgg::backward(const Context& ctx) {
  const std::int64_t batch = options_.batch;
  const Precision precision = options_.conv.precision;
  Linear& fc1 = fc_[0];
  Linear& fc2 = fc_[1];
  // fc2: dW (10, 512) = dlogits^T h; its bias gradient; dh (B, 512) = dlogits W.
  kernels::gemm(ctx, true, false, CifarVGG::kClasses, kHidden, batch, 1.0f, dlogits_.data<T>(), fc1.y.data<T>(), 0.0f,
                fc2.dw.data<T>(), precision);
  kernels::bias_relu_dropout_backward(ctx, static_cast<const T*>(nullptr), dlogits_.data<T>(), 1.0f,
                                      static_cast<T*>(nullptr), fc2.db.data<float>(), batch, CifarVGG::kClasses, 1);
  kernels::gemm(ctx, false, false, batch, kHidden, CifarVGG::kClasses, 1.0f, dlogits_.data<T>(), fc2.w.data<T>(), 0.0f,
                dh_.data<T>(), precision);
  // fc1: through dropout and ReLU with its bias gradient; dW (512, 6400) = dz^T flat; dflat (B, 6400) = dz W.
  const Tensor flat = flat_.defined() ? flat_ : pool_[1].y.reshape({batch, kFeatures});
  kernels::bias_relu_dropout_backward(ctx, fc1.y.data<T>(), dh_.data<T>(), kernels::dropout_scale(fc1_dropout_.p),
                                      fc1.dz.data<T>(), fc1.db.data<float>(), batch, kHidden, 1);
  kernels::gemm(ctx, true, false, kHidden, kFeatures, batch, 1.0f, fc1.dz.data<T>(), flat.data<T>(), 0.0f,
                fc1.dw.data<T>(), precision);
  kernels::gemm(ctx, false, false, batch, kFeatures, kHidden, 1.0f, fc1.dz.data<T>(), fc1.w.data<T>(), 0.0f,
                dflat_.data<T>(), precision);
  if (flat_.defined())
    kernels::relayout_channels(ctx, dflat_.data<T>(), Layout::nchw, conv_[3].out, dpool2_.data<T>(), layout_,
                               pool_[1].shape.c, batch, conv_[3].out, 8 * 8);
  const Tensor* dy = &dpool2_;
  for (int j = 1; j >= 0; --j) {
    Conv& first = conv_[2 * j];
    Conv& second = conv_[2 * j + 1];
    Pool& p = pool_[j];
    // Dropout, ReLU and the pool's routing, with the second convolution's bias gradient.
    kernels::maxpool2d_relu_dropout_backward(ctx, p.shape, layout_, dy->data<T>(), p.y.data<T>(),
                                             p.argmax.data<std::int32_t>(), kernels::dropout_scale(p.dropout.p),
                                             second.dz.data<T>(), second.db.data<float>());
    kernels::conv2d_backward_filter(ctx, second.plan, first.y.data<T>(), second.dz.data<T>(), second.dw.data<T>());
    kernels::conv2d_backward_data(ctx, second.plan, second.dz.data<T>(), second.w.data<T>(), second.dx.data<T>());
    // The first convolution's ReLU with its bias gradient, then its gradients.
    const ChannelView v = channel_view(layout_, batch, first.plan.shape.k, first.size * first.size);
    kernels::bias_relu_dropout_backward(ctx, first.y.data<T>(), second.dx.data<T>(), 1.0f, first.dz.data<T>(),
                                        first.db.data<float>(), v.outer, v.channels, v.inner);
    const Tensor& input = j == 1 ? pool_[0].y : *x0_;
    kernels::conv2d_backward_filter(ctx, first.plan, input.data<T>(), first.dz.data<T>(), first.dw.data<T>());
    if (j == 1) {  // conv1 needs no data gradient: its input is the data
      kernels::conv2d_backward_data(ctx, first.plan, first.dz.data<T>(), first.w.data<T>(), first.dx.data<T>());
      dy = &first.dx;
    }
  }
  if (staged())
    kernels::unstage_gradients(ctx, copies_, weight_grads_.data<T>(), bias_grads_.data<float>(),
                               params_.grads().data<float>());
}

void FusedCifarVgg::forward_backward(const Context& ctx, const Tensor& images, const Tensor& labels) {
  ROSETTA_CHECK(labels.shape() == Shape({options_.batch}) && labels.dtype() == DType::i32,
                "CifarVGG labels " << dtype_name(labels.dtype()) << labels.shape().str() << ", set up for I32("
                                   << options_.batch << ",)");
  const std::int64_t global_batch = options_.batch * options_.communicator->size();
  const auto run = [&](auto type) {
    using T = decltype(type);
    {
      const ProfilePass pass(ctx, "forward");
      forward<T>(ctx, images, true);
      kernels::softmax_cross_entropy(ctx, fc_[1].y.data<T>(), labels.data<std::int32_t>(), loss_.data<float>(),
                                     dlogits_.data<T>(), options_.batch, CifarVGG::kClasses, global_batch);
    }
    const ProfilePass pass(ctx, "backward");
    backward<T>(ctx);
  };
  if (bf16_)
    run(bf16{});
  else
    run(float{});
}

void FusedCifarVgg::evaluate(const Context& ctx, const Tensor& images, const Tensor& labels, const Tensor& correct) {
  const auto run = [&](auto type) {
    using T = decltype(type);
    forward<T>(ctx, images, false);
    kernels::count_correct(ctx, fc_[1].y.data<T>(), labels.data<std::int32_t>(), correct.data<std::int32_t>(),
                           options_.batch, CifarVGG::kClasses);
  };
  if (bf16_)
    run(bf16{});
  else
    run(float{});
}

}  // namespace rosetta
