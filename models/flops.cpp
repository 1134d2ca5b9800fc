#include "models/flops.h"

#include "models/cifar_vgg.h"
#include "models/imdb_gru.h"
#include "runtime/error.h"

namespace rosetta {
namespace {

// Multiply-adds of a convolution of a (cin, h, h) input to cout channels, square kernel k, stride s, padding p;
// `out` gets the output size.
double conv_macs(std::int64_t cin, std::int64_t cout, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t h,
                 std::int64_t& out) {
  out = (h + 2 * p - k) / s + 1;
  return double(cin) * double(cout) * double(k * k) * double(out * out);
}

}  // namespace

double cnn_training_flops_per_example() {
  std::int64_t h = CifarVGG::kSize, out = 0;
  const double conv1 = conv_macs(3, 50, 3, 1, 1, h, out);
  const double conv2 = conv_macs(50, 50, 3, 1, 1, out, out);
  h = out / 2;  // maxpool 2
  const double conv3 = conv_macs(50, 100, 3, 1, 1, h, out);
  const double conv4 = conv_macs(100, 100, 3, 1, 1, out, out);
  h = out / 2;
  const double fc1 = double(100 * h * h) * 512, fc2 = 512.0 * CifarVGG::kClasses;
  const double forward = conv1 + conv2 + conv3 + conv4 + fc1 + fc2;
  // weight gradients: every layer's multiply-adds again; data gradients: every layer's but conv1's.
  return 2.0 * (forward + forward + (forward - conv1));
}

double gru_training_flops_per_example(std::int64_t steps) {
  ROSETTA_CHECK(steps > 0, "gru_training_flops_per_example: " << steps << " steps");
  const double gates = 3.0 * ImdbGRU::kHidden;
  const double per_step = gates * double(ImdbGRU::kEmbedding + ImdbGRU::kHidden);  // W_ih x_t and W_hh h_{t-1}
  const double l_out = double(ImdbGRU::kHidden * ImdbGRU::kClasses);
  // Forward, data gradient (x_t feeds the embedding's gradient, h_{t-1} the recurrence), weight gradient.
  return 2.0 * 3.0 * (double(steps) * per_step + l_out);
}

double resnet50_forward_flops_per_image(std::int64_t image_size) {
  ROSETTA_CHECK(image_size >= 32, "resnet50_forward_flops_per_image: image size " << image_size);
  std::int64_t h = 0;
  double macs = conv_macs(3, 64, 7, 2, 3, image_size, h);
  h = (h + 2 * 1 - 3) / 2 + 1;  // maxpool 3x3, stride 2, pad 1
  std::int64_t in = 64;
  struct Stage {
    std::int64_t width, blocks, stride;
  };
  for (const Stage& stage : {Stage{64, 3, 1}, Stage{128, 4, 2}, Stage{256, 6, 2}, Stage{512, 3, 2}}) {
    for (std::int64_t b = 0; b < stage.blocks; ++b) {
      const std::int64_t stride = b == 0 ? stage.stride : 1, out_channels = 4 * stage.width;
      std::int64_t h1 = 0, h2 = 0, unused = 0;
      macs += conv_macs(in, stage.width, 1, 1, 0, h, h1);                // 1x1 reduce
      macs += conv_macs(stage.width, stage.width, 3, stride, 1, h1, h2);  // 3x3, the stride (V1.5)
      macs += conv_macs(stage.width, out_channels, 1, 1, 0, h2, unused);  // 1x1 expand
      if (b == 0) macs += conv_macs(in, out_channels, 1, stride, 0, h, unused);  // the projection shortcut
      in = out_channels;
      h = h2;
    }
  }
  return 2.0 * macs;
}

}  // namespace rosetta
