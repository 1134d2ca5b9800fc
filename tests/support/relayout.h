// relaid: a tensor of logical dimensions (n, c, hw) rewritten from one layout to the other with plain loops, the
// tests' own definition of the transpose (so a test of an NHWC op does not lean on the kernel that transposes).
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/layout.h"

namespace rosetta::testing {

template <typename T>
std::vector<T> relaid(const std::vector<T>& x, Layout from, Layout to, std::int64_t n, std::int64_t c, std::int64_t hw) {
  std::vector<T> y(x.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p)
        y[element_offset(to, i, ch, 0, p, c, 1, hw)] = x[element_offset(from, i, ch, 0, p, c, 1, hw)];
  return y;
}

}  // namespace rosetta::testing
