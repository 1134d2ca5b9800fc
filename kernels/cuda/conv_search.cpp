// Which backend and algorithm each pass of a CUDA convolution plan runs: the planner over the backends of
// kernels/cuda/conv_backend.h. It knows no backend by name except legacy cuDNN, the baseline and fallback.
//
// Autotune (the default): the process-wide cache (kernels/cuda/conv_algorithm_cache.h) answers if it can (the
// cached choice's backend prepares it again); otherwise every backend that accepts the pass (the forced one alone
// when options.backend names one, and legacy cuDNN where the forced one declines or offers nothing) offers its
// candidates, each is timed on non-zero search buffers with CUDA events (kernels/cuda/timing.h: median of groups of
// back-to-back calls after warm-up), and the fastest is kept; the cache keeps it with every candidate's time
// (legacy cuDNN's beside cudnnFind's own figure). A candidate that fails while it is timed is dropped and counted
// (ConvAutotuneStats). Without autotune: the forced backend's (else legacy cuDNN's) heuristic first choice,
// untimed and not cached. A pass is planned under conv_pass_options: a training plan's declared epilogue chooses its
// forward among the backends that build it (and legacy cuDNN, timed with its fused call or the epilogue kernel), and
// leaves its gradient passes, their search and their cache entries those of the plan undeclared.
#include <algorithm>
#include <optional>

#include "kernels/conv.h"
#include "kernels/cuda/conv_algorithm_cache.h"
#include "kernels/cuda/conv_backend.h"
#include "kernels/cuda/timing.h"
#include "runtime/allocator.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// The backends a search asks, in registry order: the forced one, or all that accept the pass.
std::vector<const CudaConvBackend*> accepting(const ConvShape& shape, const ConvOptions& options, ConvPass pass) {
  std::vector<const CudaConvBackend*> out;
  for (const CudaConvBackend* backend : conv_backends()) {
    if (options.backend && backend->id() != *options.backend) continue;
    if (backend->declines(shape, options, pass).empty()) out.push_back(backend);
  }
  return out;
}

// Each candidate's runner on the search buffers, its median time filled in; failures dropped and counted.
std::vector<ConvCandidate> timed(const Context& ctx, const ConvShape& shape, const ConvOptions& options, ConvPass pass,
                                 std::vector<ConvCandidate> candidates, const ConvSearchBuffers& buffers) {
  std::uint64_t largest = 0;
  for (const ConvCandidate& c : candidates) largest = std::max(largest, c.choice.workspace_bytes);
  const Storage workspace(Memory::device, static_cast<std::size_t>(std::max<std::uint64_t>(largest, 1)));
  ConvPassArgs args = buffers.args(pass, options);
  args.workspace = workspace.data();
  std::vector<ConvCandidate> out;
  for (ConvCandidate& c : candidates) {
    try {
      c.choice.time_ms = median_call_ms(ctx, [&] { c.runner->run(ctx, args); });
      out.push_back(std::move(c));
    } catch (const Error& e) {
      ctx.synchronize();  // a launch error surfaces here if it is sticky (then the next call fails too)
      conv_algorithm_cache().count_failed_candidate(conv_choice_name(pass, c.choice) + " on " + shape.str() + ": " +
                                                   e.what());
    }
  }
  return out;
}

// A backend's candidates; a backend that fails while it makes them (a cuDNN graph it cannot describe, say) offers
// none, and the failure is counted with its reason.
std::vector<ConvCandidate> offered(const Context& ctx, const CudaConvBackend& backend, const ConvShape& shape,
                                   const ConvOptions& options, ConvPass pass, const ConvSearchBuffers& buffers,
                                   std::size_t limit) {
  try {
    return backend.candidates(ctx, shape, options, pass, true, buffers, limit);
  } catch (const Error& e) {
    conv_algorithm_cache().count_failed_candidate(std::string(conv_backend_name(backend.id())) + " on " + shape.str() +
                                                 ": " + e.what());
    return {};
  }
}

