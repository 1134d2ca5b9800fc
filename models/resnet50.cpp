#include "models/resnet50.h"

#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/pool.h"
#include "kernels/residual.h"
#include "layers/checkpoint.h"
#include "layers/init.h"
#include "runtime/philox.h"

namespace rosetta {
namespace {

constexpr int kBlocks[4] = {3, 4, 6, 3};
constexpr std::int64_t kWidths[4] = {64, 128, 256, 512};
constexpr std::int64_t kExpansion = 4;
constexpr std::int64_t kStemChannels = 64;
// torchvision's ImageNet normalisation.
constexpr double kImageNetMean[3] = {0.485, 0.456, 0.406};
constexpr double kImageNetStd[3] = {0.229, 0.224, 0.225};

std::int64_t aligned(std::int64_t elements) {
  return (elements + ParameterSet::kAlignment - 1) / ParameterSet::kAlignment * ParameterSet::kAlignment;
}

// The bf16 bits of a bf16 tensor (Tensor::data has no element type for bf16: uint16_t would also fit f16).
std::uint16_t* bf16_data(const Tensor& t) {
  ROSETTA_CHECK(t.dtype() == DType::bf16,
                "tensor " << t.shape().str() << " holds " << dtype_name(t.dtype()) << ", not BF16");
  return static_cast<std::uint16_t*>(t.raw());
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Parameter `index` of `params` drawn from U(low, high) under `seed` (stream philox_step_stream(kInitUse, index)).
void uniform_range(ParameterSet& params, int index, double low, double high, std::uint64_t seed) {
  Tensor host = Tensor::empty(params.shape(index), DType::f32);
  float* p = host.data<float>();
  const std::uint64_t stream = philox_step_stream(kInitUse, static_cast<std::uint64_t>(index));
  for (std::int64_t i = 0; i < host.numel(); ++i)
    p[i] = static_cast<float>(low + (high - low) * philox_uniform(seed, stream, static_cast<std::uint64_t>(i)));
  params.value(index).copy_from(host);
}

}  // namespace

ConvBn::ConvBn(ParameterSet& params, const std::string& conv_name, const std::string& bn_name,
               std::int64_t in_channels, std::int64_t out_channels, int kernel, int stride, int pad, bool relu)
    : params_(params),
      in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_(kernel),
      stride_(stride),
      pad_(pad),
      relu_(relu),
      weight_(params.declare(conv_name + ".weight", {out_channels, in_channels, kernel, kernel})),
      bn_(params, bn_name, out_channels) {}

const Shape& ConvBn::weight_shape() const { return params_.shape(weight_); }

void ConvBn::setup(const Context& ctx, const Shape& input, const ResNet50Options& options) {
  ROSETTA_CHECK(input.rank() == 4 && input[1] == in_channels_,
                "convolution " << params_.name(weight_) << " input " << input.str() << " does not have "
                               << in_channels_ << " channels");
  kernels::ConvShape shape;
  shape.n = input[0], shape.c = input[1], shape.h = input[2], shape.w = input[3];
  shape.k = out_channels_, shape.r = shape.s = kernel_;
  shape.pad_h = shape.pad_w = pad_;
  shape.stride_h = shape.stride_w = stride_;
  kernels::ConvOptions conv;
  conv.precision = options.precision;
  conv.autotune = options.autotune;
  conv.forward_only = true;
  conv.layout = options.layout;
  plan_ = kernels::make_conv_plan(ctx, shape, conv);
  fold_ = options.fold_bn;
  fused_ = options.fold_bn && options.fuse && kernels::conv_bias_activation_supported(plan_, relu_);
  // Zeroed: the fused forward without a residual passes y as its z with scale 0, so y must hold no NaN.
  const Shape y = options.layout == kernels::ConvLayout::nhwc ? Shape{shape.n, shape.out_h(), shape.out_w(), shape.k}
                                                               : Shape{shape.n, shape.k, shape.out_h(), shape.out_w()};
  y_ = Tensor::zeros(y, options.precision == Precision::bf16 ? DType::bf16 : DType::f32, ctx.device());
}

Shape ConvBn::output_dims() const {
  const kernels::ConvShape& s = plan_.shape;
  return {s.n, s.k, s.out_h(), s.out_w()};
}

void ConvBn::fold_into(const Tensor& weight, const Tensor& bias) const {
  fold_batchnorm(bn_, params_, weight_, weight, bias);
}

const Tensor& ConvBn::forward(const Context& ctx, const Tensor& x, const Tensor* residual) {
  const kernels::ConvShape& s = plan_.shape;
  const bool nhwc = plan_.options.layout == kernels::ConvLayout::nhwc;
  ROSETTA_CHECK(x.shape() == (nhwc ? Shape({s.n, s.h, s.w, s.c}) : Shape({s.n, s.c, s.h, s.w})),
                params_.name(weight_) << " input " << x.shape().str() << ", planned " << s.str());
  ROSETTA_CHECK(residual == nullptr || residual->shape() == y_.shape(),
                params_.name(weight_) << " residual " << residual->shape().str() << ", output " << y_.shape().str());
  ROSETTA_CHECK(!fold_ || folded_weight_.defined(), params_.name(weight_) << ": folded weights not set");
  const Device d = ctx.device();
  // y viewed as (outer, K, inner) by the epilogue kernel: NCHW (N, K, OH * OW), NHWC (N * OH * OW, K, 1).
  const std::int64_t outer = nhwc ? s.n * s.out_h() * s.out_w() : s.n, inner = nhwc ? 1 : s.out_h() * s.out_w();
  if (plan_.options.precision == Precision::bf16) {  // NHWC, folded, unfused: bf16 x, w, y, z; float bias
    std::uint16_t* y = bf16_data(y_);
    ROSETTA_KERNEL(d, conv2d_forward_bf16)(ctx, plan_, bf16_data(x), bf16_data(folded_weight_), y);
    ROSETTA_KERNEL(d, bias_residual_activation_bf16)(ctx, y, folded_bias_.data<float>(),
                                                     residual ? bf16_data(*residual) : nullptr, relu_, outer,
                                                     s.k, inner);
    return y_;
  }
  const float* z = residual ? residual->data<float>() : nullptr;
  float* y = y_.data<float>();
  if (fused_) {
    ROSETTA_KERNEL(d, conv2d_bias_activation_forward)(ctx, plan_, x.data<float>(), folded_weight_.data<float>(),
                                                      folded_bias_.data<float>(), z ? z : y, z ? 1.0f : 0.0f, relu_, y);
  } else if (fold_) {
    ROSETTA_KERNEL(d, conv2d_forward)(ctx, plan_, x.data<float>(), folded_weight_.data<float>(), y);
    ROSETTA_KERNEL(d, bias_residual_activation)(ctx, y, folded_bias_.data<float>(), z, relu_, outer, s.k, inner);
  } else {
    ROSETTA_KERNEL(d, conv2d_forward)(ctx, plan_, x.data<float>(), params_.value(weight_).data<float>(), y);
    bn_.forward(ctx, y_, y_);
    if (z || relu_) ROSETTA_KERNEL(d, bias_residual_activation)(ctx, y, nullptr, z, relu_, outer, s.k, inner);
  }
  return y_;
}

ResNet50::ResNet50(Device device) {
  stem_ = std::make_unique<ConvBn>(params_, "conv1", "bn1", kChannels, kStemChannels, 7, 2, 3, /*relu=*/true);
  units_.push_back(stem_.get());
  std::int64_t in = kStemChannels;
  for (int layer = 0; layer < 4; ++layer) {
    const std::int64_t width = kWidths[layer], out = width * kExpansion;
    for (int b = 0; b < kBlocks[layer]; ++b) {
      const std::string prefix = "layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      const int stride = (layer > 0 && b == 0) ? 2 : 1;
      Bottleneck block;
      block.conv1 = std::make_unique<ConvBn>(params_, prefix + "conv1", prefix + "bn1", in, width, 1, 1, 0, true);
      block.conv2 = std::make_unique<ConvBn>(params_, prefix + "conv2", prefix + "bn2", width, width, 3, stride, 1, true);
      block.conv3 = std::make_unique<ConvBn>(params_, prefix + "conv3", prefix + "bn3", width, out, 1, 1, 0, true);
      if (stride != 1 || in != out)
        block.downsample = std::make_unique<ConvBn>(params_, prefix + "downsample.0", prefix + "downsample.1", in, out,
                                                    1, stride, 0, /*relu=*/false);
      for (ConvBn* unit : {block.conv1.get(), block.conv2.get(), block.conv3.get(), block.downsample.get()})
        if (unit) units_.push_back(unit);
      blocks_.push_back(std::move(block));
      in = out;
    }
  }
  params_.allocate(device, /*gradients=*/false);
}

void ResNet50::load(const std::string& path) {
  load_parameters(params_, path, [](const std::string& name) {
    return name.compare(0, 3, "fc.") == 0 || ends_with(name, ".num_batches_tracked");
  });
}

void ResNet50::init_random(std::uint64_t seed) {
  for (int i = 0; i < params_.size(); ++i) {
    const std::string& name = params_.name(i);
    const Shape& shape = params_.shape(i);
    if (shape.rank() == 4) {
      const double bound = std::sqrt(6.0 / double(shape[1] * shape[2] * shape[3]));
      uniform_range(params_, i, -bound, bound, seed);
    } else if (ends_with(name, ".running_var")) {
      uniform_range(params_, i, 0.5, 1.5, seed);
    } else if (ends_with(name, ".running_mean") || ends_with(name, ".bias")) {
      uniform_range(params_, i, -0.1, 0.1, seed);
    } else if (ends_with(name, ".bn3.weight")) {
      uniform_range(params_, i, 0.1, 0.3, seed);
    } else {
      uniform_range(params_, i, 0.5, 1.0, seed);
    }
  }
}

void ResNet50::setup(const Context& ctx, const ResNet50Options& options) {
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "ResNet50 parameters and context are on different devices");
  ROSETTA_CHECK(options.batch > 0 && options.image_size >= 32,
                "ResNet50 needs a positive batch and images of at least 32x32, got batch " << options.batch
                                                                                          << ", size " << options.image_size);
  const bool nhwc = options.layout == kernels::ConvLayout::nhwc;
  const bool bf16 = options.precision == Precision::bf16;
  ROSETTA_CHECK(!nhwc || options.fold_bn, "ResNet50 in NHWC needs fold_bn (BatchNorm2d runs NCHW only)");
  ROSETTA_CHECK(!bf16 || nhwc, "ResNet50 in bf16 needs the NHWC layout (cuDNN's bf16 tensor-core convolutions)");
  const DType activations = bf16 ? DType::bf16 : DType::f32;
  options_ = options;
  const Device device = ctx.device();
  const Shape images{options.batch, kChannels, options.image_size, options.image_size};  // (B, 3, S, S)

