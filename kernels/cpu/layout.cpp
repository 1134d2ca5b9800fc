// CPU twin of the layout transposes (kernels/layout.inc): plain loops, one copy per element.
#include "kernels/layout.h"

#include "runtime/error.h"

namespace rosetta::kernels::cpu {

void nchw_to_nhwc(const Context&, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0, "nchw_to_nhwc of (" << n << ", " << c << ", " << hw << ")");
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < hw; ++i) y[(image * hw + i) * c + ch] = x[(image * c + ch) * hw + i];
}

void nhwc_to_nchw(const Context&, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0, "nhwc_to_nchw of (" << n << ", " << c << ", " << hw << ")");
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < hw; ++i) y[(image * c + ch) * hw + i] = x[(image * hw + i) * c + ch];
}

}  // namespace rosetta::kernels::cpu
