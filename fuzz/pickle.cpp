// Fuzz target: the restricted pickle reader (datasets/pickle.h) on one pickle, with its default caps. See
// fuzz/fuzz_input.h for what is checked.
#include "datasets/pickle.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rosetta::fuzz::expect_clean("fuzz.npy", [&] { rosetta::read_pickled_int_lists(data, size, "fuzz.npy", 0); });
  return 0;
}
