// The GRU's search for its fastest implementation, device-neutral: the order of the cache lookup, the timings and
// the choice, with the planning and timing of a candidate supplied by the twin (kernels/cuda/gru_search.cpp), so the
// CPU tests check every path of it with stand-ins.
//   1. The cache's choice for `key`, if `adopt` plans it (source cache: nothing is timed). A cached choice that no
//      longer plans (adopt throws an Error) is searched afresh.
//   2. Otherwise each candidate in order through `time`, which plans it and returns its median milliseconds, or
//      throws an Error when it refuses: the refusal is recorded in the trials, except the first candidate's (cuDNN's
//      standard algorithm, which every GRU runs on), which propagates. The fastest accepted candidate (the first of
//      equals) is stored in the cache under `key` (source timed).
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

#include "kernels/gru_algorithm_cache.h"

namespace rosetta::kernels {

struct GruSearchResult {
  GruCacheChoice choice;   // the winner, its milliseconds from the timing (now, or when the cache's entry was made)
  std::size_t index = 0;   // timed: the winner's position in the candidates
  GruChoiceSource source = GruChoiceSource::timed;  // cache or timed
  std::vector<GruAlgorithmTrial> trials;             // timed: one per candidate, in order
};

// The candidates of a search asked for with `asked`: cudnn, cuDNN's four algorithms (standard first); automatic,
// those and the persistent GRU.
std::vector<GruCacheChoice> gru_search_candidates(GruImplementation asked);

GruSearchResult search_gru(GruAlgorithmCache& cache, const GruCacheKey& key,
                           const std::vector<GruCacheChoice>& candidates,
                           const std::function<void(const GruCacheChoice&)>& adopt,
                           const std::function<double(std::size_t candidate)>& time);

}  // namespace rosetta::kernels
