// Google Benchmark of the ResNet-50 feature extractor's forward (models/resnet50.h), the workload's unit of work.
//
// GPU, 224x224 images: the forward at batch 1, 8, 32, 128 and 256 in each precision (fp32, tf32) and layout (nchw,
// nhwc), and in bf16 (nhwc only), with every optimisation on (BN folded, fused bias/residual/ReLU, each layer's
// fastest backend by timing, the stem padded in NHWC, the forward replayed from a CUDA graph):
// "gpu/<precision>/<layout>/batch:<B>". The ablations at batch 32, each with one switch off:
// "gpu/<precision>/nchw/batch:32/no-<switch>" for graph, fuse, fold-bn and autotune (NCHW only: NHWC needs fold-bn);
// and each convolution backend forced where it accepts a layer, with the stem unpadded:
// "gpu/<precision>/<layout>/batch:32/backend:<name>" (cudnn, cudnn-graph where it runs: NHWC tf32/bf16, cublaslt) and
// ".../no-pad-stem" (NHWC).
// Timed with CUDA events around each forward (manual time). Each benchmark builds its model (random weights), plans
// it, runs 3 untimed forwards and then a fixed number of timed ones, so setup and autotuning stay outside the timing
// and only one model at a time holds device memory.
// CPU: batch 1 of 64x64 images through the CPU twins in each layout (real time), to follow the reference path's cost,
// and batches 1 and 8 of 224x224 images, the workload's size, for the comparison with PyTorch's CPU build.
// Counter: images/s.
//
// Run: build with -DROSETTA_BENCHMARKS=ON, then ./build/bench/bench_resnet50 [--benchmark_filter=gpu/fp32].
// GPU benchmarks are registered only when a device is present.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <optional>
#include <string>

#include "bench/harness.h"
#include "models/resnet50.h"
#include "runtime/cuda_graph.h"
#include "runtime/device.h"
#include "runtime/timer.h"

