// What every Google Benchmark binary of rosetta shares:
// - benchmark_main: registers the CPU cases, then the GPU cases when a device is present (else one line on stderr
//   says why they are missing), and runs the ones the command line selects. An error while registering or running
//   is one line on stderr and exit status 1.
// - time_gpu_iterations: the one way of timing GPU work, CUDA events on the context's stream around each
//   iteration's calls (manual time), so the host waits only to read each iteration's stop event. The caller warms
//   up first (module loading, cuBLAS/cuDNN first-call setup, graph capture) and registers the benchmark with
//   UseManualTime(). Each iteration's time is reported per call; the return value is the total seconds timed over
//   all iterations and calls, for the callers' rate counters.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>

#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/timer.h"

namespace rosetta {

inline int benchmark_main(int argc, char** argv, const char* binary, void (*register_cpu)(),
                          void (*register_gpu)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    register_cpu();
    if (cuda_available()) {
      register_gpu();
    } else {
      std::fprintf(stderr, "[rosetta] %s: GPU benchmarks not registered: %s\n", binary, probe_cuda().reason.c_str());
    }
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", binary, e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}

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
