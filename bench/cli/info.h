// `rosetta info`: what this build is and what it can see. Never fails on a machine without a GPU.
#pragma once
#include <string>

namespace rosetta::cli {

// Library versions as "13.0" style strings; "not built" or "unavailable" when absent.
struct VersionInfo {
  std::string rosetta, cuda_runtime, cuda_driver, cudnn, cublas;
};
VersionInfo collect_versions();
void print_info();

}  // namespace rosetta::cli
