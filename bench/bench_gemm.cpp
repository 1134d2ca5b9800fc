// GEMM benchmarks: the CPU twin at small sizes, and cuBLAS strict fp32 against tf32 at the CNN's fully
// connected shapes (batch 64). Every case reports its time per GEMM and a TFLOP/s counter (2 m n k per GEMM).
// GPU cases time a burst of kBurst GEMMs between two CUDA events on the context's stream, so launch overhead is
// amortised as in a training step; they are registered only when a device is present.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "kernels/gemm.h"
#include "runtime/device.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace rosetta {
namespace {

struct Shape3 {
  const char* name;
  bool trans_a, trans_b;
  std::int64_t m, n, k;
};

std::vector<float> uniform(std::int64_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = 2.0f * philox_uniform(seed, 0, static_cast<std::uint64_t>(i)) - 1.0f;
  return v;
}

double flops(const Shape3& s) { return 2.0 * double(s.m) * double(s.n) * double(s.k); }

void report(benchmark::State& state, const Shape3& s, double seconds, double gemms) {
  state.counters["TFLOP/s"] = seconds > 0 ? flops(s) * gemms / seconds / 1e12 : 0.0;
}

void cpu_gemm(benchmark::State& state, Shape3 s) {
  const std::vector<float> a = uniform(s.m * s.k, 1), b = uniform(s.k * s.n, 2);
  std::vector<float> c(s.m * s.n);
  double seconds = 0, gemms = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    kernels::gemm(Context::cpu(), s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, a.data(), b.data(), 0.0f, c.data(),
                       Precision::fp32);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    benchmark::DoNotOptimize(c.data());
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    gemms += 1;
  }
  report(state, s, seconds, gemms);
}

constexpr int kBurst = 20;

void cuda_gemm(benchmark::State& state, Shape3 s, Precision precision) {
  Context& gpu = Context::cuda();
  // Inputs copied on the context's stream (it is non-blocking, so a legacy-stream cudaMemcpy is not ordered
  // with it); C needs no initial value (beta = 0).
  Tensor a = Tensor::empty({s.m * s.k}, DType::f32, Device::cuda);
  Tensor b = Tensor::empty({s.k * s.n}, DType::f32, Device::cuda);
  a.copy_from(Tensor::from_vector({s.m * s.k}, uniform(s.m * s.k, 1)), gpu.stream());
  b.copy_from(Tensor::from_vector({s.k * s.n}, uniform(s.k * s.n, 2)), gpu.stream());
  Tensor c = Tensor::empty({s.m * s.n}, DType::f32, Device::cuda);
  const auto one_gemm = [&] {
    kernels::gemm(gpu, s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, a.data<float>(), b.data<float>(), 0.0f,
                        c.data<float>(), precision);
  };
  for (int r = 0; r < kBurst; ++r) one_gemm();  // warm-up: cuBLAS picks and loads its kernels
  gpu.synchronize();
  const double seconds = time_gpu_iterations(state, gpu, kBurst, one_gemm);  // per GEMM, kBurst per iteration
  report(state, s, seconds, double(state.iterations()) * kBurst);
}

// The CNN's fully connected layers at batch 64: fc1 is 6400 -> 512, fc2 512 -> 10 (weights stored (out, in)).
const Shape3 kFcShapes[] = {
    {"fc1_forward_64x512x6400_NT", false, true, 64, 512, 6400},
    {"fc1_dinput_64x6400x512_NN", false, false, 64, 6400, 512},
    {"fc1_dweight_512x6400x64_TN", true, false, 512, 6400, 64},
    {"fc2_forward_64x10x512_NT", false, true, 64, 10, 512},
    {"fc2_dinput_64x512x10_NN", false, false, 64, 512, 10},
    {"fc2_dweight_10x512x64_TN", true, false, 10, 512, 64},
};

const Shape3 kCpuShapes[] = {
    {"square_64", false, false, 64, 64, 64},
    {"square_128", false, false, 128, 128, 128},
    {"square_256", false, false, 256, 256, 256},
    {"square_256_NT", false, true, 256, 256, 256},
    {"square_256_TN", true, false, 256, 256, 256},
    {"fc2_forward_64x10x512_NT", false, true, 64, 10, 512},
    {"fc1_forward_64x512x6400_NT", false, true, 64, 512, 6400},
};

void register_cpu_benchmarks() {
  for (const Shape3& s : kCpuShapes)
    benchmark::RegisterBenchmark((std::string("cpu_gemm/") + s.name).c_str(),
                                 [s](benchmark::State& state) { cpu_gemm(state, s); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
}

void register_gpu_benchmarks() {
  for (const Precision precision : {Precision::fp32, Precision::tf32})
    for (const Shape3& s : kFcShapes)
      benchmark::RegisterBenchmark((std::string("cublas_gemm/") + precision_name(precision) + "/" + s.name).c_str(),
                                   [s, precision](benchmark::State& state) { cuda_gemm(state, s, precision); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace rosetta

int main(int argc, char** argv) {
  return rosetta::benchmark_main(argc, argv, "bench_gemm", rosetta::register_cpu_benchmarks,
                                 rosetta::register_gpu_benchmarks);
}
