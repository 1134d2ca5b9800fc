// Google Benchmark of one whole CifarVGG training step (forward, loss, backward, SGD), the unit the CNN
// workload repeats 7810 times. The batch is already on the device: this is the compute of a step, without the
// feed (the `rosetta train cnn` runs time the whole loop).
//
// GPU (batch 64): each mode of the step (models/cifar_vgg_options.h) the CNN workload runs: the seed's one kernel per
// layer (unfused, the step before issue 12) and the fused step in fp32 and tf32, NHWC with channels padded to 8 in tf32
// and bf16; eager launches and the step captured in a CUDA graph. Timed with CUDA events around 20 steps per
// iteration (manual time), so launch gaps count but no host wait between steps does.
// CPU (batch 4, and the workload's batch 64): the CPU twins, real time.
// Counters (rates, shown per second): images, and TFLOP from the step's multiply-adds (forward convolutions and GEMMs, the two
// backward passes of each, minus conv1's unused input gradient), from the measured time.
#include <benchmark/benchmark.h>

#include <utility>

#include "bench/harness.h"
#include "models/cifar_vgg.h"
#include "runtime/cuda_graph.h"
#include "runtime/philox.h"

namespace rosetta {
namespace {

constexpr int kStepsPerIteration = 20;

// Floating-point operations (2 per multiply-add) of one training step at `batch`.
double step_flops(std::int64_t batch) {
  const auto conv = [&](double c, double k, double size) { return 2.0 * batch * k * c * 9 * size * size; };
  const double conv1 = conv(3, 50, 32), conv2 = conv(50, 50, 32), conv3 = conv(50, 100, 16), conv4 = conv(100, 100, 16);
  const double fc = 2.0 * batch * (6400.0 * 512 + 512.0 * 10);
  return conv1 * 2 + (conv2 + conv3 + conv4 + fc) * 3;  // conv1: forward + filter gradient only
}

struct StepFixture {
  Context& ctx;
  CifarVGG model;
  Tensor images, labels;  // (B, 3, 32, 32) f32, (B,) i32 on the device

  StepFixture(Device device, std::int64_t batch, CifarVggOptions options) : ctx(Context::of(device)), model(device) {
    model.init_glorot(1);
    options.batch = batch;
    model.setup(ctx, options);
    Tensor host_images = Tensor::empty({batch, 3, 32, 32}, DType::f32);
    Tensor host_labels = Tensor::empty({batch}, DType::i32);
    for (std::int64_t i = 0; i < host_images.numel(); ++i) host_images.data<float>()[i] = philox_uniform(5, 0, i);
    for (std::int64_t i = 0; i < batch; ++i) host_labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % 10);
    images = host_images.to(device);
    labels = host_labels.to(device);
  }
  void step() { model.step(ctx, images, labels); }
};

void set_counters(benchmark::State& state, std::int64_t batch) {
  const double steps = double(state.iterations());  // manual and real time are both per step
  state.counters["images"] = benchmark::Counter(steps * batch, benchmark::Counter::kIsRate);
  state.counters["TFLOP"] = benchmark::Counter(steps * step_flops(batch) / 1e12, benchmark::Counter::kIsRate);
}

void cpu_step(benchmark::State& state, std::int64_t batch) {
  StepFixture f(Device::cpu, batch, CifarVggOptions{});
  f.step();
  for (auto _ : state) f.step();
  set_counters(state, batch);
}

void gpu_step(benchmark::State& state, const CifarVggOptions& options, bool graph) {
  constexpr std::int64_t kBatch = 64;
  StepFixture f(Device::cuda, kBatch, options);
  f.step();  // lazy library initialisation outside the timing (and outside any capture)
  CudaGraph captured;
  if (graph) captured.capture(f.ctx, [&] { f.step(); });
  time_gpu_iterations(state, f.ctx, kStepsPerIteration, [&] { graph ? captured.launch(f.ctx) : f.step(); });
  set_counters(state, kBatch);
}

void register_cpu_benchmarks() {
  // Batch 4 follows the reference path's cost; batch 64, the workload's, is compared with PyTorch's CPU build
  // (tools/cpu_step_benchmark.sh).
  benchmark::RegisterBenchmark("cnn_step/cpu/fp32/batch4", [](benchmark::State& s) { cpu_step(s, 4); })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("cnn_step/cpu/fp32/batch64", [](benchmark::State& s) { cpu_step(s, 64); })
      ->Unit(benchmark::kMillisecond)
      ->Repetitions(3)
      ->UseRealTime();
}

// A mode of the step: its precision, fusion, layout and channel padding (the ReLU runs before each pool when fused,
// after it, as the seed's, when not).
CifarVggOptions mode(Precision precision, bool fuse, Layout layout, std::int64_t channel_multiple) {
  CifarVggOptions o;
  o.conv.precision = precision, o.conv.layout = layout;
  o.fuse = fuse, o.channel_multiple = channel_multiple;
  o.relu_order = fuse ? ReluOrder::before_pool : ReluOrder::after_pool;
  return o;
}

void register_gpu_benchmarks() {
  const std::pair<const char*, CifarVggOptions> modes[] = {
      {"fp32/batch64/unfused", mode(Precision::fp32, false, Layout::nchw, 1)},
      {"fp32/batch64/fused", mode(Precision::fp32, true, Layout::nchw, 1)},
      {"tf32/batch64/unfused", mode(Precision::tf32, false, Layout::nchw, 1)},
      {"tf32/batch64/fused", mode(Precision::tf32, true, Layout::nchw, 1)},
      {"tf32/batch64/fused-nhwc-pad8", mode(Precision::tf32, true, Layout::nhwc, 8)},
      {"bf16/batch64/fused-nhwc-pad8", mode(Precision::bf16, true, Layout::nhwc, 8)},
  };
  for (const auto& [label, options] : modes) {
    for (bool graph : {false, true}) {
      const std::string name = std::string("cnn_step/gpu/") + label + "/" + (graph ? "graph" : "eager");
      const CifarVggOptions o = options;
      benchmark::RegisterBenchmark(name.c_str(), [o, graph](benchmark::State& s) { gpu_step(s, o, graph); })
          ->Unit(benchmark::kMicrosecond)
          ->UseManualTime();
    }
  }
}

}  // namespace
}  // namespace rosetta

int main(int argc, char** argv) {
  return rosetta::benchmark_main(argc, argv, "bench_cnn_step", rosetta::register_cpu_benchmarks,
                                 rosetta::register_gpu_benchmarks);
}
