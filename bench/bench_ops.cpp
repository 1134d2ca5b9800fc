// Google Benchmark of every op case in the table (tests/ops/op_case.h): one benchmark per case and device, named
// ops/<device>/<op>/<variant>/<shape> (ops/cuda/maxpool2d_forward/nhwc-bf16/2x64x56x56-w3s2p1), with bytes/s and
// FLOP/s counters from the case's per-call counts. The case is built on first run (the cuDNN search of a conv plan
// included), warmed up with one call, then timed: CPU cases in real time, GPU cases with CUDA events around each
// call (bench/harness.h).
//
// Run: ./build/bench/bench_ops [--benchmark_filter=ops/cpu/conv] [--benchmark_list_tests]
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "bench/harness.h"
#include "tests/ops/op_case.h"

namespace rosetta {
namespace {

void set_counters(benchmark::State& state, const ops::OpCase& c, double seconds) {
  if (seconds <= 0) return;
  const double calls = double(state.iterations());
  state.counters["bytes/s"] = benchmark::Counter(c.bytes * calls / seconds);
  state.counters["FLOP/s"] = benchmark::Counter(c.flops * calls / seconds);
}

void register_cases(Device device) {
  for (const ops::OpCase& c : ops::all_op_cases()) {
    const std::string name = std::string("ops/") + device_name(device) + "/" + c.name();
    auto* bench = benchmark::RegisterBenchmark(name.c_str(), [c, device](benchmark::State& state) {
      const Context& ctx = Context::of(device);
      try {
        const ops::OpRun run = c.make(ctx, 0);
        run.call();  // warm-up: first-call library setup, module loading
        ctx.synchronize();
        if (device == Device::cuda) {
          set_counters(state, c, time_gpu_iterations(state, ctx, 1, run.call));
          return;
        }
        double seconds = 0;
        for (auto _ : state) {
          const auto start = std::chrono::steady_clock::now();
          run.call();
          seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
        set_counters(state, c, seconds);
      } catch (const std::exception& e) {
        state.SkipWithError(e.what());
      }
    });
    bench->Unit(benchmark::kMicrosecond);
    if (device == Device::cuda)
      bench->UseManualTime();
    else
      bench->UseRealTime();
  }
}

void register_cpu_benchmarks() { register_cases(Device::cpu); }
void register_gpu_benchmarks() { register_cases(Device::cuda); }

}  // namespace
}  // namespace rosetta

int main(int argc, char** argv) {
  return rosetta::benchmark_main(argc, argv, "bench_ops", rosetta::register_cpu_benchmarks,
                                 rosetta::register_gpu_benchmarks);
}
