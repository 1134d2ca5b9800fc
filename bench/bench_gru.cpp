// Google Benchmark of the IMDB workload's recurrent part, through the layers (layers/gru.h, layers/embedding.h):
//
// GPU, the workload's shape (T 150, N 64, I 125, H 100): the GRU's forward, and forward + backward ("train"), for
//   cudnn/<algorithm>   cuDNN's RNN API: standard and every persistent algorithm cuDNN accepts for the shape
//                       (rejected ones are listed on stderr, not registered), on the packed (T, N, C) layout
//   cudnn/standard-padded-io   the standard algorithm on the unpacked layout with padded I/O (the ablation)
//   persistent          rosetta's one-launch GRU (kernels/cuda/gru_persistent.cu): W_hh in registers, whole
//                       sequences per block, the GEMMs outside the recurrence
//   naive               one cuBLAS GEMM and one fused gate kernel per step (the ablation)
// each in the time-major layout (tnc) and batch-first (ntc, which adds the transposes a batch-first framework
// pays), in fp32; cudnn/standard, persistent and naive also in tf32 (the persistent recurrence stays FP32: only its
// GEMMs change). Plus the embedding (30000 x 125) forward and its
// deterministic backward on an IMDB-like batch of ids.
// CPU, a small shape (T 20, N 8, I 125, H 100): the CPU twin's forward and train; and the whole IMDB training step
// (embedding, GRU, l_out, loss, Adam) at the workload's shape.
// GPU times come from CUDA events around each iteration (manual time); counters: sequences/s (N per iteration).
//
// Run: build with -DROSETTA_BENCHMARKS=ON, then ./build/bench/bench_gru [--benchmark_filter=gru/gpu/fp32].
// GPU benchmarks are registered only when a device is present.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "layers/embedding.h"
#include "layers/gru.h"
#include "models/imdb_gru.h"
#include "runtime/device.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace rosetta {
namespace {

constexpr std::int64_t kVocab = 30000, kEmbedding = 125, kHidden = 100;

enum class Pass { forward, train };
const char* pass_name(Pass pass) { return pass == Pass::forward ? "forward" : "train"; }

Tensor random_tensor(const Shape& shape, std::uint32_t stream, Device device) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 2.0f * philox_uniform(2018, stream, i) - 1.0f;
  return Tensor::from_vector(shape, v).to(device);
}

// A GRU layer with PyTorch's default init, set up for one batch, with an input and an output gradient.
struct GruBench {
  ParameterSet params;
  GRU gru;
  Tensor x, dh;
  GruBench(const Context& ctx, std::int64_t t, std::int64_t n, const GruOptions& options)
      : gru(params, "gru", kEmbedding, kHidden) {
    params.allocate(ctx.device());
    gru.init_default(1);
    const Shape input = options.layout == SequenceLayout::ntc ? Shape{n, t, kEmbedding} : Shape{t, n, kEmbedding};
    gru.setup(ctx, input, options);
    x = random_tensor(input, 1, ctx.device());
    dh = random_tensor(gru.output_shape(), 2, ctx.device());
  }
  void run(const Context& ctx, Pass pass) {
    gru.forward(ctx, x);
    if (pass == Pass::train) gru.backward(ctx, dh);
  }
  std::int64_t batch() const { return gru.shape().n; }
};

void set_counters(benchmark::State& state, std::int64_t batch, double seconds) {
  if (seconds > 0) state.counters["sequences/s"] = double(batch) * double(state.iterations()) / seconds;
}

