// CPU twin of BatchNorm2d inference (kernels/batchnorm.inc): the plain loop that defines the op. Each product and
// sum is a separate float operation in the order the .inc states (the build is ISO C++17, under which GCC does not
// contract a * b + c into a fused multiply-add).
#include "kernels/batchnorm.h"
#include "kernels/layout.h"

#include <cmath>

#include "runtime/error.h"

namespace rosetta::kernels::cpu {

void batchnorm_inference_forward(const Context&, const float* x, float* y, const float* gamma, const float* beta,
                                 const float* mean, const float* var, float eps, std::int64_t outer,
                                 std::int64_t channels, std::int64_t inner) {
  check_channel_view("batchnorm_inference_forward", outer, channels, inner);
  for (std::int64_t c = 0; c < channels; ++c) {
    const float inv_std = 1.0f / std::sqrt(var[c] + eps);
    for (std::int64_t o = 0; o < outer; ++o) {
      const std::int64_t base = (o * channels + c) * inner;
      for (std::int64_t i = 0; i < inner; ++i) {
        const float centred = x[base + i] - mean[c];
        const float scaled = centred * inv_std;
        const float product = scaled * gamma[c];
        y[base + i] = product + beta[c];
      }
    }
  }
}

}  // namespace rosetta::kernels::cpu
