// Where tests find the source tree and the `rosetta` binary. Environment variables win over
// the build-time paths, so a test bundle carried to another machine (tools/gpu_check.sh) still finds them:
// ROSETTA_SOURCE_DIR and ROSETTA_CLI. (The Python oracle's interpreter: tests/support/python.h.)
#pragma once
#include <cstdlib>
#include <string>

namespace rosetta::testing {

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}
inline std::string source_dir() { return env_or("ROSETTA_SOURCE_DIR", ROSETTA_SOURCE_DIR); }
inline std::string cli_path() { return env_or("ROSETTA_CLI", ROSETTA_CLI); }

// Runs a shell command; returns its exit status (-1 if it did not exit normally). Output goes to `log`.
int run_command(const std::string& command, const std::string& log);

}  // namespace rosetta::testing
