// The GRU's autotuning (kernels/cuda/gru_state.h's plan_searched_gru). cuDNN offers no cudnnFind for RNNs, and which
// algorithm wins depends on the shape and the GPU (on an H200 at the IMDB shape PERSIST_STATIC_SMALL_H trains 9x
// faster than STANDARD, PERSIST_STATIC 2x slower), so the plan times the candidates itself:
//   1. the GRU algorithm cache (kernels/gru_algorithm_cache.h) is asked for the key (this GPU model and cuDNN version,
//      the shape, precision, I/O layout and the implementation asked for); a choice found there is planned as given,
//      with the plan's source "cache" and no timing (a cached choice that no longer plans is searched afresh);
//   2. otherwise every candidate (each of cuDNN's four algorithms; for automatic the persistent GRU too) is planned;
//      cuDNN's standard algorithm must plan, a refusal of another candidate is recorded in the trials; each accepted one runs one warm-up forward and backward on zero
//      data, then kTimedPasses more, each between two CUDA events, and its median is its time; the fastest is kept,
//      its choice stored in the cache (the caller saves the file).
// Synchronizes: plan time only.
#include <algorithm>
#include <string>
#include <vector>

#include <cudnn.h>

#include "kernels/cuda/gru_state.h"
#include "kernels/cuda/gru_trial.h"
#include "kernels/gru.h"
#include "kernels/gru_algorithm_cache.h"
#include "runtime/cuda_check.h"
#include "runtime/timer.h"

namespace rosetta::kernels::cuda {
namespace {

constexpr int kTimedPasses = 5;

// This process's GPU model and loaded cuDNN, with the options that change which candidate wins.
GruCacheKey cache_key(const GruShape& shape, const GruOptions& options) {
  int device = 0;
  ROSETTA_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  ROSETTA_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  int major = 0, minor = 0, patch = 0;
  ROSETTA_CUDNN_CHECK(cudnnGetProperty(MAJOR_VERSION, &major), "the cuDNN version");
  ROSETTA_CUDNN_CHECK(cudnnGetProperty(MINOR_VERSION, &minor), "the cuDNN version");
  ROSETTA_CUDNN_CHECK(cudnnGetProperty(PATCH_LEVEL, &patch), "the cuDNN version");
  GruCacheKey key;
  key.gpu = properties.name;
  key.cudnn = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  key.shape = shape;
  key.precision = options.precision;
  key.padded_io = options.padded_io;
  key.candidates = options.implementation;
  return key;
}

// The plan of one candidate: `options` with the implementation and algorithm fixed.
GruPlan plan_candidate(const Context& ctx, const GruShape& shape, const GruOptions& options,
                       const GruCacheChoice& choice) {
  GruOptions fixed = options;
  fixed.implementation = choice.implementation;
  fixed.algorithm = std::nullopt;
  if (choice.implementation == GruImplementation::cudnn) {
    fixed.algorithm = choice.algorithm;
    return plan_cudnn_gru_algorithm(ctx, shape, fixed);
  }
  ROSETTA_CHECK(choice.implementation == GruImplementation::persistent,
                "a GRU search candidate " << gru_implementation_name(choice.implementation) << " (" << shape.str() << ")");
  GruPlan plan;
  plan.shape = shape, plan.options = fixed;
  plan_persistent_gru(ctx, plan);
  return plan;
}

// Median milliseconds of a forward and backward of `plan`: one warm-up pass, then kTimedPasses, each between two
// CUDA events on ctx's stream.
double median_milliseconds(const Context& ctx, const GruPlan& plan, GruTrialData& data) {
  data.pass(ctx, plan);
  Timeline timeline(ctx, kTimedPasses + 1);
  timeline.mark();
  for (int i = 0; i < kTimedPasses; ++i) {
    data.pass(ctx, plan);
    timeline.mark();
  }
  std::vector<double> seconds = timeline.intervals_s();
  std::sort(seconds.begin(), seconds.end());
  return 1e3 * seconds[seconds.size() / 2];
}

}  // namespace

void plan_searched_gru(const Context& ctx, GruPlan& plan) {
  const GruImplementation asked = plan.options.implementation;
  ROSETTA_CHECK((asked == GruImplementation::cudnn || asked == GruImplementation::automatic) && !plan.options.algorithm,
                "the GRU search runs for auto, or cudnn without an algorithm, not for "
                    << gru_implementation_name(asked) << " (" << plan.shape.str() << ")");
  GruAlgorithmCache& cache = gru_algorithm_cache();
  const GruCacheKey key = cache_key(plan.shape, plan.options);
  if (const std::optional<GruCacheChoice> cached = cache.find(key)) {
    try {
      adopt_plan(plan, plan_candidate(ctx, plan.shape, plan.options, *cached));
      plan.source = GruChoiceSource::cache;
      return;
    } catch (const Error&) {
      // The cached choice no longer plans here (it was timed on this GPU model and cuDNN version, so this is rare):
      // the search below times every candidate again, and its trials show the refusal.
    }
  }

  std::vector<GruCacheChoice> candidates;
  for (GruCudnnAlgorithm algorithm : {GruCudnnAlgorithm::standard, GruCudnnAlgorithm::persist_static,
                                      GruCudnnAlgorithm::persist_dynamic, GruCudnnAlgorithm::persist_static_small_h})
    candidates.push_back(GruCacheChoice{GruImplementation::cudnn, algorithm, 0});
  if (asked == GruImplementation::automatic)
    candidates.push_back(GruCacheChoice{GruImplementation::persistent, GruCudnnAlgorithm::standard, 0});

  GruTrialData data(ctx, plan.shape);
  GruPlan fastest;
  GruCacheChoice best;
  bool have_fastest = false;
  std::vector<GruAlgorithmTrial> trials;
  for (const GruCacheChoice& candidate : candidates) {
    GruAlgorithmTrial trial;
    trial.implementation = candidate.implementation;
    trial.algorithm = candidate.algorithm;
    const bool must_plan =
        candidate.implementation == GruImplementation::cudnn && candidate.algorithm == GruCudnnAlgorithm::standard;
    GruPlan made;
    if (must_plan) {
      made = plan_candidate(ctx, plan.shape, plan.options, candidate);  // every GRU runs on it: a refusal is an error
    } else {
      try {
        made = plan_candidate(ctx, plan.shape, plan.options, candidate);
      } catch (const Error& e) {
        trial.refusal = e.what();
        trials.push_back(trial);
        continue;
      }
    }
    trial.accepted = true;
    trial.milliseconds = median_milliseconds(ctx, made, data);
    trials.push_back(trial);
    if (!have_fastest || trial.milliseconds < best.milliseconds) {
      fastest = std::move(made);
      best = candidate;
      best.milliseconds = trial.milliseconds;
      have_fastest = true;
    }
  }
  ctx.synchronize();  // the trial data is freed on return
  adopt_plan(plan, std::move(fastest));
  plan.trials = std::move(trials);
  plan.source = GruChoiceSource::timed;
  cache.insert(key, best);
}

}  // namespace rosetta::kernels::cuda
