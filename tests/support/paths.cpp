#include "tests/support/paths.h"

#include <sys/wait.h>

#include <cstdlib>

namespace rosetta::testing {

int run_command(const std::string& command, const std::string& log) {
  const std::string full = "(" + command + ") > '" + log + "' 2>&1";
  const int status = std::system(full.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace rosetta::testing