// Every candidate of the accepting backends, timed, fastest first (on a tie, the earlier backend's).
std::vector<ConvCandidate> search(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                  ConvPass pass) {
  const ConvSearchBuffers buffers(ctx, shape, options.precision);
  const std::size_t limit = conv_allocatable_bytes();
  std::vector<ConvCandidate> all;
  for (const CudaConvBackend* backend : accepting(shape, options, pass)) {
    std::vector<ConvCandidate> mine =
        timed(ctx, shape, options, pass, offered(ctx, *backend, shape, options, pass, buffers, limit), buffers);
    all.insert(all.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  }
  if (all.empty() && options.backend && *options.backend != ConvBackend::cudnn) {
    // The forced backend declines or offers nothing here: the baseline serves the pass.
    all = timed(ctx, shape, options, pass,
                cudnn_conv_backend().candidates(ctx, shape, options, pass, true, buffers, limit), buffers);
  }
  ROSETTA_CHECK(!all.empty(), "no backend could run the convolution's " << conv_pass_name(pass) << " pass in "
                                                                        << precision_name(options.precision) << ": "
                                                                        << shape.str());
  std::stable_sort(all.begin(), all.end(), [](const ConvCandidate& a, const ConvCandidate& b) {
    return a.choice.time_ms < b.choice.time_ms;
  });
  return all;
}

// The heuristic first choice (autotune off): the forced backend's where it accepts, else legacy cuDNN's.
ConvCandidate heuristic(const Context& ctx, const ConvShape& shape, const ConvOptions& options, ConvPass pass) {
  const ConvSearchBuffers buffers(ctx, shape, options.precision);
  const std::size_t limit = conv_allocatable_bytes();
  if (options.backend && *options.backend != ConvBackend::cudnn) {
    const CudaConvBackend& forced = conv_backend(*options.backend);
    if (forced.declines(shape, options, pass).empty()) {
      std::vector<ConvCandidate> first;
      try {
        first = forced.candidates(ctx, shape, options, pass, false, buffers, limit);
      } catch (const Error& e) {
        conv_algorithm_cache().count_failed_candidate(std::string(conv_backend_name(forced.id())) + " on " +
                                                     shape.str() + ": " + e.what());
      }
      if (!first.empty()) return first.front();
    }
  }
  return cudnn_conv_backend().candidates(ctx, shape, options, pass, false, buffers, limit).front();
}

int current_device() {
  int device = 0;
  ROSETTA_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

}  // namespace

ConvCandidate choose_conv_pass(const Context& ctx, const ConvShape& shape, const ConvOptions& plan_options,
                               ConvPass pass, bool* searched) {
  *searched = false;
  const ConvOptions options = conv_pass_options(plan_options, pass);
  if (!options.autotune) return heuristic(ctx, shape, options, pass);
  ConvAlgorithmCache& cache = conv_algorithm_cache();
  const ConvAlgorithmKey key = make_conv_algorithm_key(current_device(), shape, options, pass);
  if (std::optional<CachedConvChoice> cached = cache.find(key)) {
    try {
      ConvAlgorithmChoice choice = cached->choice;
      std::shared_ptr<const ConvPassRunner> runner =
          conv_backend(choice.backend).prepare(ctx, shape, options, pass, choice);
      return ConvCandidate{choice, std::move(runner)};
    } catch (const Error& e) {
      // A cached engine or algorithm this process cannot make again: searched afresh, counted as a failure.
      cache.count_failed_candidate("cached " + conv_choice_name(pass, cached->choice) + " on " + shape.str() + ": " +
                                   e.what());
    }
  }
  std::vector<ConvCandidate> found = search(ctx, shape, options, pass);
  CachedConvChoice entry{found.front().choice, {}};
  for (const ConvCandidate& c : found) entry.candidates.push_back(c.choice);
  cache.insert(key, entry);
  *searched = true;
  return found.front();
}

std::vector<ConvAlgorithmChoice> find_conv_algorithms(const Context& ctx, const ConvPlan& plan, ConvPass pass) {
  ROSETTA_CHECK(plan.runners[static_cast<int>(pass)],
                "find_conv_algorithms for an unplanned " << conv_pass_name(pass) << " pass: " << plan.shape.str());
  std::vector<ConvAlgorithmChoice> out;
  for (const ConvCandidate& c : search(ctx, plan.shape, conv_pass_options(plan.options, pass), pass))
    out.push_back(c.choice);
  return out;
}

ConvPlan conv_plan_with_choice(const Context& ctx, const ConvPlan& plan, ConvPass pass,
                               const ConvAlgorithmChoice& choice) {
  const int index = static_cast<int>(pass);
  ROSETTA_CHECK(plan.runners[index],
                "conv_plan_with_choice for an unplanned " << conv_pass_name(pass) << " pass: " << plan.shape.str());
  ConvPlan variant = plan;
  ConvAlgorithmChoice prepared = choice;
  variant.runners[index] =
      conv_backend(choice.backend).prepare(ctx, plan.shape, conv_pass_options(plan.options, pass), pass, prepared);
  variant.choices[index] = prepared;
  if (pass == ConvPass::forward) {
    variant.fused_relu = variant.runners[index]->fuses(true);
    variant.fused_identity = variant.runners[index]->fuses(false);
  }
  ctx.workspace(static_cast<std::size_t>(variant.workspace_bytes()));
  return variant;
}

}  // namespace rosetta::kernels::cuda
