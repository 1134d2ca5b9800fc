#include "tests/support/gradcheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "runtime/philox.h"

namespace rosetta::testing {

std::vector<double> random_doubles(std::size_t n, double lo, double hi, std::uint64_t seed, std::uint32_t stream) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * philox_uniform(seed, stream, i);
  return v;
}

std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint64_t seed, std::uint32_t stream) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * philox_uniform(seed, stream, i);
  return v;
}

namespace {
double projected(const Forward& forward, const std::vector<double>& x, const std::vector<double>& w) {
  const std::vector<double> y = forward(x);
  double sum = 0;
  for (std::size_t i = 0; i < y.size(); ++i) sum += w[i] * y[i];
  return sum;
}
}  // namespace

int check_gradient(const Forward& forward, const Backward& backward, const std::vector<double>& x,
                   const GradCheckOptions& options) {
  const std::size_t outputs = forward(x).size();
  const std::vector<double> w = random_doubles(outputs, -1.0, 1.0, options.seed, 7);
  const std::vector<double> analytic = backward(x, w);
  EXPECT_EQ(analytic.size(), x.size()) << "backward returned a gradient of the wrong size";
  int checked = 0;
  std::vector<double> probe = x;
  for (std::size_t i = 0; i < x.size() && i < analytic.size(); ++i) {
    if (options.kink && std::abs(x[i] - *options.kink) < options.kink_range) continue;
    probe[i] = x[i] + options.step;
    const double plus = projected(forward, probe, w);
    probe[i] = x[i] - options.step;
    const double minus = projected(forward, probe, w);
    probe[i] = x[i];
    const double numeric = (plus - minus) / (2 * options.step);
    const double scale = std::max({1.0, std::abs(numeric), std::abs(analytic[i])});
    EXPECT_LE(std::abs(numeric - analytic[i]), options.tolerance * scale)
        << "element " << i << ": numeric " << numeric << ", analytic " << analytic[i];
    ++checked;
  }
  return checked;
}

}  // namespace rosetta::testing
