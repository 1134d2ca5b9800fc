// A learnable synthetic stand-in for CIFAR-10: the same shapes and representation as the real reader (u8 pixels
// (N, 3, 32, 32) decoded per batch to x / 255, int32 labels), generated deterministically from a seed.
//
// Each class has a smooth prototype image: per channel a 4x4 grid of Philox uniforms in [0, 1), bilinearly
// upsampled (corner-aligned) to H x W. An example of class c is prototype_c + noise, with independent uniform
// noise in (-noise, +noise) per pixel, rounded to the nearest byte of 255 * value and clamped to [0, 255].
// Labels are balanced: i % num_classes for i < N, permuted by philox_shuffle. Low-frequency prototypes survive
// pooling, so a CNN's loss falls within the first epoch and test accuracy goes far above chance.
//
// Label noise, so the task is not trivially solved (loss to 0, accuracy 100%) and accuracy means something: after
// the image of example i is drawn from its class, its stored label is redrawn uniformly from all classes when
// philox_uniform(seed, flip stream, 2 i) < label_noise, the class being philox_u32(seed, flip stream, 2 i + 1) %
// num_classes (a redraw may land on the true class). No classifier can then beat 1 - label_noise * (1 - 1/K)
// on the test split: 77.5% with the defaults, CIFAR-10's ballpark for this CNN.
//
// Random streams (see shuffle.h): prototypes philox_step_stream(kSyntheticPrototypeUse, 0), shared by both
// splits; labels, noise and label flips philox_step_stream(kSynthetic{Label,Noise,Flip}Use, split) with split
// 0 train, 1 test.
// Noise byte k of the split (k = example * C*H*W + pixel) is byte k % 4 of philox_u32(seed, stream, k / 4).
#pragma once
#include <cstdint>

#include "datasets/dataset.h"

namespace rosetta {

struct SyntheticImagesOptions {
  std::int64_t train_examples = 50000;  // CIFAR-10's sizes by default; small values for CPU runs
  std::int64_t test_examples = 10000;
  std::int64_t channels = 3;
  std::int64_t height = 32;
  std::int64_t width = 32;
  int num_classes = 10;
  float noise = 0.35f;        // half-width of the uniform per-pixel noise, in units of the [0, 1] pixel range
  float label_noise = 0.25f;  // fraction of stored labels redrawn uniformly (above)
  std::uint64_t seed = 0;
};

// Both splits; train and test share the prototypes and draw labels and noise from their own streams.
DatasetSplits synthetic_images(const SyntheticImagesOptions& options);

// The prototype of every class as f32 in [0, 1]: (num_classes, channels, height, width). For tests.
Tensor synthetic_prototypes(const SyntheticImagesOptions& options);

}  // namespace rosetta
