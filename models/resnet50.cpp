#include "models/resnet50.h"

#include <cmath>
#include <algorithm>

#include "kernels/batchnorm.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
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

// A (K, C, R, S) filter shape as stored in `layout`.
Shape stored_filter(const Shape& kcrs, Layout layout) {
  return layout == Layout::nhwc ? Shape{kcrs[0], kcrs[2], kcrs[3], kcrs[1]} : kcrs;
}

// A (N, C, H, W) activation shape as stored in `layout`.
Shape stored_activation(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, Layout layout) {
  return layout == Layout::nhwc ? Shape{n, h, w, c} : Shape{n, c, h, w};
}

DType activation_dtype(Precision precision) { return precision == Precision::bf16 ? DType::bf16 : DType::f32; }

}  // namespace

Layout ResNet50Options::fastest_layout(Precision precision, Device device, bool fold_bn) {
  if (precision == Precision::bf16) return Layout::nhwc;
  return precision == Precision::tf32 && device == Device::cuda && fold_bn ? Layout::nhwc : Layout::nchw;
}

std::int64_t ResNet50Options::stem_channels() const {
  if (layout != Layout::nhwc || !pad_stem) return ResNet50::kChannels;
  return precision == Precision::bf16 ? 8 : 4;  // 16 bytes: one vector load, a tensor-core k-step
}

std::optional<OptionRule> ResNet50Options::broken_rule() const {
  if (precision == Precision::bf16 && layout != Layout::nhwc)
    return OptionRule{"precision", "bf16", "layout", "nhwc"};
  if (precision == Precision::bf16 && !fold_bn) return OptionRule{"precision", "bf16", "fold-bn", "on"};
  if (layout == Layout::nhwc && !fold_bn) return OptionRule{"layout", "nhwc", "fold-bn", "on"};
  if (backend == kernels::ConvBackend::cudnn_graph && layout != Layout::nhwc)
    return OptionRule{"backend", "cudnn-graph", "layout", "nhwc"};
  if (backend == kernels::ConvBackend::cudnn_graph && precision == Precision::fp32)
    return OptionRule{"backend", "cudnn-graph", "precision", "tf32 or bf16"};
  return std::nullopt;
}

ConvBn::ConvBn(ParameterSet& params, const std::string& conv_name, const std::string& bn_name,
               std::int64_t in_channels, std::int64_t out_channels, int kernel, int stride, int pad, bool residual,
               bool relu)
    : params_(params),
      in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_(kernel),
      stride_(stride),
      pad_(pad),
      residual_(residual),
      relu_(relu),
      weight_(params.declare(conv_name + ".weight", {out_channels, in_channels, kernel, kernel})),
      bn_(params, bn_name, out_channels) {}

const Shape& ConvBn::weight_shape() const { return params_.shape(weight_); }

Shape ConvBn::stored_weight_shape() const {
  const kernels::ConvShape& s = plan_.shape;
  return stored_filter({s.k, s.c, s.r, s.s}, plan_.options.layout);
}

void ConvBn::setup(const Context& ctx, const Shape& input, const ResNet50Options& options) {
  ROSETTA_CHECK(input.rank() == 4 && (input[1] == in_channels_ || (input[1] > in_channels_ &&
                                                                   options.layout == Layout::nhwc)),
                "convolution " << params_.name(weight_) << " input " << input.str() << " does not have "
                               << in_channels_ << " channels (or more, zero-padded, in NHWC)");
  kernels::ConvShape shape;
  shape.n = input[0], shape.c = input[1], shape.h = input[2], shape.w = input[3];
  shape.k = out_channels_, shape.r = shape.s = kernel_;
  shape.pad_h = shape.pad_w = pad_;
  shape.stride_h = shape.stride_w = stride_;
  kernels::ConvOptions conv;
  conv.precision = options.precision;
  conv.autotune = options.autotune;
  conv.forward_only = true;
  conv.fuse_epilogue = options.fuse;
  conv.layout = options.layout;
  // Folded: the epilogue is declared, so the fused backends may serve the layer; unfolded (the ablation), any call.
  conv.epilogue = options.fold_bn ? kernels::conv_epilogue_of(residual_, relu_) : kernels::ConvEpilogue::any;
  conv.backend = options.backend;
  plan_ = kernels::make_conv_plan(ctx, shape, conv);
  fold_ = options.fold_bn;
  y_ = Tensor::zeros(stored_activation(shape.n, shape.k, shape.out_h(), shape.out_w(), options.layout),
                     activation_dtype(options.precision), ctx.device());
}

