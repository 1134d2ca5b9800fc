// Out-of-line half of error.h, so the throw site stays small in hot code.
#include "runtime/error.h"

namespace rosetta {

void throw_error(const char* file, int line, const std::string& what) {
  std::string where = file;
  const auto slash = where.find_last_of('/');
  if (slash != std::string::npos) where = where.substr(slash + 1);
  throw Error(where + ":" + std::to_string(line) + ": " + what);
}

}  // namespace rosetta
