#include "bench/cli/arguments.h"

#include <filesystem>

namespace rosetta::cli {

Device resolve_device(const std::string& name) {
  if (name.empty()) return cuda_available() ? Device::cuda : Device::cpu;
  if (name == "cpu") return Device::cpu;
  ROSETTA_CHECK_ARG(cuda_available(), "--device cuda: " << probe_cuda().reason);
  return Device::cuda;
}

Precision parse_precision(const std::string& name, std::initializer_list<Precision> allowed) {
  Precision p{};
  const bool known = precision_from_name(name.c_str(), &p);
  std::string names;
  bool is_allowed = false;
  for (Precision a : allowed) {
    names += (names.empty() ? "" : ", ") + std::string(precision_name(a));
    is_allowed = is_allowed || (known && a == p);
  }
  ROSETTA_CHECK_ARG(is_allowed, "--precision " << name << ": expected one of " << names);
  return p;
}

bool parse_on_off(const char* flag, const std::string& value) {
  ROSETTA_CHECK_ARG(value == "on" || value == "off", flag << " " << value << ": expected on or off");
  return value == "on";
}

void check_output_folder(const char* flag, const std::string& path) {
  if (path.empty()) return;
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();
  std::error_code error;
  ROSETTA_CHECK_ARG(std::filesystem::is_directory(folder, error),
                    flag << " " << path << ": folder " << folder.string() << " does not exist");
}

}  // namespace rosetta::cli
