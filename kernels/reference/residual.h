// The bottleneck epilogue of one element (kernels/residual.inc), shared by host and device so both twins apply the
// same float operations in the same order: v = (y + z) + bias, then ReLU. An absent residual or bias is passed as 0
// (which changes nothing but the sign of a zero). Each addition rounds on its own: there is no product to contract.
#pragma once
#include "runtime/host_device.h"

namespace rosetta::kernels::reference {

ROSETTA_HD float bias_residual_activation(float y, float z, float bias, bool relu) {
  const float v = (y + z) + bias;
  return relu && v < 0.0f ? 0.0f : v;  // NaN passes
}

}  // namespace rosetta::kernels::reference