Shape ConvBn::output_dims() const {
  const kernels::ConvShape& s = plan_.shape;
  return {s.n, s.k, s.out_h(), s.out_w()};
}

void ConvBn::fold_into(const Tensor& weight, const Tensor& bias) const {
  fold_batchnorm(bn_, params_, weight_, weight, bias);
}

template <typename T>
const Tensor& ConvBn::forward(const Context& ctx, const Tensor& x, const Tensor* residual) {
  const kernels::ConvShape& s = plan_.shape;
  const Layout layout = plan_.options.layout;
  ROSETTA_CHECK(x.shape() == stored_activation(s.n, s.c, s.h, s.w, layout),
                params_.name(weight_) << " input " << x.shape().str() << ", planned " << s.str() << " "
                                      << layout_name(layout));
  ROSETTA_CHECK((residual != nullptr) == residual_,
                params_.name(weight_) << (residual_ ? " needs its residual" : " takes no residual"));
  ROSETTA_CHECK(residual == nullptr || residual->shape() == y_.shape(),
                params_.name(weight_) << " residual " << residual->shape().str() << ", output " << y_.shape().str());
  const T* z = residual ? residual->data<T>() : nullptr;
  if (fold_) {
    ROSETTA_CHECK(folded_weight_.defined(), params_.name(weight_) << ": folded weights not set");
    kernels::conv2d_bias_activation_forward(ctx, plan_, x.data<T>(), folded_weight_.data<T>(), folded_bias_.data<T>(),
                                            z, relu_, y_.data<T>());
    return y_;
  }
  // The unfolded ablation (NCHW, float): convolution, batch norm, then the residual and ReLU.
  kernels::conv2d_forward(ctx, plan_, x.data<T>(), params_.value(weight_).data<T>(), y_.data<T>());
  bn_.forward(ctx, y_, y_);
  const ChannelView v = channel_view(layout, s.n, s.k, s.out_h() * s.out_w());
  if (z || relu_) kernels::bias_residual_activation(ctx, y_.data<T>(), nullptr, z, relu_, v.outer, v.channels, v.inner);
  return y_;
}

template const Tensor& ConvBn::forward<float>(const Context&, const Tensor&, const Tensor*);
template const Tensor& ConvBn::forward<bf16>(const Context&, const Tensor&, const Tensor*);

