// Central-difference gradient checker in double (after Caffe's GradientChecker).
// The layer under test is seen as y = f(x); the checker draws a fixed random projection w, so the scalar
// loss is L = sum(w * f(x)) and the analytic gradient is backward(x, dy = w). Each input element is moved by
// +-step and (L+ - L-) / (2 step) is compared with the analytic value.
//
// Tolerance rule: |numeric - analytic| <= tolerance * max(1, |numeric|, |analytic|). In double with step 1e-6
// the truncation error is O(step^2) ~ 1e-12 and the rounding error ~ eps / step ~ 1e-10, so the default
// tolerance of 1e-6 leaves four orders of margin while still catching any wrong term.
// Kink window: where f is not differentiable at a known input value (ReLU at 0), inputs closer than
// kink_range to it are skipped, as a central difference straddling the kink is meaningless.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace rosetta::testing {

using Forward = std::function<std::vector<double>(const std::vector<double>& x)>;
using Backward = std::function<std::vector<double>(const std::vector<double>& x, const std::vector<double>& dy)>;

struct GradCheckOptions {
  double step = 1e-6;
  double tolerance = 1e-6;
  std::optional<double> kink;  // input value where f has a kink
  double kink_range = 1e-3;
  std::uint64_t seed = 1234;   // of the projection w
};

// Adds a GoogleTest failure naming the element for every mismatch; returns the number of elements checked.
int check_gradient(const Forward& forward, const Backward& backward, const std::vector<double>& x,
                   const GradCheckOptions& options = {});

// Values in [lo, hi) from Philox stream `stream`, for test inputs.
std::vector<double> random_doubles(std::size_t n, double lo, double hi, std::uint64_t seed, std::uint32_t stream = 0);
std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint64_t seed, std::uint32_t stream = 0);

}  // namespace rosetta::testing
