// Fuzz target: the CIFAR-10 record decoder (datasets/cifar10.h). The first byte says how many records (0-3) the
// rest should hold, so the size check and the label checks both see inputs that pass and fail them; a whole
// file's 30.7 MB is beyond any fuzzer's inputs, and the file reader adds only the size check before this decoder.
// See fuzz/fuzz_input.h for what is checked.
#include <vector>

#include "datasets/cifar10.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::int64_t records = data[0] % 4;
  std::vector<std::int32_t> labels(static_cast<std::size_t>(records));
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(records * rosetta::kCifar10ImageBytes));
  rosetta::fuzz::expect_clean("fuzz.bin", [&] {
    rosetta::decode_cifar10_records(data + 1, size - 1, records, "fuzz.bin", labels.data(), pixels.data());
  });
  return 0;
}
