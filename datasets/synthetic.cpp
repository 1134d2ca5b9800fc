// Synthetic CIFAR-shaped images: smooth per-class prototypes plus per-pixel noise, as specified in synthetic.h.
#include "datasets/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "datasets/shuffle.h"
#include "runtime/philox.h"

namespace rosetta {
namespace {

constexpr int kGrid = 4;  // prototype control points per side

void check_options(const SyntheticImagesOptions& o) {
  ROSETTA_CHECK(o.train_examples >= 0 && o.test_examples >= 0,
                "synthetic sizes must be >= 0, got " << o.train_examples << " and " << o.test_examples);
  ROSETTA_CHECK(o.channels >= 1 && o.height >= 1 && o.width >= 1,
                "synthetic image shape must be positive, got (" << o.channels << ", " << o.height << ", "
                                                                << o.width << ")");
  ROSETTA_CHECK(o.num_classes >= 2, "synthetic sets need at least 2 classes, got " << o.num_classes);
  ROSETTA_CHECK(o.noise >= 0.0f, "synthetic noise must be >= 0, got " << o.noise);
  ROSETTA_CHECK(o.label_noise >= 0.0f && o.label_noise <= 1.0f,
                "synthetic label noise must be in [0, 1], got " << o.label_noise);
}

// Corner-aligned position of output index i of `size` on the control grid: (cell, fraction within it).
void grid_position(std::int64_t i, std::int64_t size, int* cell, float* fraction) {
  const float g = size == 1 ? 0.0f : static_cast<float>(i) * (kGrid - 1) / static_cast<float>(size - 1);
  *cell = std::min(static_cast<int>(g), kGrid - 2);
  *fraction = g - static_cast<float>(*cell);
}

Dataset make_split(const SyntheticImagesOptions& o, const Tensor& prototypes, std::int64_t n, std::uint64_t split,
                   const char* name) {
  const std::int64_t pixels = o.channels * o.height * o.width;
  Dataset data;
  data.name = name;
  data.num_classes = o.num_classes;
  data.inputs = Tensor::empty({n, o.channels, o.height, o.width}, DType::u8);  // (N, C, H, W)
  data.labels = Tensor::empty({n}, DType::i32);                                // (N,)

  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  philox_shuffle(order.data(), n, o.seed, philox_step_stream(kSyntheticLabelUse, split));
  std::int32_t* labels = data.labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) labels[i] = static_cast<std::int32_t>(order[i] % o.num_classes);

  const std::uint64_t noise_stream = philox_step_stream(kSyntheticNoiseUse, split);
  const float* prototype = prototypes.data<float>();
  std::uint8_t* out = data.inputs.data<std::uint8_t>();
  std::uint32_t word = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* p = prototype + labels[i] * pixels;
    for (std::int64_t j = 0; j < pixels; ++j) {
      const std::uint64_t k = static_cast<std::uint64_t>(i * pixels + j);
      if ((k & 3) == 0) word = philox_u32(o.seed, noise_stream, k >> 2);
      const float byte = static_cast<float>((word >> (8 * (k & 3))) & 0xffu);
      const float value = p[j] + o.noise * ((byte + 0.5f) / 128.0f - 1.0f);  // noise in (-noise, +noise)
      out[k] = static_cast<std::uint8_t>(std::clamp(std::lround(255.0f * value), 0L, 255L));
    }
  }

  const std::uint64_t flip_stream = philox_step_stream(kSyntheticFlipUse, split);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t draw = 2 * static_cast<std::uint64_t>(i);
    if (philox_uniform(o.seed, flip_stream, draw) < o.label_noise) {
      labels[i] = static_cast<std::int32_t>(philox_u32(o.seed, flip_stream, draw + 1) %
                                            static_cast<std::uint32_t>(o.num_classes));
    }
  }
  return data;
}

}  // namespace

Tensor synthetic_prototypes(const SyntheticImagesOptions& o) {
  check_options(o);
  const std::uint64_t stream = philox_step_stream(kSyntheticPrototypeUse, 0);
  Tensor prototypes = Tensor::empty({o.num_classes, o.channels, o.height, o.width}, DType::f32);  // (K, C, H, W)
  float* out = prototypes.data<float>();
  for (std::int64_t plane = 0; plane < o.num_classes * o.channels; ++plane) {
    float grid[kGrid][kGrid];
    for (int gy = 0; gy < kGrid; ++gy)
      for (int gx = 0; gx < kGrid; ++gx)
        grid[gy][gx] = philox_uniform(o.seed, stream, static_cast<std::uint64_t>((plane * kGrid + gy) * kGrid + gx));
    for (std::int64_t y = 0; y < o.height; ++y) {
      int cy;
      float ty;
      grid_position(y, o.height, &cy, &ty);
      for (std::int64_t x = 0; x < o.width; ++x) {
        int cx;
        float tx;
        grid_position(x, o.width, &cx, &tx);
        const float top = grid[cy][cx] + tx * (grid[cy][cx + 1] - grid[cy][cx]);
        const float bottom = grid[cy + 1][cx] + tx * (grid[cy + 1][cx + 1] - grid[cy + 1][cx]);
        out[(plane * o.height + y) * o.width + x] = top + ty * (bottom - top);
      }
    }
  }
  return prototypes;
}

DatasetSplits synthetic_images(const SyntheticImagesOptions& options) {
  const Tensor prototypes = synthetic_prototypes(options);
  return {make_split(options, prototypes, options.train_examples, 0, "synthetic train"),
          make_split(options, prototypes, options.test_examples, 1, "synthetic test")};
}

}  // namespace rosetta
