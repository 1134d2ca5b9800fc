// Philox4x32-10 (Salmon et al., SC'11; the Random123 reference): rosetta's one random source. The same inline
// function compiles for host and device, so a stream of numbers is bit-identical on CPU and GPU.
//
// Addressing: key = the 64-bit seed; counter = (block_lo, block_hi, stream_lo, stream_hi), where block = i / 4
// and element i is word i % 4 of that block. A 64-bit stream id separates every use (weight init per tensor,
// each dropout layer at each step, shuffles), so no two uses ever draw the same numbers.
#pragma once
#include <cstdint>

#include "runtime/host_device.h"

namespace rosetta {

struct Philox4 {
  std::uint32_t w[4];
};

ROSETTA_HD Philox4 philox4x32_10(Philox4 counter, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * counter.w[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * counter.w[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    counter = Philox4{{hi1 ^ counter.w[1] ^ key0, lo1, hi0 ^ counter.w[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// Word `i` of stream `stream` under `seed`.
ROSETTA_HD std::uint32_t philox_u32(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const std::uint64_t block = i >> 2;
  const Philox4 out = philox4x32_10(
      Philox4{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
               static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}},
      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  return out.w[i & 3];
}

// Uniform in [0, 1) with 24 random bits: every value is an exact float.
ROSETTA_HD float philox_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  return static_cast<float>(philox_u32(seed, stream, i) >> 8) * (1.0f / 16777216.0f);
}

// The stream id of a per-step use: `use` (a layer's number) in the high word, the step in the low word.
ROSETTA_HD std::uint64_t philox_step_stream(std::uint32_t use, std::uint64_t step) {
  return (static_cast<std::uint64_t>(use) << 32) | (step & 0xffffffffu);
}

}  // namespace rosetta