namespace rosetta {
namespace {

constexpr int kWarmupForwards = 3;

struct Variant {
  const char* suffix;  // "" or "/no-<switch>" or "/backend:<name>"
  bool graph, fuse, fold_bn, autotune;
  std::optional<kernels::ConvBackend> backend = std::nullopt;
  bool pad_stem = true;
};
const Variant kAllOn{"", true, true, true, true};
const Variant kAblations[] = {{"/no-graph", false, true, true, true},
                              {"/no-fuse", true, false, true, true},
                              {"/no-fold-bn", true, false, false, true},
                              {"/no-autotune", true, true, true, false}};
const Variant kBackends[] = {{"/backend:cudnn", true, true, true, true, kernels::ConvBackend::cudnn},
                             {"/backend:cudnn-graph", true, true, true, true, kernels::ConvBackend::cudnn_graph},
                             {"/backend:cublaslt", true, true, true, true, kernels::ConvBackend::cublaslt},
                             {"/no-pad-stem", true, true, true, true, std::nullopt, false}};

void run_forward(benchmark::State& state, Device device, std::int64_t batch, std::int64_t size, Precision precision,
                 Layout layout, const Variant& variant) {
  Context& ctx = Context::of(device);
  ResNet50 model(device);
  model.init_random(1);
  ResNet50Options options;
  options.batch = batch;
  options.image_size = size;
  options.precision = precision;
  options.fold_bn = variant.fold_bn;
  options.fuse = variant.fuse;
  options.autotune = variant.autotune;
  options.layout = layout;
  options.backend = variant.backend;
  options.pad_stem = variant.pad_stem;
  model.setup(ctx, options);
  Tensor images = Tensor::zeros({batch, ResNet50::kChannels, size, size}, DType::f32, device);  // (B, 3, S, S)
  for (int i = 0; i < kWarmupForwards; ++i) model.forward(ctx, images);
  const bool graph = variant.graph && device == Device::cuda;
  CudaGraph captured;
  if (graph) captured.capture(ctx, [&] { model.forward(ctx, images); });
  ctx.synchronize();
  double seconds = 0;
  if (device == Device::cuda) {
    seconds = time_gpu_iterations(state, ctx, 1, [&] {
      if (graph) {
        captured.launch(ctx);
      } else {
        model.forward(ctx, images);
      }
    });
  } else {
    SteadyTimer timer;
    for (auto _ : state) model.forward(ctx, images);
    seconds = timer.elapsed_s();
  }
  state.counters["images/s"] = double(batch) * double(state.iterations()) / seconds;
  state.counters["fused"] = model.fused_convolutions();
}

void register_gpu_benchmarks() {
  for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      if (precision == Precision::bf16 && layout == Layout::nchw) continue;  // bf16 runs NHWC only
      const std::string prefix =
          std::string("gpu/") + precision_name(precision) + "/" + layout_name(layout) + "/batch:";
      for (std::int64_t batch : {1, 8, 32, 128, 256}) {
        // About 2 s of timed forwards at the slowest (fp32, batch 256), more iterations for the small batches.
        const int iterations = batch <= 32 ? 50 : 20;
        benchmark::RegisterBenchmark(
            (prefix + std::to_string(batch)).c_str(),
            [=](benchmark::State& s) { run_forward(s, Device::cuda, batch, 224, precision, layout, kAllOn); })
            ->UseManualTime()
            ->Iterations(iterations)
            ->Unit(benchmark::kMillisecond);
      }
    }
    // The backends at batch 32 in the layout each precision runs fastest (fp32 NCHW, tf32 and bf16 NHWC).
    const Layout fastest = precision == Precision::fp32 ? Layout::nchw : Layout::nhwc;
    for (const Variant& v : kBackends) {
      ResNet50Options rules;
      rules.precision = precision, rules.layout = fastest, rules.backend = v.backend;
      if (rules.broken_rule() || (!v.pad_stem && fastest == Layout::nchw)) continue;  // graph: NHWC tf32/bf16 only
      benchmark::RegisterBenchmark(
          (std::string("gpu/") + precision_name(precision) + "/" + layout_name(fastest) + "/batch:32" + v.suffix).c_str(),
          [=](benchmark::State& s) { run_forward(s, Device::cuda, 32, 224, precision, fastest, v); })
          ->UseManualTime()
          ->Iterations(50)
          ->Unit(benchmark::kMillisecond);
    }
    if (precision == Precision::bf16) continue;  // the ablations are NCHW
    const std::string prefix = std::string("gpu/") + precision_name(precision) + "/nchw/batch:";
    for (const Variant& v : kAblations)
      benchmark::RegisterBenchmark(
          (prefix + "32" + v.suffix).c_str(),
          [=](benchmark::State& s) { run_forward(s, Device::cuda, 32, 224, precision, Layout::nchw, v); })
          ->UseManualTime()
          ->Iterations(50)
          ->Unit(benchmark::kMillisecond);
  }
}

void register_cpu_benchmarks() {
  for (Layout layout : {Layout::nchw, Layout::nhwc})
    benchmark::RegisterBenchmark(
        (std::string("cpu/fp32/") + layout_name(layout) + "/batch:1/64x64").c_str(),
        [=](benchmark::State& s) { run_forward(s, Device::cpu, 1, 64, Precision::fp32, layout, kAllOn); })
        ->Iterations(3)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  // The workload's image size, for the comparison with PyTorch's CPU build (tools/cpu_step_benchmark.sh).
  for (std::int64_t batch : {1, 8})
    benchmark::RegisterBenchmark(
        ("cpu/fp32/nchw/batch:" + std::to_string(batch) + "/224x224").c_str(),
        [=](benchmark::State& s) { run_forward(s, Device::cpu, batch, 224, Precision::fp32, Layout::nchw, kAllOn); })
        ->Iterations(5)
        ->Repetitions(3)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace rosetta

int main(int argc, char** argv) {
  return rosetta::benchmark_main(argc, argv, "bench_resnet50", rosetta::register_cpu_benchmarks,
                                 rosetta::register_gpu_benchmarks);
}
