// Fuzz target: the whole imdb.npz reader (datasets/imdb.h): zip, .npy, pickle and the preprocessing, on one
// archive. See fuzz/fuzz_input.h for what is checked.
#include "datasets/imdb.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const rosetta::fuzz::InputPath input(".npz");
  const std::string& path = input.write(data, size);
  rosetta::fuzz::expect_clean(path, [&] { rosetta::read_imdb(path); });
  return 0;
}
