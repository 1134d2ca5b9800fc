// The GRU's autotuning on CUDA (kernels/cuda/gru_state.h's plan_searched_gru): kernels/gru_search.h's order (the
// cache's choice, else every candidate timed and the fastest kept and cached) with the planning and timing of a
// candidate here. cuDNN offers no cudnnFind for RNNs, and which algorithm wins depends on the shape and the GPU (on an
// H200 at the IMDB shape PERSIST_STATIC_SMALL_H trains 9x faster than STANDARD, PERSIST_STATIC 2x slower). A
// candidate is planned (a persistent cuDNN algorithm with a trial run), then runs one warm-up forward and backward on
// zero data and kTimedPasses more, each between two CUDA events; its median is its time. Synchronizes: plan time only.
#include <algorithm>
#include <string>
#include <vector>

#include <cudnn.h>

#include "kernels/cuda/gru_state.h"
#include "kernels/cuda/gru_trial.h"
#include "kernels/gru.h"
#include "kernels/gru_search.h"
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
  const std::vector<GruCacheChoice> candidates = gru_search_candidates(plan.options.implementation);
  ROSETTA_CHECK(!plan.options.algorithm, "the GRU search with a cuDNN algorithm given (" << plan.shape.str() << ")");
  std::vector<GruPlan> made(candidates.size());  // each timed candidate's plan, until the winner is known
  std::optional<GruTrialData> data;              // allocated only when something is timed
  const GruSearchResult result = search_gru(
      gru_algorithm_cache(), cache_key(plan.shape, plan.options), candidates,
      [&](const GruCacheChoice& cached) { adopt_plan(plan, plan_candidate(ctx, plan.shape, plan.options, cached)); },
      [&](std::size_t i) {
        made[i] = plan_candidate(ctx, plan.shape, plan.options, candidates[i]);
        if (!data) data.emplace(ctx, plan.shape);
        return median_milliseconds(ctx, made[i], *data);
      });
  ctx.synchronize();  // the trial data and the losers' plans are freed on return
  if (result.source == GruChoiceSource::timed) adopt_plan(plan, std::move(made[result.index]));
  plan.trials = result.trials;
  plan.source = result.source;
}

}  // namespace rosetta::kernels::cuda
