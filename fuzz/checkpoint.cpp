// Fuzz target: a training checkpoint (layers/training_checkpoint.h) loaded into a small run's state: its
// metadata (format, version, the options that must match, the step), then every tensor's name, dtype, shape and
// values (no non-finite value may be copied). See fuzz/fuzz_input.h for what is checked.
#include "fuzz/fuzz_input.h"
#include "fuzz/seeds.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const rosetta::fuzz::InputPath input(".checkpoint.safetensors");
  const std::string& path = input.write(data, size);
  rosetta::fuzz::expect_clean(path, [&] {
    rosetta::fuzz::SeedTrainingState run;
    rosetta::load_training_checkpoint(path, run.parameters, run.state, run.options);
  });
  return 0;
}
