// What every fuzz target of fuzz/ checks, and how a target hands its input to a reader that opens a path.
//
// The promise fuzzed: bad input is one InputError line that names the input (its path, or the name the target
// gives it), and nothing else: no other exception (an Error is rosetta's own bug), no crash, no sanitizer report,
// no hang (libFuzzer's -timeout) and no allocation beyond the readers' caps (libFuzzer's -malloc_limit_mb). A
// broken promise aborts, which libFuzzer reports as a finding with the input that broke it.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/error.h"

namespace rosetta::fuzz {

// Runs `read`; an InputError must be one line naming `name`, anything else escapes to libFuzzer.
template <typename Read>
void expect_clean(const std::string& name, Read read) {
  try {
    read();
  } catch (const InputError& e) {
    const std::string message = e.what();
    if (message.find('\n') != std::string::npos || message.find(name) == std::string::npos) {
      std::fprintf(stderr, "InputError that is not one line naming %s: %s\n", name.c_str(), message.c_str());
      std::abort();
    }
  }
}

// A file of this process's own in the temporary folder, rewritten with each input, for readers that take a path.
class InputPath {
 public:
  explicit InputPath(const std::string& suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/rosetta-fuzz-" + std::to_string(getpid()) +
            suffix;
  }
  ~InputPath() { std::remove(path_.c_str()); }
  // Writes the input; a file that cannot be written ends the run (it is the machine's fault, not the reader's).
  const std::string& write(const std::uint8_t* data, std::size_t size) const {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    if (file == nullptr || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) {
      std::perror(path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace rosetta::fuzz