// The whole IMDB training step (embedding, GRU, l_out, loss, Adam) at the workload's shape, on the CPU: the unit
// compared with PyTorch's CPU build (tools/cpu_step_benchmark.sh).
void cpu_model_step(benchmark::State& state) {
  const Context& cpu = Context::cpu();
  ImdbGRU model(Device::cpu);
  model.init_default(1);
  ImdbGruOptions options;
  model.setup(cpu, options);
  Tensor tokens = Tensor::empty({options.steps, options.batch}, DType::i32);
  Tensor labels = Tensor::empty({options.batch}, DType::i32);
  for (std::int64_t i = 0; i < tokens.numel(); ++i)
    tokens.data<std::int32_t>()[i] = static_cast<std::int32_t>(philox_u32(3, 0, i) % ImdbGRU::kVocabulary);
  for (std::int64_t i = 0; i < options.batch; ++i) labels.data<std::int32_t>()[i] = static_cast<std::int32_t>(i % 2);
  model.step(cpu, tokens, labels);
  for (auto _ : state) model.step(cpu, tokens, labels);
  state.counters["sequences/s"] =
      benchmark::Counter(double(options.batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void register_cpu_benchmarks() {
  benchmark::RegisterBenchmark("gru_step/cpu/fp32/batch64/T150", cpu_model_step)
      ->Repetitions(3)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (Pass pass : {Pass::forward, Pass::train}) {
    auto bench = std::make_shared<GruBench>(Context::cpu(), 20, 8, GruOptions{});
    benchmark::RegisterBenchmark((std::string("gru/cpu/") + pass_name(pass) + "/T20_N8").c_str(),
                                 [=](benchmark::State& state) {
                                   double seconds = 0;
                                   for (auto _ : state) {
                                     const auto start = std::chrono::steady_clock::now();
                                     bench->run(Context::cpu(), pass);
                                     seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                                                    .count();
                                   }
                                   set_counters(state, bench->batch(), seconds);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

// Times `body` on the GPU, one call per iteration, after one warm-up call.
template <typename Body>
void time_gpu(benchmark::State& state, std::int64_t batch, Body body) {
  Context& gpu = Context::cuda();
  try {
    body();
    gpu.synchronize();
    set_counters(state, batch, time_gpu_iterations(state, gpu, 1, body));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

struct Variant {
  std::string name;  // "cudnn/standard", "naive"
  GruOptions options;
};

std::vector<Variant> gru_variants(Precision precision) {
  std::vector<Variant> variants;
  std::vector<kernels::GruCudnnAlgorithm> algorithms = {kernels::GruCudnnAlgorithm::standard};
  if (precision == Precision::fp32)
    algorithms.insert(algorithms.end(), {kernels::GruCudnnAlgorithm::persist_static,
                                         kernels::GruCudnnAlgorithm::persist_dynamic,
                                         kernels::GruCudnnAlgorithm::persist_static_small_h});
  for (kernels::GruCudnnAlgorithm algorithm : algorithms) {
    GruOptions o;
    o.precision = precision;
    o.implementation = kernels::GruImplementation::cudnn;
    o.algorithm = algorithm;
    variants.push_back({std::string("cudnn/") + kernels::gru_cudnn_algorithm_name(algorithm), o});
  }
  GruOptions padded;  // the standard algorithm on the unpacked layout with padded I/O (the ablation)
  padded.precision = precision;
  padded.implementation = kernels::GruImplementation::cudnn;
  padded.algorithm = kernels::GruCudnnAlgorithm::standard;
  padded.padded_io = true;
  variants.push_back({"cudnn/standard-padded-io", padded});
  for (kernels::GruImplementation implementation :
       {kernels::GruImplementation::persistent, kernels::GruImplementation::naive}) {
    GruOptions o;
    o.precision = precision;
    o.implementation = implementation;
    variants.push_back({kernels::gru_implementation_name(implementation), o});
  }
  return variants;
}

void register_gru_gpu_benchmarks() {
  Context& gpu = Context::cuda();
  for (Precision precision : {Precision::fp32, Precision::tf32}) {
    for (const Variant& variant : gru_variants(precision)) {
      for (SequenceLayout layout : {SequenceLayout::tnc, SequenceLayout::ntc}) {
        if (precision == Precision::tf32 && layout == SequenceLayout::ntc) continue;
        GruOptions options = variant.options;
        options.layout = layout;
        std::shared_ptr<GruBench> bench;
        try {
          bench = std::make_shared<GruBench>(gpu, 150, 64, options);
        } catch (const Error& e) {
          std::fprintf(stderr, "[rosetta] gru/gpu/%s/%s not registered: %s\n", precision_name(precision),
                       variant.name.c_str(), e.what());
          break;
        }
        for (Pass pass : {Pass::forward, Pass::train}) {
          const std::string name = std::string("gru/gpu/") + precision_name(precision) + "/" + variant.name + "/" +
                                   sequence_layout_name(layout) + "/" + pass_name(pass) + "/T150_N64_I125_H100";
          benchmark::RegisterBenchmark(name.c_str(),
                                       [=](benchmark::State& state) {
                                         time_gpu(state, bench->batch(), [&] { bench->run(Context::cuda(), pass); });
                                       })
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
}

// The embedding at the IMDB batch: ids (150, 64), about a third padding (id 0), the rest skewed to frequent words.
void register_embedding_gpu_benchmarks() {
  struct EmbeddingBench {
    ParameterSet params;
    Embedding embedding{params, "embedding", kVocab, kEmbedding};
    Tensor ids, d_out;
  };
  Context& gpu = Context::cuda();
  auto bench = std::make_shared<EmbeddingBench>();
  bench->params.allocate(Device::cuda);
  bench->embedding.init_default(1);
  bench->embedding.setup(gpu, {150, 64});
  Tensor ids = Tensor::empty({150, 64}, DType::i32);
  for (std::int64_t p = 0; p < ids.numel(); ++p) {
    const float u = philox_uniform(7, 0, p), w = philox_uniform(7, 1, p);
    ids.data<std::int32_t>()[p] = u < 0.33f ? 0 : static_cast<std::int32_t>(1 + (kVocab - 2) * w * w * w * w);
  }
  bench->ids = ids.to(Device::cuda);
  bench->d_out = random_tensor(bench->embedding.output_shape(), 3, Device::cuda);
  bench->embedding.forward(gpu, bench->ids);  // the backward reads the ids of the last forward
  for (bool backward : {false, true}) {
    const std::string name =
        std::string("embedding/gpu/") + (backward ? "backward" : "forward") + "/V30000_D125_T150_N64";
    benchmark::RegisterBenchmark(name.c_str(),
                                 [=](benchmark::State& state) {
                                   time_gpu(state, 64, [&] {
                                     if (backward)
                                       bench->embedding.backward(Context::cuda(), bench->d_out);
                                     else
                                       bench->embedding.forward(Context::cuda(), bench->ids);
                                   });
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

void register_gpu_benchmarks() {
  register_gru_gpu_benchmarks();
  register_embedding_gpu_benchmarks();
}

}  // namespace
}  // namespace rosetta

int main(int argc, char** argv) {
  return rosetta::benchmark_main(argc, argv, "bench_gru", rosetta::register_cpu_benchmarks,
                                 rosetta::register_gpu_benchmarks);
}
