// CPU twin of the bottleneck epilogue (kernels/residual.inc): the plain loop that defines the op.
#include "kernels/residual.h"

#include "runtime/error.h"

namespace rosetta::kernels::cpu {

void bias_residual_activation(const Context&, float* y, const float* bias, const float* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  ROSETTA_CHECK(outer >= 0 && channels > 0 && inner > 0,
                "bias/residual/activation of (" << outer << ", " << channels << ", " << inner << ")");
  const std::int64_t n = outer * channels * inner;
  for (std::int64_t i = 0; i < n; ++i) {
    float v = y[i];
    if (bias) v += bias[(i / inner) % channels];
    if (z) v += z[i];
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

}  // namespace rosetta::kernels::cpu
