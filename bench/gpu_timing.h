// The Google Benchmark binaries' one way of timing GPU work: CUDA events on the context's stream around each
// iteration's calls (manual time), so the host waits only to read each iteration's stop event. The caller warms up
// first (module loading, cuBLAS/cuDNN first-call setup, graph capture) and registers the benchmark with
// UseManualTime(). Each iteration's time is reported per call; the return value is the total seconds timed over all
// iterations and calls, for the callers' rate counters.
#pragma once
#include <benchmark/benchmark.h>

#include "runtime/context.h"
#include "runtime/timer.h"

namespace rosetta {

template <typename Body>
double time_gpu_iterations(benchmark::State& state, const Context& ctx, int calls_per_iteration, Body body) {
  CudaEventTimer timer;
  double seconds = 0;
  for (auto _ : state) {
    timer.start(ctx.stream());
    for (int call = 0; call < calls_per_iteration; ++call) body();
    timer.stop(ctx.stream());
    const double elapsed = timer.elapsed_ms() / 1e3;
    state.SetIterationTime(elapsed / calls_per_iteration);
    seconds += elapsed;
  }
  return seconds;
}

}  // namespace rosetta
