// ResNet-50 feature extraction in tests, shared by the CLI test and the twins' equivalence tests: seeded images
// written as an --input file, the "features" tensor of a --features-out file, and the one error measure.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/philox.h"
#include "runtime/safetensors.h"

namespace rosetta::testing {

inline std::vector<float> read_features(const std::string& path) {
  return SafetensorsFile::open(path).read("features").to_vector();
}

// max |a - b| / ||b||: the error relative to the feature vector's scale (features are non-negative averages of
// ReLU outputs; many are near 0, so an element-wise relative bound would be meaningless there).
inline double relative_max_error(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(double(a[i]) - b[i]));
    norm += double(b[i]) * b[i];
  }
  return worst / std::sqrt(norm);
}

// n images of 3 x size x size, uniform in [0, 1) from Philox, as the safetensors file --input reads.
inline void write_images(const std::string& path, std::int64_t n, std::int64_t size) {
  Tensor images = Tensor::empty({n, 3, size, size}, DType::f32);
  for (std::int64_t i = 0; i < images.numel(); ++i)
    images.data<float>()[i] = philox_uniform(17, 3, static_cast<std::uint64_t>(i));
  write_safetensors(path, {{"images", images}});
}

}  // namespace rosetta::testing
