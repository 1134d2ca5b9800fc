// Synthetic CIFAR-shaped images: shapes, determinism for a seed, distinct splits and seeds, balanced labels,
// the documented pixel formula, and separability (a nearest-class-mean classifier is near perfect).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "datasets/shuffle.h"
#include "datasets/synthetic.h"

namespace rosetta {
namespace {

SyntheticImagesOptions small(std::uint64_t seed) {
  SyntheticImagesOptions o;
  o.train_examples = 2000;
  o.test_examples = 500;
  o.seed = seed;
  o.label_noise = 0.0f;  // exact labels for the tests below; LabelNoiseRedrawsTheDocumentedFraction covers it
  return o;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::equal(static_cast<const char*>(a.raw()),
                                                static_cast<const char*>(a.raw()) + a.nbytes(),
                                                static_cast<const char*>(b.raw()));
}

TEST(Synthetic, DefaultsAreCifarSized) {
  const SyntheticImagesOptions o;
  EXPECT_EQ(o.train_examples, 50000);
  EXPECT_EQ(o.test_examples, 10000);
  EXPECT_EQ(o.channels, 3);
  EXPECT_EQ(o.height, 32);
  EXPECT_EQ(o.width, 32);
  EXPECT_EQ(o.num_classes, 10);
}

TEST(Synthetic, ShapesMatchTheCifarReader) {
  const DatasetSplits s = synthetic_images(small(1));
  EXPECT_EQ(s.train.inputs.shape(), (Shape{2000, 3, 32, 32}));
  EXPECT_EQ(s.train.inputs.dtype(), DType::u8);
  EXPECT_EQ(s.train.labels.shape(), (Shape{2000}));
  EXPECT_EQ(s.train.labels.dtype(), DType::i32);
  EXPECT_EQ(s.test.inputs.shape(), (Shape{500, 3, 32, 32}));
  EXPECT_EQ(s.train.num_classes, 10);
  EXPECT_EQ(s.train.batch_dtype(), DType::f32);
  EXPECT_EQ(s.train.name, "synthetic train");
  EXPECT_EQ(s.test.name, "synthetic test");
  EXPECT_NO_THROW(s.train.validate());
  EXPECT_NO_THROW(s.test.validate());
}

TEST(Synthetic, DeterministicForASeed) {
  const DatasetSplits a = synthetic_images(small(7)), b = synthetic_images(small(7)), c = synthetic_images(small(8));
  EXPECT_TRUE(same_bytes(a.train.inputs, b.train.inputs));
  EXPECT_TRUE(same_bytes(a.train.labels, b.train.labels));
  EXPECT_TRUE(same_bytes(a.test.inputs, b.test.inputs));
  EXPECT_TRUE(same_bytes(a.test.labels, b.test.labels));
  EXPECT_FALSE(same_bytes(a.train.inputs, c.train.inputs));
  EXPECT_FALSE(same_bytes(a.train.labels, c.train.labels));
  // A split does not depend on the other split's size: its streams are its own.
  SyntheticImagesOptions more_test = small(7);
  more_test.test_examples = 700;
  EXPECT_TRUE(same_bytes(synthetic_images(more_test).train.inputs, a.train.inputs));
}

TEST(Synthetic, TrainAndTestDrawDifferentNoise) {
  SyntheticImagesOptions o = small(3);
  o.test_examples = o.train_examples;
  const DatasetSplits s = synthetic_images(o);
  EXPECT_FALSE(same_bytes(s.train.inputs, s.test.inputs));
  EXPECT_FALSE(same_bytes(s.train.labels, s.test.labels));
}

TEST(Synthetic, LabelsAreBalanced) {
  SyntheticImagesOptions o = small(5);
  o.train_examples = 2003;  // not a multiple of 10: counts differ by at most one
  const DatasetSplits s = synthetic_images(o);
  for (const Dataset* d : {&s.train, &s.test}) {
    std::vector<std::int64_t> count(10, 0);
    for (std::int64_t i = 0; i < d->size(); ++i) ++count[d->labels.data<std::int32_t>()[i]];
    const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
    EXPECT_LE(*hi - *lo, 1) << d->name;
    EXPECT_EQ(*lo, d->size() / 10) << d->name;
  }
  // ... and not in a cyclic order: the first 10 labels are not 0..9.
  std::vector<std::int32_t> first(s.train.labels.data<std::int32_t>(), s.train.labels.data<std::int32_t>() + 10);
  EXPECT_NE(first, (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Synthetic, PixelsFollowTheDocumentedFormula) {
  const SyntheticImagesOptions o = small(11);
  const DatasetSplits s = synthetic_images(o);
  const Tensor prototypes = synthetic_prototypes(o);
  ASSERT_EQ(prototypes.shape(), (Shape{10, 3, 32, 32}));
  const std::int64_t pixels = 3 * 32 * 32;
  const std::uint64_t stream = philox_step_stream(kSyntheticNoiseUse, 1);  // the test split
  for (std::int64_t i : {0, 1, 499}) {
    const std::int32_t label = s.test.labels.data<std::int32_t>()[i];
    for (std::int64_t j : {std::int64_t{0}, std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, std::int64_t{1500},
                           pixels - 1}) {
      const std::uint64_t k = static_cast<std::uint64_t>(i * pixels + j);
      const std::uint32_t byte = (philox_u32(o.seed, stream, k / 4) >> (8 * (k % 4))) & 0xffu;
      const float value = prototypes.data<float>()[label * pixels + j] +
                          o.noise * ((static_cast<float>(byte) + 0.5f) / 128.0f - 1.0f);
      const long expected = std::clamp(std::lround(255.0f * value), 0L, 255L);
      EXPECT_EQ(s.test.inputs.data<std::uint8_t>()[k], expected) << "example " << i << " pixel " << j;
    }
  }
  // Prototypes are smooth (bilinear over a 4x4 grid: neighbours differ by at most 1/10 of the range per step,
  // since a grid cell spans 31/3 pixels and control values lie in [0, 1)) and lie in [0, 1].
  const float* p = prototypes.data<float>();
  for (std::int64_t e = 0; e < prototypes.numel(); ++e) {
    ASSERT_GE(p[e], 0.0f);
    ASSERT_LE(p[e], 1.0f);
    if (e % 32 != 31) {
      ASSERT_LE(std::abs(p[e + 1] - p[e]), 3.0f / 31.0f + 1e-6f) << e;
    }
  }
}

// Nearest class mean, means taken over the train split, evaluated on the test split. Each pixel's noise has
// standard deviation 0.35 / sqrt(3) ~ 0.2 while prototypes of two classes differ by ~0.3 per pixel on average,
// over 3072 pixels, so the margin is dozens of noise standard deviations: anything below 99% is a bug, while
// chance is 10%.
TEST(Synthetic, ClassesAreSeparable) {
  const DatasetSplits s = synthetic_images(small(2));
  const std::int64_t pixels = 3 * 32 * 32;
  std::vector<double> mean(10 * pixels, 0.0);
  std::vector<std::int64_t> count(10, 0);
  for (std::int64_t i = 0; i < s.train.size(); ++i) {
    const std::int32_t c = s.train.labels.data<std::int32_t>()[i];
    ++count[c];
    const std::uint8_t* x = s.train.inputs.data<std::uint8_t>() + i * pixels;
    for (std::int64_t j = 0; j < pixels; ++j) mean[c * pixels + j] += x[j];
  }
  for (int c = 0; c < 10; ++c)
    for (std::int64_t j = 0; j < pixels; ++j) mean[c * pixels + j] /= static_cast<double>(count[c]);
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < s.test.size(); ++i) {
    int best = -1;
    double best_distance = 0.0;
    for (int c = 0; c < 10; ++c) {
      double distance = 0.0;
      for (std::int64_t j = 0; j < pixels; ++j) {
        const double d = s.test.inputs.data<std::uint8_t>()[i * pixels + j] - mean[c * pixels + j];
        distance += d * d;
      }
      if (best < 0 || distance < best_distance) {
        best = c;
        best_distance = distance;
      }
    }
    correct += best == s.test.labels.data<std::int32_t>()[i];
  }
  EXPECT_GE(static_cast<double>(correct) / static_cast<double>(s.test.size()), 0.99);
  // Yet examples are not copies of their prototype: two examples of one class differ.
  std::int64_t first = -1, second = -1;
  for (std::int64_t i = 0; i < s.train.size() && second < 0; ++i) {
    if (s.train.labels.data<std::int32_t>()[i] != 0) continue;
    (first < 0 ? first : second) = i;
  }
  ASSERT_GE(second, 0);
  EXPECT_FALSE(std::equal(s.train.inputs.data<std::uint8_t>() + first * pixels,
                          s.train.inputs.data<std::uint8_t>() + (first + 1) * pixels,
                          s.train.inputs.data<std::uint8_t>() + second * pixels));
}

TEST(Synthetic, LabelNoiseRedrawsTheDocumentedFraction) {
  SyntheticImagesOptions clean = small(21);
  SyntheticImagesOptions noisy = clean;
  noisy.label_noise = 0.25f;
  const DatasetSplits a = synthetic_images(clean), b = synthetic_images(noisy);
  EXPECT_TRUE(same_bytes(a.train.inputs, b.train.inputs)) << "label noise must not change the images";
  std::int64_t changed = 0;
  for (std::int64_t i = 0; i < a.train.size(); ++i)
    changed += a.train.labels.data<std::int32_t>()[i] != b.train.labels.data<std::int32_t>()[i];
  // Expected fraction 0.25 * 0.9 = 0.225 of 2000; the binomial standard deviation is ~9.3 examples, so +-5
  // standard deviations (+-47) is never crossed by chance.
  EXPECT_NEAR(double(changed), 0.225 * 2000, 47.0);
  EXPECT_EQ(SyntheticImagesOptions{}.label_noise, 0.25f);
}

TEST(Synthetic, RejectsBadOptions) {
  SyntheticImagesOptions o = small(0);
  o.num_classes = 1;
  EXPECT_THROW(synthetic_images(o), Error);
  o = small(0);
  o.train_examples = -1;
  EXPECT_THROW(synthetic_images(o), Error);
  o = small(0);
  o.noise = -0.1f;
  EXPECT_THROW(synthetic_images(o), Error);
}

}  // namespace
}  // namespace rosetta
