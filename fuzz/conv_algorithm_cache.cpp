// Fuzz target: the convolution algorithm cache file (kernels/conv_algorithm_cache_file.h) on one file's text,
// read for the identity the seeds are written under. See fuzz/fuzz_input.h for what is checked.
#include <string>

#include "fuzz/fuzz_input.h"
#include "fuzz/seeds.h"
#include "kernels/conv_algorithm_cache_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rosetta::fuzz::expect_clean("fuzz.json", [&] {
    rosetta::kernels::parse_conv_cache_text(text, "fuzz.json", rosetta::fuzz::kSeedCacheIdentity);
  });
  return 0;
}
