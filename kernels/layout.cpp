// Device-neutral part of kernels/layout.h: the per-channel view check and the parameter copies' bookkeeping.
#include "kernels/layout.h"

#include "runtime/error.h"

namespace rosetta::kernels {

void check_channel_view(const char* op, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  ROSETTA_CHECK(outer >= 0 && channels > 0 && inner > 0,
                op << " of (" << outer << ", " << channels << ", " << inner
                   << "): expected outer >= 0, channels > 0 and inner > 0");
}

std::int64_t ParameterCopies::add(ParameterCopy c) {
  ROSETTA_CHECK(count < kMax, "more than " << kMax << " parameter copies in one launch");
  ROSETTA_CHECK(c.k > 0 && c.k <= c.k_padded && c.c > 0 && c.c <= c.c_padded && c.s > 0 && c.arena >= 0,
                "parameter copy (" << c.k << ", " << c.c << ", " << c.s << ") into (" << c.k_padded << ", " << c.c_padded
                                   << ", " << c.s << ")");
  c.working = working_elements(c.bias);
  copy[count++] = c;
  return c.working;
}

std::int64_t ParameterCopies::working_elements(bool bias) const {
  std::int64_t elements = 0;
  for (int i = 0; i < count; ++i)
    if (copy[i].bias == bias) elements += copy[i].working_elements();
  return elements;
}

}  // namespace rosetta::kernels
