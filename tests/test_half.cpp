// The 16-bit float types (runtime/half.h): bf16 and f16 round to nearest even, keep NaN, overflow f16 to infinity,
// survive a round trip through float; they are what a tensor of their DType holds (data<bf16>() is checked); and the
// conversion kernel (kernels/elementwise.h convert) is the types' own conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/elementwise.h"
#include "runtime/half.h"
#include "runtime/tensor.h"

namespace rosetta {
namespace {

TEST(Half, ConversionsRoundToNearestEven) {
  // bf16: 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7 -> even (1). 1 + 3 * 2^-8 -> 1 + 2^-6.
  EXPECT_EQ(f32_to_bf16_bits(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(f32_to_bf16_bits(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(bf16_bits_to_f32(0x3f80), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
  // f16: exact values, max finite, overflow to inf, smallest subnormal, halfway ties.
  EXPECT_EQ(f32_to_f16_bits(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16_bits(-2.5f), 0xc100);
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);         // tie -> even (0)
  EXPECT_EQ(f32_to_f16_bits(3 * std::ldexp(1.0f, -25)), 0x0002);     // 1.5 ulp -> tie -> even (2)
  EXPECT_EQ(f32_to_f16_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(f16_bits_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_bits_to_f32(0x7bff), 65504.0f);
  // Every f16 and bf16 value survives a round trip through float unchanged (NaN payloads aside).
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) != 0x7c00 || (h & 0x3ff) == 0) {
      ASSERT_EQ(f32_to_f16_bits(f16_bits_to_f32(std::uint16_t(h))), h) << "f16 bits " << h;
    }
    if ((h & 0x7f80) != 0x7f80 || (h & 0x7f) == 0) {
      ASSERT_EQ(f32_to_bf16_bits(bf16_bits_to_f32(std::uint16_t(h))), h) << "bf16 bits " << h;
    }
  }
}

TEST(Half, TypesAreTheirBitsAndConvertLikeTheFunctions) {
  static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2 && std::is_trivially_copyable_v<bf16> &&
                std::is_trivially_copyable_v<f16>);
  const float values[] = {0.0f, -0.0f, 1.0f, 1.0f + std::ldexp(1.0f, -8), 3.14159f, -65520.0f, 1e-8f,
                          std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  for (float v : values) {
    EXPECT_EQ(bf16(v).bits, f32_to_bf16_bits(v)) << v;
    EXPECT_EQ(f16(v).bits, f32_to_f16_bits(v)) << v;
    const float b = bf16(v), h = f16(v);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(b) && std::isnan(h));
    } else {
      EXPECT_EQ(b, bf16_bits_to_f32(f32_to_bf16_bits(v))) << v;
      EXPECT_EQ(h, f16_bits_to_f32(f32_to_f16_bits(v))) << v;
    }
  }
  EXPECT_EQ(bf16::from_bits(0x3f80).bits, 0x3f80);
  EXPECT_EQ(float(f16::from_bits(0x3c00)), 1.0f);
}

TEST(Half, TensorsCheckTheElementType) {
  const Tensor b = Tensor::empty({4}, DType::bf16), h = Tensor::empty({4}, DType::f16);
  EXPECT_NO_THROW(b.data<bf16>());
  EXPECT_NO_THROW(h.data<f16>());
  EXPECT_THROW(b.data<f16>(), Error);  // same size, other type: refused
  EXPECT_THROW(h.data<bf16>(), Error);
  EXPECT_THROW(b.data<float>(), Error);
}

TEST(Half, ConvertKernelIsTheTypesConversion) {
  const std::vector<float> x = {0.5f, 1.0f + std::ldexp(1.0f, -8), -70000.0f, 1e-8f, std::nanf("")};
  std::vector<bf16> b(x.size());
  std::vector<f16> h(x.size());
  std::vector<float> back(x.size());
  kernels::convert(Context::cpu(), x.data(), b.data(), 5);
  kernels::convert(Context::cpu(), x.data(), h.data(), 5);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(b[i].bits, bf16(x[i]).bits) << i;
    EXPECT_EQ(h[i].bits, f16(x[i]).bits) << i;
  }
  kernels::convert(Context::cpu(), b.data(), back.data(), 5);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) EXPECT_EQ(back[i], float(b[i])) << i;
  kernels::convert(Context::cpu(), h.data(), back.data(), 5);
  EXPECT_EQ(back[2], -std::numeric_limits<float>::infinity());  // beyond f16's range
}

}  // namespace
}  // namespace rosetta