  if (options.normalize) {
    std::vector<float> bn_form(12);
    for (int c = 0; c < 3; ++c) {
      bn_form[c] = 1.0f, bn_form[3 + c] = 0.0f;
      bn_form[6 + c] = static_cast<float>(kImageNetMean[c]);
      bn_form[9 + c] = static_cast<float>(kImageNetStd[c] * kImageNetStd[c]);
    }
    normalize_ = Tensor::from_vector({4, 3}, bn_form).to(device);
    normalized_ = Tensor::empty(images, DType::f32, device);
  }

  if (nhwc) channels_last_ = Tensor::empty({options.batch, options.image_size, options.image_size, kChannels},
                                             DType::f32, device);
  if (bf16) channels_last_bf16_ = Tensor::empty(channels_last_.shape(), DType::bf16, device);
  stem_->setup(ctx, images, options);  // (B, 64, S/2, S/2)
  const Shape stem = stem_->output_dims();
  const std::int64_t pooled_size = (stem[2] + 2 * 1 - 3) / 2 + 1;
  Shape x{options.batch, kStemChannels, pooled_size, pooled_size};  // the dimensions (N, C, H, W) of each input
  if (nhwc) {
    pooled_ = Tensor::empty({options.batch, pooled_size, pooled_size, kStemChannels}, activations, device);
  } else {
    pooled_ = Tensor::empty(x, DType::f32, device);
    argmax_ = Tensor::empty(x, DType::i32, device);
  }
  for (Bottleneck& block : blocks_) {
    if (block.downsample) block.downsample->setup(ctx, x, options);
    block.conv1->setup(ctx, x, options);
    block.conv2->setup(ctx, block.conv1->output_dims(), options);
    block.conv3->setup(ctx, block.conv2->output_dims(), options);
    x = block.conv3->output_dims();
  }
  features_ = Tensor::empty({options.batch, kFeatures}, DType::f32, device);

