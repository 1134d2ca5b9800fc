// The 16-bit float element types: bf16 (bfloat16: float's 8-bit exponent, 7 stored mantissa bits) and f16 (IEEE
// binary16). Each is 2 bytes, trivially copyable and usable in host and device code, so a tensor of them is
// `Tensor::data<bf16>()` (checked against the tensor's DType) and a kernel templated on its storage type reads
// and writes them like float.
//
// Conversions are bit-exact and the same on host and device: to float exactly (implicit, it loses nothing); from
// float by round to nearest even (explicit, it rounds), with NaN kept NaN (quiet) and overflow to infinity.
// The raw bits are the public member `bits`, for I/O and tests.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "runtime/host_device.h"

namespace rosetta {

ROSETTA_HD std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

ROSETTA_HD float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

ROSETTA_HD std::uint16_t f32_to_bf16_bits(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

ROSETTA_HD float bf16_bits_to_f32(std::uint16_t h) { return bits_float(static_cast<std::uint32_t>(h) << 16); }

ROSETTA_HD std::uint16_t f32_to_f16_bits(float f) {
  const std::uint32_t u = float_bits(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Subnormal f16 (or zero): value = m * 2^-24 with m rounded to nearest even.
    const std::uint32_t exponent = abs >> 23;
    if (exponent < 102) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
    const std::uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;  // 14..24
    const std::uint32_t half = 1u << (shift - 1);
    const std::uint32_t rest = mantissa & ((1u << shift) - 1);
    std::uint32_t m = mantissa >> shift;
    if (rest > half || (rest == half && (m & 1u))) ++m;
    return static_cast<std::uint16_t>(sign | m);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
  const std::uint32_t rebased = abs - (112u << 23);
  const std::uint32_t rounded = rebased + 0xfffu + ((rebased >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

ROSETTA_HD float f16_bits_to_f32(std::uint16_t h) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  if (exponent == 0) {
    // Zero or subnormal: exact as a float product.
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

struct bf16 {
  std::uint16_t bits;

  bf16() = default;
  ROSETTA_HD explicit bf16(float value) : bits(f32_to_bf16_bits(value)) {}
  ROSETTA_HD operator float() const { return bf16_bits_to_f32(bits); }
  ROSETTA_HD static bf16 from_bits(std::uint16_t bits) {
    bf16 b;
    b.bits = bits;
    return b;
  }
};

struct f16 {
  std::uint16_t bits;

  f16() = default;
  ROSETTA_HD explicit f16(float value) : bits(f32_to_f16_bits(value)) {}
  ROSETTA_HD operator float() const { return f16_bits_to_f32(bits); }
  ROSETTA_HD static f16 from_bits(std::uint16_t bits) {
    f16 h;
    h.bits = bits;
    return h;
  }
};

static_assert(sizeof(bf16) == 2 && std::is_trivially_copyable_v<bf16> && std::is_trivially_default_constructible_v<bf16>,
              "bf16 is two bytes a tensor can hold and a kernel can copy");
static_assert(sizeof(f16) == 2 && std::is_trivially_copyable_v<f16> && std::is_trivially_default_constructible_v<f16>,
              "f16 is two bytes a tensor can hold and a kernel can copy");

// The arithmetic type of a storage type: 16-bit floats compute in float, float and double in themselves.
template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<bf16> {
  using type = float;
};
template <>
struct ComputeType<f16> {
  using type = float;
};
template <typename T>
using compute_t = typename ComputeType<T>::type;

}  // namespace rosetta
