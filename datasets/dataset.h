// Dataset: a labelled set of fixed-shape examples held in host memory, shared by every reader (CIFAR-10 binary,
// Keras imdb.npz, the synthetic stand-ins) and consumed by the Batcher.
// Invariants: `inputs` and `labels` are CPU tensors with the same leading dimension N; every label lies in
// [0, num_classes). Inputs are stored compactly and decoded per batch: u8 inputs are pixel bytes that a batch
// delivers as f32 x / 255 (the seed's preprocessing, correctly rounded float division); f32 and i32 inputs
// (values, token ids) are delivered unchanged.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/tensor.h"

namespace rosetta {

struct Dataset {
  std::string name;     // for messages: "cifar10 train", "synthetic test"
  Tensor inputs;        // (N, example dims...) on the CPU: u8 pixels, f32 values or i32 tokens
  Tensor labels;        // (N,) i32 on the CPU
  int num_classes = 0;

  std::int64_t size() const { return labels.defined() ? labels.dim(0) : 0; }
  // The shape of one example: inputs' shape without the leading N, e.g. (3, 32, 32).
  Shape example_shape() const;
  // The dtype a batch holds: f32 for u8 pixels, otherwise the inputs' own dtype.
  DType batch_dtype() const;
  // Checks the invariants above (shapes, devices, label range); throws Error naming the dataset.
  void validate() const;
};

// The first `count` examples of `data` (views of its tensors, no copy), named so: "cifar10 train (first 640)".
// count must lie in [1, data.size()].
Dataset first_examples(const Dataset& data, std::int64_t count);

struct DatasetSplits {
  Dataset train;
  Dataset test;
};

// The decoded value of one pixel byte: byte / 255 in f32 (exactly numpy's `x.astype(float32) / 255`).
inline float pixel_value(std::uint8_t byte) { return static_cast<float>(byte) / 255.0f; }

}  // namespace rosetta
