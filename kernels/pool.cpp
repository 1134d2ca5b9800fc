// Device-neutral part of kernels/pool.h: the shape's text and checks.
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

}  // namespace rosetta::kernels
