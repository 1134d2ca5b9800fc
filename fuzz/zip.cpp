// Fuzz target: the zip reader (datasets/zip.h) on one archive: open, then extract every member. See
// fuzz/fuzz_input.h for what is checked.
#include "datasets/zip.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const rosetta::fuzz::InputPath input(".zip");
  const std::string& path = input.write(data, size);
  rosetta::fuzz::expect_clean(path, [&] {
    const rosetta::ZipArchive zip = rosetta::ZipArchive::open(path);
    for (const rosetta::ZipMember& member : zip.members()) zip.read(member);
  });
  return 0;
}
