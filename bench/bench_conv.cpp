// Google Benchmark of the convolution passes on the CIFAR CNN's four layer shapes (3x3, pad 1, stride 1):
// 3->50 at 32x32, 50->50 at 32x32, 50->100 at 16x16, 100->100 at 16x16.
//
// GPU (batch 64, fp32 and tf32): forward, backward-data and backward-filter for every algorithm cudnnFind
// measures successfully under the precision (benchmark name ends in the algorithm and math type), for the one
// autotuned make_conv_plan chooses ("chosen") and for the one cuDNN's heuristics choose ("heuristic"). Timed with
// CUDA events around each call (manual time); the CPU does not wait between calls except to read the events.
// CPU (batch 2): the same shapes and passes through the CPU twin, real time.
// Counters: images/s and TFLOP/s (2 * N * K * C * R * S * OH * OW multiply-adds per pass), from the measured time.
//
// Run: build with -DROSETTA_BENCHMARKS=ON, then ./build/bench/bench_conv [--benchmark_filter=gpu/fp32/forward].
// GPU benchmarks are registered only when a device is present.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/conv.h"
#include "runtime/device.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace rosetta {
namespace {

using kernels::ConvAlgorithmChoice;
using kernels::ConvPass;
using kernels::ConvPlan;
using kernels::ConvShape;

constexpr ConvPass kPasses[] = {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter};

ConvShape cnn_shape(std::int64_t batch, std::int64_t c, std::int64_t k, std::int64_t size) {
  ConvShape s;
  s.n = batch, s.c = c, s.h = size, s.w = size, s.k = k, s.r = 3, s.s = 3;
  s.pad_h = s.pad_w = 1;
  return s;
}

std::vector<ConvShape> cnn_shapes(std::int64_t batch) {
  return {cnn_shape(batch, 3, 50, 32), cnn_shape(batch, 50, 50, 32), cnn_shape(batch, 50, 100, 16),
          cnn_shape(batch, 100, 100, 16)};
}

std::string label(const ConvShape& s) {
  return std::to_string(s.c) + "to" + std::to_string(s.k) + "_" + std::to_string(s.h) + "x" + std::to_string(s.w) +
         "_n" + std::to_string(s.n);
}

double pass_flops(const ConvShape& s) { return 2.0 * s.n * s.k * s.c * s.r * s.s * s.out_h() * s.out_w(); }

void set_counters(benchmark::State& state, const ConvShape& s, double seconds, std::int64_t iterations) {
  if (seconds <= 0) return;
  state.counters["images/s"] = double(s.n) * double(iterations) / seconds;
  state.counters["TFLOP/s"] = pass_flops(s) * double(iterations) / seconds / 1e12;
}

// x, w, y and their gradients on one device, filled with values in [-1, 1).
struct Buffers {
  Tensor x, w, y, dx, dw, dy;
  Buffers(const ConvShape& s, Device device) {
    const auto random = [&](std::int64_t count, std::uint32_t stream) {
      std::vector<float> v(static_cast<std::size_t>(count));
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = 2.0f * philox_uniform(2018, stream, i) - 1.0f;
      return Tensor::from_vector({count}, v).to(device);
    };
    const std::int64_t xs = s.n * s.c * s.h * s.w, ws = s.k * s.c * s.r * s.s, ys = s.n * s.k * s.out_h() * s.out_w();
    x = random(xs, 1), w = random(ws, 2), dy = random(ys, 3);
    y = Tensor::empty({ys}, DType::f32, device), dx = Tensor::empty({xs}, DType::f32, device);
    dw = Tensor::empty({ws}, DType::f32, device);
  }
};

void run_pass(const Context& ctx, const ConvPlan& plan, ConvPass pass, Buffers& b) {
  switch (pass) {
    case ConvPass::forward: kernels::conv2d_forward(ctx, plan, b.x.data<float>(), b.w.data<float>(), b.y.data<float>()); break;
    case ConvPass::backward_data:
      kernels::conv2d_backward_data(ctx, plan, b.dy.data<float>(), b.w.data<float>(), b.dx.data<float>());
      break;
    case ConvPass::backward_filter:
      kernels::conv2d_backward_filter(ctx, plan, b.x.data<float>(), b.dy.data<float>(), b.dw.data<float>());
      break;
  }
}

void register_cpu_benchmarks() {
  for (const ConvShape& s : cnn_shapes(2)) {
    auto buffers = std::make_shared<Buffers>(s, Device::cpu);
    const ConvPlan plan = kernels::make_conv_plan(Context::cpu(), s, {});
    for (ConvPass pass : kPasses) {
      const std::string name = std::string("conv/cpu/") + kernels::conv_pass_name(pass) + "/" + label(s);
      benchmark::RegisterBenchmark(
          name.c_str(),
          [=](benchmark::State& state) {
            double seconds = 0;
            for (auto _ : state) {
              const auto start = std::chrono::steady_clock::now();
              run_pass(Context::cpu(), plan, pass, *buffers);
              seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            }
            set_counters(state, s, seconds, state.iterations());
          })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

std::string describe(ConvPass pass, const ConvAlgorithmChoice& choice) {
  std::string name = kernels::conv_choice_name(pass, choice);
  for (char& c : name)
    if (c == ' ') c = ',';
  return name;
}

// Times `pass` of `plan` with CUDA events on the context's stream, one call per iteration.
void time_gpu_pass(benchmark::State& state, const ConvPlan& plan, ConvPass pass, Buffers& buffers) {
  Context& gpu = Context::cuda();
  try {
    run_pass(gpu, plan, pass, buffers);  // warm-up: module loading, first-call setup
    gpu.synchronize();
    const double seconds =
        time_gpu_iterations(state, gpu, 1, [&] { run_pass(gpu, plan, pass, buffers); });
    set_counters(state, plan.shape, seconds, state.iterations());
    state.counters["workspace_MiB"] = double(plan.of(pass).workspace_bytes) / (1 << 20);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void register_gpu_benchmarks() {
  Context& gpu = Context::cuda();
  for (const ConvShape& s : cnn_shapes(64)) {
    auto buffers = std::make_shared<Buffers>(s, Device::cuda);
    for (Precision precision : {Precision::fp32, Precision::tf32}) {
      kernels::ConvOptions autotuned;
      autotuned.precision = precision;
      kernels::ConvOptions heuristic = autotuned;
      heuristic.autotune = false;
      const ConvPlan chosen = kernels::make_conv_plan(gpu, s, autotuned);
      const ConvPlan heuristic_plan = kernels::make_conv_plan(gpu, s, heuristic);
      for (ConvPass pass : kPasses) {
        const std::string prefix =
            std::string("conv/gpu/") + precision_name(precision) + "/" + kernels::conv_pass_name(pass) + "/" + label(s) + "/";
        std::vector<std::pair<std::string, ConvPlan>> variants = {
            {"chosen:" + describe(pass, chosen.of(pass)), chosen},
            {"heuristic:" + describe(pass, heuristic_plan.of(pass)), heuristic_plan}};
        for (const ConvAlgorithmChoice& choice : kernels::find_conv_algorithms(gpu, chosen, pass))
          variants.emplace_back(describe(pass, choice), kernels::conv_plan_with_choice(gpu, chosen, pass, choice));
        for (const auto& [suffix, plan] : variants) {
          const ConvPlan variant_plan = plan;
          benchmark::RegisterBenchmark(
              (prefix + suffix).c_str(),
              [=](benchmark::State& state) { time_gpu_pass(state, variant_plan, pass, *buffers); })
              ->UseManualTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace
}  // namespace rosetta

int main(int argc, char** argv) {
  return rosetta::benchmark_main(argc, argv, "bench_conv", rosetta::register_cpu_benchmarks,
                                 rosetta::register_gpu_benchmarks);
}
