// Seeded permutations from Philox, the one random source: the batcher's per-epoch shuffle and the synthetic
// sets' label order. The algorithm is fully specified here so a peer (numpy, JAX) can reproduce it exactly.
//
// Bounded draws are exact (no modulo bias): Lemire's multiply-and-reject ("Fast random integer generation in
// an interval", 2019). With x the next 32-bit Philox word and m = x * bound (64-bit), the draw is m >> 32,
// accepted unless (m mod 2^32) < (2^32 mod bound); a rejected draw takes the next word. Words are read in
// order i = 0, 1, 2, ... of philox_u32(seed, stream, i), so a rejection shifts every later draw by one word.
//
// Fisher-Yates: for i = n-1 down to 1: j = below(i + 1); swap(items[i], items[j]).
#pragma once
#include <cstdint>

#include "runtime/philox.h"

namespace rosetta {

// Philox stream ids: the 'use' word (high half of philox_step_stream) of each random draw in datasets/.
// They are ASCII tags, far from the small layer numbers that dropout uses.
constexpr std::uint32_t kShuffleUse = 0x73687566u;          // "shuf": low word = epoch
constexpr std::uint32_t kSyntheticPrototypeUse = 0x73796e50u;  // "synP": low word 0
constexpr std::uint32_t kSyntheticLabelUse = 0x73796e4cu;      // "synL": low word = split (0 train, 1 test)
constexpr std::uint32_t kSyntheticNoiseUse = 0x73796e4eu;      // "synN": low word = split (0 train, 1 test)
constexpr std::uint32_t kSyntheticFlipUse = 0x73796e46u;       // "synF": low word = split (0 train, 1 test)
constexpr std::uint32_t kSyntheticTextWordsUse = 0x74787457u;  // "txtW": low word 0
constexpr std::uint32_t kSyntheticTextLabelUse = 0x7478744cu;  // "txtL": low word = split (0 train, 1 test)
constexpr std::uint32_t kSyntheticTextTokenUse = 0x74787454u;  // "txtT": low word = split (0 train, 1 test)

// Reads the words of one Philox stream in order.
class PhiloxWords {
 public:
  PhiloxWords(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}

  std::uint32_t next() { return philox_u32(seed_, stream_, index_++); }

  // Uniform in [0, bound), bound >= 1, by Lemire's multiply-and-reject (exact).
  std::uint32_t below(std::uint32_t bound) {
    std::uint64_t m = static_cast<std::uint64_t>(next()) * bound;
    if (static_cast<std::uint32_t>(m) < bound) {
      const std::uint32_t threshold = (0u - bound) % bound;  // 2^32 mod bound
      while (static_cast<std::uint32_t>(m) < threshold) m = static_cast<std::uint64_t>(next()) * bound;
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

  std::uint64_t words_used() const { return index_; }

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::uint64_t index_ = 0;
};

// Permutes items[0, n) in place by the Fisher-Yates shuffle above. n < 2^32.
void philox_shuffle(std::int64_t* items, std::int64_t n, std::uint64_t seed, std::uint64_t stream);

}  // namespace rosetta
