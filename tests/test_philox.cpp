// Philox4x32-10 against the published Random123 known-answer vectors (kat_vectors, "philox4x32 10" lines),
// the stream addressing, and bit-identity of the host and device implementations.
#include <gtest/gtest.h>

#include <set>

#include "kernels/elementwise.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

struct KnownAnswer {
  Philox4 counter;
  std::uint32_t key0, key1;
  Philox4 expected;
};

TEST(Philox, MatchesRandom123KnownAnswers) {
  const KnownAnswer cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const KnownAnswer& c : cases) {
    const Philox4 out = philox4x32_10(c.counter, c.key0, c.key1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.w[i], c.expected.w[i]) << "word " << i;
  }
}

TEST(Philox, StreamAddressingUsesEveryWordOfABlock) {
  const std::uint64_t seed = 0x0123456789abcdefULL;
  const Philox4 block = philox4x32_10(Philox4{{5, 0, 3, 0}}, 0x89abcdefu, 0x01234567u);
  for (int w = 0; w < 4; ++w) EXPECT_EQ(philox_u32(seed, 3, 20 + w), block.w[w]);
}

TEST(Philox, UniformIsInUnitIntervalAndStreamsDiffer) {
  std::set<float> seen;
  for (std::uint64_t i = 0; i < 4096; ++i) {
    const float u = philox_uniform(42, 0, i);
    EXPECT_GE(u, 0.0f);
    EXPECT_LT(u, 1.0f);
    seen.insert(u);
  }
  EXPECT_GT(seen.size(), 4000u);  // 24-bit values: collisions among 4096 draws are rare (expected ~0.5)
  EXPECT_NE(philox_u32(42, 0, 0), philox_u32(42, 1, 0));
  EXPECT_NE(philox_u32(42, 0, 0), philox_u32(43, 0, 0));
}

#if ROSETTA_WITH_CUDA  // the CUDA twins exist only in CUDA builds
TEST(Philox, DeviceDropoutMaskIsBitIdenticalToHost) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t n = 100003;  // not a multiple of 4 or of the block size
  Context& cpu = Context::cpu();
  Context& gpu = Context::cuda();
  Tensor x = Tensor::empty({n}, DType::f32);
  kernels::cpu::fill(cpu, x.data<float>(), 1.0f, n);
  Tensor y = Tensor::empty({n}, DType::f32), mask = Tensor::empty({n}, DType::f32);
  Tensor step = Tensor::zeros({1}, DType::u64);
  step.data<std::uint64_t>()[0] = 17;
  kernels::cpu::dropout_forward(cpu, x.data<float>(), y.data<float>(), mask.data<float>(), 0.25f, 99, 5,
                                step.data<std::uint64_t>(), 0, n);
  Tensor xd = x.to(Device::cuda), stepd = step.to(Device::cuda);
  Tensor yd = Tensor::empty({n}, DType::f32, Device::cuda), maskd = Tensor::empty({n}, DType::f32, Device::cuda);
  kernels::cuda::dropout_forward(gpu, xd.data<float>(), yd.data<float>(), maskd.data<float>(), 0.25f, 99, 5,
                                 stepd.data<std::uint64_t>(), 0, n);
  gpu.synchronize();
  EXPECT_EQ(maskd.to_vector(), mask.to_vector());
  EXPECT_EQ(yd.to_vector(), y.to_vector());
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
