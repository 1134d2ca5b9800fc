// The arithmetic peak of a GPU model for a precision, the denominator of a record's peak_fraction. Dense rates (no
// 2:4 sparsity), at the boost clock, from NVIDIA's datasheets:
//   fp32: the CUDA cores' FP32 FMA rate (strict FP32 never touches the tensor cores);
//   tf32: the tensor cores' TF32 rate;  bf16: the tensor cores' BF16 rate (float accumulation).
// A GPU not in the table has no peak: the record says null and why.
#pragma once
#include <optional>
#include <string>

namespace rosetta::cli {

struct PeakRate {
  double tflops = 0;
  std::string source;  // the datasheet, and the part it matched ("NVIDIA H200 datasheet (SXM)")
};

// device: the name CUDA reports ("NVIDIA H200", "NVIDIA H100 80GB HBM3"); precision: fp32, tf32 or bf16.
std::optional<PeakRate> peak_rate(const std::string& device, const std::string& precision);

}  // namespace rosetta::cli
