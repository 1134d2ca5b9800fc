#include "bench/cli/peak_rates.h"

namespace rosetta::cli {
namespace {

struct Part {
  const char* name_contains;  // matched against the device name, the first match wins (so NVL before the SXM part)
  const char* source;
  double fp32, tf32, bf16;   // dense TFLOP/s
};

// Datasheet figures; the tensor rates are half the "with sparsity" ones the datasheets print.
constexpr Part kParts[] = {
    {"H200 NVL", "NVIDIA H200 NVL datasheet (2024)", 60.0, 417.5, 835.5},
    {"H200", "NVIDIA H200 Tensor Core GPU datasheet (2024), SXM", 66.9, 494.7, 989.4},
    {"H100 NVL", "NVIDIA H100 NVL datasheet (2023)", 60.0, 417.5, 835.5},
    {"H100 PCIe", "NVIDIA H100 Tensor Core GPU datasheet (2023), PCIe", 51.0, 378.0, 756.5},
    {"H100", "NVIDIA H100 Tensor Core GPU datasheet (2023), SXM5", 66.9, 494.7, 989.4},
    {"A100", "NVIDIA A100 Tensor Core GPU datasheet (2021)", 19.5, 156.0, 312.0},
};

}  // namespace

std::optional<PeakRate> peak_rate(const std::string& device, const std::string& precision) {
  for (const Part& part : kParts) {
    if (device.find(part.name_contains) == std::string::npos) continue;
    if (precision == "fp32") return PeakRate{part.fp32, part.source};
    if (precision == "tf32") return PeakRate{part.tf32, part.source};
    if (precision == "bf16") return PeakRate{part.bf16, part.source};
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace rosetta::cli
