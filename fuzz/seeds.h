// Shared by the seed generator (fuzz/seeds.cpp) and the targets: the identity the algorithm-cache seeds are
// written under, so the cache target reads its seeds' entries instead of stopping at the identity note.
#pragma once
#include "kernels/conv_algorithm_cache_file.h"

namespace rosetta::fuzz {

inline const kernels::ConvCacheIdentity kSeedCacheIdentity{"NVIDIA H100 80GB HBM3", "9.19.0"};

}  // namespace rosetta::fuzz
