// CPU twin of the bottleneck epilogue (kernels/residual.inc): one pass over y with the reference's element rule.
#include "kernels/residual.h"

#include "kernels/layout.h"
#include "kernels/reference/residual.h"

namespace rosetta::kernels::cpu {
namespace {

template <typename T>
void epilogue(T* y, const T* bias, const T* z, bool relu, std::int64_t outer, std::int64_t channels,
              std::int64_t inner) {
  check_channel_view("bias_residual_activation", outer, channels, inner);
  const std::int64_t n = outer * channels * inner;
  for (std::int64_t i = 0; i < n; ++i) {
    const float b = bias ? float(bias[(i / inner) % channels]) : 0.0f;
    y[i] = T(reference::bias_residual_activation(float(y[i]), z ? float(z[i]) : 0.0f, b, relu));
  }
}

}  // namespace

void bias_residual_activation(const Context&, float* y, const float* bias, const float* z, bool relu,
                              std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  epilogue(y, bias, z, relu, outer, channels, inner);
}

void bias_residual_activation(const Context&, bf16* y, const bf16* bias, const bf16* z, bool relu, std::int64_t outer,
                              std::int64_t channels, std::int64_t inner) {
  epilogue(y, bias, z, relu, outer, channels, inner);
}

}  // namespace rosetta::kernels::cpu