ResNet50::ResNet50(Device device) {
  stem_ = std::make_unique<ConvBn>(params_, "conv1", "bn1", kChannels, kStemChannels, 7, 2, 3, /*residual=*/false,
                                   /*relu=*/true);
  units_.push_back(stem_.get());
  std::int64_t in = kStemChannels;
  for (int layer = 0; layer < 4; ++layer) {
    const std::int64_t width = kWidths[layer], out = width * kExpansion;
    for (int b = 0; b < kBlocks[layer]; ++b) {
      const std::string prefix = "layer" + std::to_string(layer + 1) + "." + std::to_string(b) + ".";
      const int stride = (layer > 0 && b == 0) ? 2 : 1;
      Bottleneck block;
      block.conv1 = std::make_unique<ConvBn>(params_, prefix + "conv1", prefix + "bn1", in, width, 1, 1, 0, false, true);
      block.conv2 =
          std::make_unique<ConvBn>(params_, prefix + "conv2", prefix + "bn2", width, width, 3, stride, 1, false, true);
      block.conv3 = std::make_unique<ConvBn>(params_, prefix + "conv3", prefix + "bn3", width, out, 1, 1, 0, true, true);
      if (stride != 1 || in != out)
        block.downsample = std::make_unique<ConvBn>(params_, prefix + "downsample.0", prefix + "downsample.1", in, out,
                                                    1, stride, 0, /*residual=*/false, /*relu=*/false);
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
  if (const std::optional<OptionRule> rule = options.broken_rule())
    ROSETTA_INPUT_ERROR("ResNet50: " << rule->option << " " << rule->value << " needs " << rule->required << " "
                                     << rule->required_value);
  options_ = options;
  const Device device = ctx.device();
  const Layout layout = options.layout;
  const DType activations = activation_dtype(options.precision);
  const std::int64_t b = options.batch, size = options.image_size;
  const Shape images{b, kChannels, size, size};  // (B, 3, S, S)

  normalize_ = normalized_ = channels_last_ = Tensor();
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
  const std::int64_t stem_channels = options.stem_channels();
  if (layout == Layout::nhwc) channels_last_ = Tensor::empty({b, size, size, stem_channels}, activations, device);

  stem_->setup(ctx, {b, stem_channels, size, size}, options);  // (B, 64, S/2, S/2)
  const Shape stem = stem_->output_dims();
  pool_ = kernels::PoolShape{stem[0], stem[1], stem[2], stem[3], 3, 2, 1};
  pooled_ = Tensor::empty(stored_activation(b, kStemChannels, pool_.out_h(), pool_.out_w(), layout), activations, device);
  Shape x{b, kStemChannels, pool_.out_h(), pool_.out_w()};  // the logical dimensions (N, C, H, W) of each input
  for (Bottleneck& block : blocks_) {
    if (block.downsample) block.downsample->setup(ctx, x, options);
    block.conv1->setup(ctx, x, options);
    block.conv2->setup(ctx, block.conv1->output_dims(), options);
    block.conv3->setup(ctx, block.conv2->output_dims(), options);
    x = block.conv3->output_dims();
  }
  features_ = Tensor::empty({b, kFeatures}, DType::f32, device);
  if (options.fold_bn) fold(ctx);
}

void ResNet50::fold(const Context& ctx) {
  // The folded set is built on the host (in double, layers/batchnorm2d.h) and copied to the device once; in NHWC
  // each weight is folded (K, C, R, S) into a scratch tensor, zero-padded to the planned channels C' (the stem's) and
  // stored (K, R, S, C').
  const Layout layout = options_.layout;
  const auto declare = [&](ParameterSet& set) {
    for (const ConvBn* unit : units_) {
      const std::string conv = unit->name().substr(0, unit->name().size() - std::string(".weight").size());
      set.declare(conv + ".weight", unit->stored_weight_shape());
      set.declare(conv + ".bias", {unit->out_channels()});
    }
  };
  ParameterSet host;
  declare(host);
  host.allocate(Device::cpu, /*gradients=*/false);
  for (std::size_t u = 0; u < units_.size(); ++u) {
    const Shape& w = units_[u]->weight_shape();  // (K, C, R, S)
    const std::int64_t planned = units_[u]->plan().shape.c;  // C' >= C
    const Tensor kcrs = Tensor::empty(w, DType::f32);
    units_[u]->fold_into(kcrs, host.value(2 * int(u) + 1));
    Tensor padded = kcrs;  // (K, C', R, S)
    if (planned != w[1]) {
      padded = Tensor::zeros({w[0], planned, w[2], w[3]}, DType::f32);
      const std::int64_t per_channel = w[2] * w[3];
      for (std::int64_t k = 0; k < w[0]; ++k)
        std::copy_n(kcrs.data<float>() + k * w[1] * per_channel, w[1] * per_channel,
                    padded.data<float>() + k * planned * per_channel);
    }
    kernels::change_layout(Context::cpu(), padded.data<float>(), Layout::nchw, host.value(2 * int(u)).data<float>(),
                           layout, w[0], planned, w[2] * w[3]);
  }
  folded_ = ParameterSet();
  declare(folded_);
  folded_.allocate(ctx.device(), /*gradients=*/false);
  Tensor arena = folded_.values();  // a handle: copying into it fills the arena
  arena.copy_from(host.values());
  folded_bf16_ = Tensor();
  if (options_.precision == Precision::bf16) {  // the whole arena rounded once; the convolutions read their weights here
    folded_bf16_ = Tensor::empty(folded_.values().shape(), DType::bf16, ctx.device());
    kernels::convert(ctx, folded_.values().data<float>(), folded_bf16_.data<bf16>(), folded_bf16_.numel());
  }
  for (std::size_t u = 0; u < units_.size(); ++u) {
    const int weight = 2 * int(u), bias = weight + 1;
    if (folded_bf16_.defined()) {
      units_[u]->use_folded(folded_.view_in(folded_bf16_, weight), folded_.view_in(folded_bf16_, bias));
    } else {
      units_[u]->use_folded(folded_.value(weight), folded_.value(bias));
    }
  }
}

const Tensor& ResNet50::forward(const Context& ctx, const Tensor& images) {
  ROSETTA_CHECK(features_.defined(), "ResNet50::forward before setup");
  const Shape expected{options_.batch, kChannels, options_.image_size, options_.image_size};
  ROSETTA_CHECK(images.shape() == expected, "ResNet50 images " << images.shape().str() << ", set up for " << expected.str());
  return options_.precision == Precision::bf16 ? forward_as<bf16>(ctx, images) : forward_as<float>(ctx, images);
}

template <typename T>
const Tensor& ResNet50::forward_as(const Context& ctx, const Tensor& images) {
  const Layout layout = options_.layout;
  const std::int64_t b = options_.batch, hw = options_.image_size * options_.image_size;
  // The input in the activations' layout and type: normalised (NCHW), transposed, rounded, as the options ask.
  const Tensor* x = &images;
  if (normalize_.defined()) {
    const float* n = normalize_.data<float>();  // rows: weight, bias, mean, var
    kernels::batchnorm_inference_forward(ctx, x->data<float>(), normalized_.data<float>(), n, n + 3, n + 6, n + 9,
                                         0.0f, b, kChannels, hw);
    x = &normalized_;
  }
  if (channels_last_.defined()) {  // NHWC: converted once into the activations' type, channels padded
    kernels::relayout_channels(ctx, x->data<float>(), Layout::nchw, kChannels, channels_last_.data<T>(), Layout::nhwc,
                               channels_last_.dim(3), b, kChannels, hw);
    x = &channels_last_;
  }
  const Tensor& stem = stem_->forward<T>(ctx, *x, nullptr);
  kernels::maxpool2d_forward(ctx, pool_, layout, stem.data<T>(), pooled_.data<T>(), nullptr);
  x = &pooled_;
  for (Bottleneck& block : blocks_) {
    const Tensor* identity = block.downsample ? &block.downsample->forward<T>(ctx, *x, nullptr) : x;
    const Tensor& a = block.conv1->forward<T>(ctx, *x, nullptr);
    const Tensor& c = block.conv2->forward<T>(ctx, a, nullptr);
    x = &block.conv3->forward<T>(ctx, c, identity);
  }
  const Shape last = blocks_.back().conv3->output_dims();  // (B, 2048, h, w)
  kernels::global_avgpool_forward(ctx, layout, x->data<T>(), features_.data<float>(), last[0], last[1],
                                  last[2] * last[3]);
  return features_;
}

int ResNet50::fused_convolutions() const {
  int fused = 0;
  for (const ConvBn* unit : units_) fused += unit->fused() ? 1 : 0;
  return fused;
}

}  // namespace rosetta
