// The GRU's search (kernels/gru_search.h).
#include "kernels/gru_search.h"

#include "runtime/error.h"

namespace rosetta::kernels {

std::vector<GruCacheChoice> gru_search_candidates(GruImplementation asked) {
  ROSETTA_CHECK(asked == GruImplementation::cudnn || asked == GruImplementation::automatic,
                "the GRU search runs for auto or cudnn, not for " << gru_implementation_name(asked));
  std::vector<GruCacheChoice> candidates;
  for (GruCudnnAlgorithm algorithm : {GruCudnnAlgorithm::standard, GruCudnnAlgorithm::persist_static,
                                      GruCudnnAlgorithm::persist_dynamic, GruCudnnAlgorithm::persist_static_small_h})
    candidates.push_back(GruCacheChoice{GruImplementation::cudnn, algorithm, 0});
  if (asked == GruImplementation::automatic)
    candidates.push_back(GruCacheChoice{GruImplementation::persistent, GruCudnnAlgorithm::standard, 0});
  return candidates;
}

GruSearchResult search_gru(GruAlgorithmCache& cache, const GruCacheKey& key,
                           const std::vector<GruCacheChoice>& candidates,
                           const std::function<void(const GruCacheChoice&)>& adopt,
                           const std::function<double(std::size_t candidate)>& time) {
  ROSETTA_CHECK(!candidates.empty(), "a GRU search without candidates (" << key.shape.str() << ")");
  GruSearchResult result;
  if (const std::optional<GruCacheChoice> cached = cache.find(key)) {
    try {
      adopt(*cached);
      result.choice = *cached;
      result.source = GruChoiceSource::cache;
      return result;
    } catch (const Error&) {
      // Timed on this GPU model and cuDNN version, so rare: the timing below runs again and shows the refusal.
    }
  }
  bool timed_any = false;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    GruAlgorithmTrial trial;
    trial.implementation = candidates[i].implementation;
    trial.algorithm = candidates[i].algorithm;
    try {
      trial.milliseconds = time(i);
      trial.accepted = true;
    } catch (const Error& e) {
      if (i == 0) throw;
      trial.refusal = e.what();
    }
    result.trials.push_back(trial);
    if (trial.accepted && (!timed_any || trial.milliseconds < result.choice.milliseconds)) {
      result.choice = candidates[i];
      result.choice.milliseconds = trial.milliseconds;
      result.index = i;
      timed_any = true;
    }
  }
  result.source = GruChoiceSource::timed;
  cache.insert(key, result.choice);
  return result;
}

}  // namespace rosetta::kernels
