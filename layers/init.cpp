#include "layers/init.h"

#include <cmath>

#include "runtime/philox.h"

namespace rosetta {

void uniform(ParameterSet& params, int index, float bound, std::uint64_t seed) {
  Tensor target = params.value(index);
  Tensor host = Tensor::empty(target.shape(), DType::f32);
  float* p = host.data<float>();
  const std::uint64_t stream = philox_step_stream(kInitUse, static_cast<std::uint64_t>(index));
  for (std::int64_t i = 0; i < host.numel(); ++i)
    p[i] = (2.0f * philox_uniform(seed, stream, static_cast<std::uint64_t>(i)) - 1.0f) * bound;
  target.copy_from(host);
}

void normal(ParameterSet& params, int index, float std, std::uint64_t seed) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  Tensor target = params.value(index);
  Tensor host = Tensor::empty(target.shape(), DType::f32);
  float* p = host.data<float>();
  const std::uint64_t stream = philox_step_stream(kInitUse, static_cast<std::uint64_t>(index));
  for (std::int64_t i = 0; i < host.numel(); ++i) {
    const double u1 = philox_uniform(seed, stream, 2 * static_cast<std::uint64_t>(i));
    const double u2 = philox_uniform(seed, stream, 2 * static_cast<std::uint64_t>(i) + 1);
    p[i] = static_cast<float>(static_cast<double>(std) * std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(kTwoPi * u2));
  }
  target.copy_from(host);
}

void glorot_uniform(ParameterSet& params, int index, std::uint64_t seed) {
  const Shape& shape = params.shape(index);
  ROSETTA_CHECK(shape.rank() >= 2, "Glorot init of " << params.name(index) << " needs >= 2 dimensions, got " << shape.str());
  std::int64_t receptive = 1;
  for (int d = 2; d < shape.rank(); ++d) receptive *= shape[d];
  const double fan_in = double(shape[1] * receptive), fan_out = double(shape[0] * receptive);
  uniform(params, index, static_cast<float>(std::sqrt(6.0 / (fan_in + fan_out))), seed);
}

void zero(ParameterSet& params, int index) { params.value(index).zero(); }

}  // namespace rosetta
