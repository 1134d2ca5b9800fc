// CPU twin of the bottleneck epilogue (kernels/residual.inc): the plain loop that defines the op.
#include "kernels/residual.h"

#include "kernels/half.h"
#include "runtime/error.h"

namespace rosetta::kernels::cpu {
namespace {
template <typename T>
void epilogue(T* y, const float* bias, const T* z, bool relu, std::int64_t outer, std::int64_t channels,
              std::int64_t inner) {
  ROSETTA_CHECK(outer >= 0 && channels > 0 && inner > 0,
                "bias/residual/activation of (" << outer << ", " << channels << ", " << inner << ")");
  const std::int64_t n = outer * channels * inner;
  for (std::int64_t i = 0; i < n; ++i) {
    float v = as_float(y[i]);
    if (bias) v += bias[(i / inner) % channels];
    if (z) v += as_float(z[i]);
    store_from_float(y + i, relu && v < 0.0f ? 0.0f : v);
  }
}

}  // namespace

void bias_residual_activation(const Context&, float* y, const float* bias, const float* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  epilogue(y, bias, z, relu, outer, channels, inner);
}

void bias_residual_activation_bf16(const Context&, std::uint16_t* y, const float* bias, const std::uint16_t* z,
                                   bool relu, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  epilogue(y, bias, z, relu, outer, channels, inner);
}

}  // namespace rosetta::kernels::cpu
