#include "bench/cli/arguments.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace rosetta::cli {

CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::int64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (error != std::errc() || stop != end || value < min || value > max)
          return text + " is not " + range;
        return "";
      },
      range);
}

CLI::Validator finite_in(double min, double max) {
  std::ostringstream os;
  os << "a finite number in [" << min << ", " << max << "]";
  const std::string range = os.str();
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* stop = nullptr;
        const double value = std::strtod(text.c_str(), &stop);
        if (text.empty() || *stop != '\0' || !std::isfinite(value) || value < min || value > max)
          return text + " is not " + range;
        return "";
      },
      range);
}

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

std::optional<kernels::ConvBackend> parse_conv_backend(const std::string& name, Device device) {
  if (name == "auto") return std::nullopt;
  kernels::ConvBackend backend{};
  ROSETTA_CHECK_ARG(kernels::conv_backend_from_name(name, &backend) && backend != kernels::ConvBackend::cpu_im2col_gemm &&
                        backend != kernels::ConvBackend::direct,
                    "--backend " << name << ": expected auto, cudnn, cudnn-graph or cublaslt");
  ROSETTA_CHECK_ARG(device == Device::cuda, "--backend " << name << " names a GPU backend; the CPU has one convolution "
                                                                    "algorithm (use --backend auto)");
  return backend;
}

bool parse_on_off(const char* flag, const std::string& value) {
  ROSETTA_CHECK_ARG(value == "on" || value == "off", flag << " " << value << ": expected on or off");
  return value == "on";
}

void check_output_path(const char* flag, const std::string& path) {
  if (path.empty()) return;
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();
  std::error_code error;
  ROSETTA_CHECK_ARG(std::filesystem::is_directory(folder, error),
                    flag << " " << path << ": folder " << folder.string() << " does not exist");
  ROSETTA_CHECK_ARG(::access(folder.c_str(), W_OK | X_OK) == 0,
                    flag << " " << path << ": folder " << folder.string() << " is not writable");
  ROSETTA_CHECK_ARG(!std::filesystem::is_directory(path, error), flag << " " << path << ": is a directory, not a file");
}

void check_output_folder(const char* flag, const std::string& path) {
  if (path.empty()) return;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    const std::filesystem::path parent = std::filesystem::absolute(path).parent_path();
    ROSETTA_CHECK_ARG(std::filesystem::is_directory(parent, error) && ::access(parent.c_str(), W_OK | X_OK) == 0,
                      flag << " " << path << ": folder " << parent.string() << " does not exist or is not writable");
    return;
  }
  ROSETTA_CHECK_ARG(std::filesystem::is_directory(path, error), flag << " " << path << ": exists and is not a folder");
  ROSETTA_CHECK_ARG(::access(path.c_str(), W_OK | X_OK) == 0, flag << " " << path << ": folder is not writable");
}

}  // namespace rosetta::cli