  if (options.fold_bn) {
    // The folded arena is built on the host (in double, layers/batchnorm2d.h) and copied to the device once. In
    // NHWC each weight is folded (K, C, R, S) into a scratch tensor and stored (K, R, S, C).
    std::int64_t elements = 0;
    for (const ConvBn* unit : units_) elements += aligned(unit->weight_shape().numel()) + aligned(unit->out_channels());
    const Tensor host = Tensor::zeros({elements}, DType::f32);
    std::vector<std::int64_t> offsets;
    std::int64_t offset = 0;
    for (const ConvBn* unit : units_) {
      offsets.push_back(offset);
      const Shape& w = unit->weight_shape();  // (K, C, R, S)
      const Tensor weight = host.view(offset, w), bias = host.view(offset + aligned(w.numel()), {w[0]});
      if (nhwc) {
        const Tensor kcrs = Tensor::empty(w, DType::f32);
        unit->fold_into(kcrs, bias);
        kernels::cpu::nchw_to_nhwc(Context::cpu(), kcrs.data<float>(), weight.data<float>(), w[0], w[1], w[2] * w[3]);
      } else {
        unit->fold_into(weight, bias);
      }
      offset += aligned(unit->weight_shape().numel()) + aligned(unit->out_channels());
    }
    folded_ = host.to(device);
    if (bf16) {  // the whole arena rounded to bf16 once; the convolutions read the weights from it, biases stay float
      folded_bf16_ = Tensor::empty(folded_.shape(), DType::bf16, device);
      ROSETTA_KERNEL(device, f32_to_bf16)(ctx, folded_.data<float>(), bf16_data(folded_bf16_), elements);
    }
    for (std::size_t u = 0; u < units_.size(); ++u) {
      ConvBn& unit = *units_[u];
      const Tensor& weights = bf16 ? folded_bf16_ : folded_;
      unit.use_folded(weights.view(offsets[u], unit.weight_shape()),
                      folded_.view(offsets[u] + aligned(unit.weight_shape().numel()), {unit.out_channels()}));
    }
  }
}

const Tensor& ResNet50::forward(const Context& ctx, const Tensor& images) {
  ROSETTA_CHECK(features_.defined(), "ResNet50::forward before setup");
  const Shape expected{options_.batch, kChannels, options_.image_size, options_.image_size};
  ROSETTA_CHECK(images.shape() == expected, "ResNet50 images " << images.shape().str() << ", set up for " << expected.str());
  const Device d = ctx.device();
  const Tensor* x = &images;
  if (options_.normalize) {
    const float* n = normalize_.data<float>();  // rows: weight, bias, mean, var
    ROSETTA_KERNEL(d, batchnorm_inference_forward)(ctx, images.data<float>(), normalized_.data<float>(), n, n + 3, n + 6,
                                                   n + 9, 0.0f, expected[0], kChannels, expected[2] * expected[3]);
    x = &normalized_;
  }
  const bool nhwc = options_.layout == kernels::ConvLayout::nhwc;
  if (nhwc) {
    ROSETTA_KERNEL(d, nchw_to_nhwc)(ctx, x->data<float>(), channels_last_.data<float>(), expected[0], kChannels,
                                    expected[2] * expected[3]);
    x = &channels_last_;
  }
  if (options_.precision == Precision::bf16) {
    ROSETTA_KERNEL(d, f32_to_bf16)(ctx, channels_last_.data<float>(), bf16_data(channels_last_bf16_),
                                   channels_last_.numel());
    x = &channels_last_bf16_;
  }
  const Tensor& stem = stem_->forward(ctx, *x, nullptr);
  const Shape dims = stem_->output_dims();  // (B, 64, S/2, S/2)
  if (options_.precision == Precision::bf16)
    ROSETTA_KERNEL(d, maxpool2d_forward_nhwc_bf16)(ctx, bf16_data(stem), bf16_data(pooled_),
                                                   dims[0], dims[1], dims[2], dims[3], 3, 2, 1);
  else if (nhwc)
    ROSETTA_KERNEL(d, maxpool2d_forward_nhwc)(ctx, stem.data<float>(), pooled_.data<float>(), dims[0], dims[1], dims[2],
                                              dims[3], 3, 2, 1);
  else
    ROSETTA_KERNEL(d, maxpool2d_forward)(ctx, stem.data<float>(), pooled_.data<float>(), argmax_.data<std::int32_t>(),
                                         dims[0], dims[1], dims[2], dims[3], 3, 2, 1);
  x = &pooled_;
  for (Bottleneck& block : blocks_) {
    const Tensor* identity = block.downsample ? &block.downsample->forward(ctx, *x, nullptr) : x;
    const Tensor& a = block.conv1->forward(ctx, *x, nullptr);
    const Tensor& b = block.conv2->forward(ctx, a, nullptr);
    x = &block.conv3->forward(ctx, b, identity);
  }
  const Shape last = blocks_.back().conv3->output_dims();  // (B, 2048, h, w)
  if (options_.precision == Precision::bf16)
    ROSETTA_KERNEL(d, global_avgpool_forward_bf16)(ctx, bf16_data(*x), features_.data<float>(), last[0],
                                                   last[1], last[2] * last[3], /*channels_last=*/true);
  else
    ROSETTA_KERNEL(d, global_avgpool_forward)(ctx, x->data<float>(), features_.data<float>(), last[0], last[1],
                                              last[2] * last[3], /*channels_last=*/nhwc);
  return features_;
}

int ResNet50::fused_convolutions() const {
  int fused = 0;
  for (const ConvBn* unit : units_) fused += unit->fused() ? 1 : 0;
  return fused;
}

}  // namespace rosetta
