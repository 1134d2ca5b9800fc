// Weight initialisation from Philox, on the host, so a seed gives bit-identical weights on every device.
// Parameter i of a set draws from stream philox_step_stream(kInitUse, i).
#pragma once
#include <cstdint>

#include "layers/parameters.h"

namespace rosetta {

// The `use` word of initialisation draws (see runtime/philox.h).
constexpr std::uint32_t kInitUse = 1;

// Glorot (Xavier) uniform, as torch.nn.init.xavier_uniform_: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), with
// fan_in = shape[1] * receptive field and fan_out = shape[0] * receptive field (receptive field = product of
// shape[2:]). Writes parameter `index` of `params` (any device).
void glorot_uniform(ParameterSet& params, int index, std::uint64_t seed);
// U(-bound, bound), as torch.nn.init.uniform_ (PyTorch's default for GRU weights and Linear biases).
void uniform(ParameterSet& params, int index, float bound, std::uint64_t seed);
// N(0, std^2), as torch.nn.init.normal_ (PyTorch's default for Embedding weights). Box-Muller on Philox: element i
// takes u1 = philox_uniform(.., 2i) and u2 = philox_uniform(.., 2i + 1) and is std * sqrt(-2 ln(1 - u1)) *
// cos(2 pi u2), computed in double and rounded to float once (1 - u1 lies in (0, 1], so the logarithm is finite;
// the sine branch is not used, so every element depends only on its own index).
void normal(ParameterSet& params, int index, float std, std::uint64_t seed);
// Zeroes parameter `index` (biases under the seed's Glorot scheme).
void zero(ParameterSet& params, int index);

}  // namespace rosetta
