// Max pooling and global average pooling: CPU reference and CUDA twin, one signature.
#pragma once
#include <cstdint>

#include "runtime/context.h"

namespace rosetta::kernels {
namespace cpu {
#include "kernels/pool.inc"
}
namespace cuda {
#include "kernels/pool.inc"
}
}  // namespace rosetta::kernels
