// ROSETTA_REQUIRE_CUDA(): skips the current test, with the probe's reason, when no CUDA device is usable.
// Copy and comparison helpers shared by the CPU-vs-GPU tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/tensor.h"

#define ROSETTA_REQUIRE_CUDA()                                                   \
  do {                                                                           \
    if (!::rosetta::cuda_available()) {                                          \
      GTEST_SKIP() << ::rosetta::probe_cuda().reason;                            \
    }                                                                            \
  } while (0)

namespace rosetta::testing {

// Copies to the CUDA device (ordered on the main stream: see Tensor::copy_from).
inline Tensor to_cuda(const Tensor& host) { return host.to(Device::cuda); }
inline Tensor to_cuda(const std::vector<float>& values) {
  return to_cuda(Tensor::from_vector({static_cast<std::int64_t>(values.size())}, values));
}

// Every element within atol + rtol * |expected|; reports the first few mismatches with their index.
inline void expect_all_close(const std::vector<float>& actual, const std::vector<float>& expected, double rtol,
                             double atol, const std::string& what = "") {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double bound = atol + rtol * std::abs(expected[i]);
    if (!(std::abs(double(actual[i]) - expected[i]) <= bound) && reported++ < 5) {
      ADD_FAILURE() << what << " element " << i << ": " << actual[i] << " vs " << expected[i] << " (bound " << bound
                    << ")";
    }
  }
}

}  // namespace rosetta::testing
