// Fuzz target: the .npy reader (datasets/npy.h) on one array: the header, then the integer data when the dtype is
// an integer one. See fuzz/fuzz_input.h for what is checked.
#include "datasets/npy.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rosetta::fuzz::expect_clean("fuzz.npy", [&] {
    const rosetta::NpyHeader header = rosetta::parse_npy_header(data, size, "fuzz.npy");
    if (rosetta::npy_int_type(header.descr)) rosetta::read_npy_ints(header, data, size, "fuzz.npy");
  });
  return 0;
}
