// Device-neutral part of kernels/pool.h: the shapes' text and checks.
#include "kernels/pool.h"

#include <limits>
#include <sstream>

#include "runtime/error.h"

namespace rosetta::kernels {

std::string PoolShape::str() const {
  std::ostringstream os;
  os << "(" << n << ", " << c << ", " << h << ", " << w << ") window " << window << " stride " << stride << " pad "
     << pad;
  return os.str();
}

void check_pool_shape(const PoolShape& s) {
  ROSETTA_CHECK(s.n >= 0 && s.c >= 0 && s.h > 0 && s.w > 0 && s.window > 0 && s.stride > 0 && s.pad >= 0 &&
                    2 * s.pad <= s.window && s.h + 2 * s.pad >= s.window && s.w + 2 * s.pad >= s.window &&
                    s.h * s.w <= std::numeric_limits<std::int32_t>::max(),
                "max pooling of " << s.str());
}

void check_tiling_pool_shape(const PoolShape& s, std::int64_t channels) {
  check_pool_shape(s);
  ROSETTA_CHECK(channels >= 0 && channels <= s.c,
                "fused max pooling of " << s.str() << " with " << channels << " unpadded channels");
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  ROSETTA_CHECK(s.stride == s.window && s.pad == 0 && s.h % s.window == 0 && s.w % s.window == 0 &&
                    s.n * s.c * s.h * s.w <= kMax,
                "the fused max pooling needs windows that tile the input (stride = window, no padding, H and W "
                "multiples of the window) and fewer than 2^31 elements: " << s.str());
}

}  // namespace rosetta::kernels
