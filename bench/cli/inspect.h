// `rosetta inspect FILE.safetensors`: prints each tensor's name, dtype and shape. A malformed file throws
// InputError (one line naming the file, the tensor and the field), which the CLI turns into exit code 2.
#pragma once
#include <string>

namespace rosetta::cli {

void print_inspection(const std::string& path);

}  // namespace rosetta::cli
