// Device-neutral part of kernels/layout.h: the per-channel view check.
#include "kernels/layout.h"

#include "runtime/error.h"

namespace rosetta::kernels {

void check_channel_view(const char* op, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  ROSETTA_CHECK(outer >= 0 && channels > 0 && inner > 0,
                op << " of (" << outer << ", " << channels << ", " << inner
                   << "): expected outer >= 0, channels > 0 and inner > 0");
}

}  // namespace rosetta::kernels
