// Fuzz target: the GRU algorithm cache file (kernels/gru_algorithm_cache_file.h) on one file's text. See
// fuzz/fuzz_input.h for what is checked.
#include <string>

#include "fuzz/fuzz_input.h"
#include "kernels/gru_algorithm_cache_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rosetta::fuzz::expect_clean("fuzz.json", [&] { rosetta::kernels::parse_gru_cache_text(text, "fuzz.json"); });
  return 0;
}
