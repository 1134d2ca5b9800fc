// Fuzz target: the safetensors reader (runtime/safetensors.h) on one file: open, then read every tensor rosetta
// can hold. See fuzz/fuzz_input.h for what is checked.
#include "fuzz/fuzz_input.h"
#include "runtime/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const rosetta::fuzz::InputPath input(".safetensors");
  const std::string& path = input.write(data, size);
  rosetta::fuzz::expect_clean(path, [&] {
    const rosetta::SafetensorsFile file = rosetta::SafetensorsFile::open(path);
    for (const rosetta::SafetensorsEntry& entry : file.entries())
      if (entry.dtype) file.read(entry.name);
  });
  return 0;
}
