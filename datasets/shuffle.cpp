// Fisher-Yates over Philox words, as specified in shuffle.h.
#include "datasets/shuffle.h"

#include <utility>

#include "runtime/error.h"

namespace rosetta {

void philox_shuffle(std::int64_t* items, std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  ROSETTA_CHECK(n >= 0 && n < (std::int64_t{1} << 32), "cannot shuffle " << n << " items (fewer than 2^32 only)");
  PhiloxWords words(seed, stream);
  for (std::int64_t i = n - 1; i >= 1; --i) {
    const std::int64_t j = words.below(static_cast<std::uint32_t>(i + 1));
    std::swap(items[i], items[j]);
  }
}

}  // namespace rosetta
