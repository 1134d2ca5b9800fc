// Max pooling: the reference against hand-computed cases (first-max tie rule, padding never wins, overlapping
// windows, NaN), central differences in double (ties avoided), PyTorch as an optional oracle, and on a GPU the
// CUDA twin against the CPU twin bit for bit, for the CNN's window 2 stride 2 and ResNet-50's window 3 stride 2
// pad 1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/pool.h"
#include "kernels/reference/pool.h"
#include "runtime/error.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"
#include "tests/support/python.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

struct PoolShape {
  std::int64_t n, c, h, w;
  int window, stride, pad;
  std::int64_t oh() const { return kernels::reference::pool_out_size(h, window, stride, pad); }
  std::int64_t ow() const { return kernels::reference::pool_out_size(w, window, stride, pad); }
  std::size_t inputs() const { return static_cast<std::size_t>(n * c * h * w); }
  std::size_t outputs() const { return static_cast<std::size_t>(n * c * oh() * ow()); }
  std::string str() const {
    return "(" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) +
           ") window " + std::to_string(window) + " stride " + std::to_string(stride) + " pad " + std::to_string(pad);
  }
};

constexpr PoolShape kCnnPool{2, 3, 8, 8, 2, 2, 0};     // the CIFAR CNN's pooling
constexpr PoolShape kResNetPool{2, 3, 9, 9, 3, 2, 1};  // ResNet-50's stem pooling (overlapping windows)

struct CpuPool {
  std::vector<float> y;
  std::vector<std::int32_t> argmax;
};

CpuPool cpu_forward(const PoolShape& s, const std::vector<float>& x) {
  CpuPool out{std::vector<float>(s.outputs()), std::vector<std::int32_t>(s.outputs())};
  kernels::cpu::maxpool2d_forward(Context::cpu(), x.data(), out.y.data(), out.argmax.data(), s.n, s.c, s.h, s.w,
                                  s.window, s.stride, s.pad);
  return out;
}

std::vector<float> cpu_backward(const PoolShape& s, const std::vector<float>& dy,
                                const std::vector<std::int32_t>& argmax) {
  std::vector<float> dx(s.inputs());
  kernels::cpu::maxpool2d_backward(Context::cpu(), dy.data(), argmax.data(), dx.data(), s.n, s.c, s.h, s.w, s.window,
                                   s.stride, s.pad);
  return dx;
}

TEST(MaxPool, HandComputedWindow2Stride2WithFirstMaxTieRule) {
  const PoolShape s{1, 1, 4, 4, 2, 2, 0};
  const std::vector<float> x = {1,  5,  2, 0,   //
                                3,  4,  8, 7,   //
                                -1, -2, 6, 6,   //
                                -3, 0,  6, 6};  // the bottom-right window is a four-way tie: the first 6 wins
  const CpuPool out = cpu_forward(s, x);
  EXPECT_EQ(out.y, (std::vector<float>{5, 8, 0, 6}));
  EXPECT_EQ(out.argmax, (std::vector<std::int32_t>{1, 6, 13, 10}));
  const std::vector<float> dx = cpu_backward(s, {1, 2, 3, 4}, out.argmax);
  EXPECT_EQ(dx, (std::vector<float>{0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 3, 0, 0}));
}

TEST(MaxPool, PaddingNeverWinsWindow3Stride2Pad1) {
  // All inputs negative and decreasing in row-major order: each window's maximum is its first in-image element,
  // at (max(2 oh - 1, 0), max(2 ow - 1, 0)). Were padding a candidate, every output would be 0.
  const PoolShape s{1, 1, 5, 5, 3, 2, 1};
  std::vector<float> x(25);
  for (int i = 0; i < 25; ++i) x[i] = -float(i + 1);
  const CpuPool out = cpu_forward(s, x);
  const std::vector<std::int32_t> expected = {0, 1, 3, 5, 6, 8, 15, 16, 18};
  EXPECT_EQ(out.argmax, expected);
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(out.y[i], -float(expected[i] + 1));
}

TEST(MaxPool, OverlappingWindowsSumTheirGradientsIntoTheSharedMaximum) {
  // Element (1, 1) lies in the four windows (0..1, 0..1) of a 5x5 image pooled 3/2/1 and is their maximum.
  const PoolShape s{1, 1, 5, 5, 3, 2, 1};
  std::vector<float> x(25, 0.0f);
  x[6] = 10.0f;
  const CpuPool out = cpu_forward(s, x);
  for (int window : {0, 1, 3, 4}) EXPECT_EQ(out.argmax[window], 6) << "window " << window;
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> dx = cpu_backward(s, dy, out.argmax);
  EXPECT_EQ(dx[6], 1 + 2 + 4 + 5);
  EXPECT_EQ(std::accumulate(dx.begin(), dx.end(), 0.0f), 45.0f) << "each window's gradient goes to one element";
}

TEST(MaxPool, NanIsTheMaximumAndTheLastNanWins) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const PoolShape s{1, 1, 2, 4, 2, 2, 0};
  const std::vector<float> x = {1, nan, nan, 3,  //
                                7, 2,   4,   nan};
  const CpuPool out = cpu_forward(s, x);
  EXPECT_TRUE(std::isnan(out.y[0]));
  EXPECT_TRUE(std::isnan(out.y[1]));
  EXPECT_EQ(out.argmax, (std::vector<std::int32_t>{1, 7}));  // PyTorch: "val > max || isnan(val)" replaces
}

TEST(MaxPool, RejectsUnsupportedArguments) {
  std::vector<float> x(16), y(16);
  std::vector<std::int32_t> argmax(16);
  EXPECT_THROW(kernels::cpu::maxpool2d_forward(Context::cpu(), x.data(), y.data(), argmax.data(), 1, 1, 4, 4, 2, 2, 2),
               Error);  // pad > window / 2
  EXPECT_THROW(kernels::cpu::maxpool2d_forward(Context::cpu(), x.data(), y.data(), argmax.data(), 1, 1, 4, 4, 2, 0, 0),
               Error);  // stride 0
  EXPECT_THROW(kernels::cpu::maxpool2d_forward(Context::cpu(), x.data(), y.data(), argmax.data(), 1, 1, 1, 1, 3, 1, 0),
               Error);  // window larger than the input
}

// Distinct values spaced 0.01 apart in a random order: a 1e-6 step never changes a window's maximum, so the
// central difference is exact away from ties.
std::vector<double> distinct_values(std::size_t count, std::uint64_t seed) {
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = count; i > 1; --i) std::swap(order[i - 1], order[philox_u32(seed, 0, i) % i]);
  std::vector<double> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = 0.01 * (double(order[i]) - double(count) / 2);
  return v;
}

TEST(MaxPool, BackwardMatchesCentralDifferences) {
  for (const PoolShape& s : {kCnnPool, kResNetPool, PoolShape{1, 2, 8, 6, 3, 2, 1}, PoolShape{1, 2, 7, 9, 2, 2, 0}}) {
    SCOPED_TRACE(s.str());
    const std::vector<double> x = distinct_values(s.inputs(), 11);
    std::vector<std::int32_t> argmax(s.outputs());
    const testing::Forward forward = [&](const std::vector<double>& xv) {
      std::vector<double> y(s.outputs());
      kernels::reference::maxpool2d_forward(xv.data(), y.data(), argmax.data(), s.n, s.c, s.h, s.w, s.window, s.stride,
                                            s.pad);
      return y;
    };
    const testing::Backward backward = [&](const std::vector<double>& xv, const std::vector<double>& dy) {
      forward(xv);  // the argmax at x itself
      std::vector<double> dx(s.inputs());
      kernels::reference::maxpool2d_backward(dy.data(), argmax.data(), dx.data(), s.n, s.c, s.h, s.w, s.window,
                                             s.stride, s.pad);
      return dx;
    };
    EXPECT_EQ(testing::check_gradient(forward, backward, x), static_cast<int>(x.size()));
  }
}

// PyTorch (float64, CPU) as an independent oracle: maxima, indices (also on heavily tied data, for the tie rule)
// and gradients. Both sides add at most a few dy values per input; 1e-12 covers a different addition order.
constexpr const char* kTorchScript = R"(
import sys, numpy as np, torch
d = sys.argv[1]
n, c, h, w, k, s, p = map(int, sys.argv[2:])
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float64).reshape(n, c, h, w)).requires_grad_(True)
y, idx = torch.nn.functional.max_pool2d(x, k, s, p, return_indices=True)
dy = torch.from_numpy(np.fromfile(d + '/dy.bin', dtype=np.float64).reshape(y.shape))
y.backward(dy)
y.detach().numpy().tofile(d + '/y.bin')
idx.numpy().astype(np.int32).tofile(d + '/idx.bin')
x.grad.numpy().tofile(d + '/dx.bin')
)";

template <typename T>
void write_raw(const std::filesystem::path& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

template <typename T>
std::vector<T> read_raw(const std::filesystem::path& path, std::size_t count) {
  std::vector<T> v(count);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T)));
  EXPECT_EQ(static_cast<std::size_t>(in.gcount()), count * sizeof(T)) << path;
  return v;
}

TEST(MaxPool, MatchesPyTorchWhereAvailable) {
  if (!testing::torch_unavailable_reason().empty()) GTEST_SKIP() << testing::torch_unavailable_reason();
  const std::string python = testing::python_interpreter();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rosetta_pool_oracle_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "oracle.py") << kTorchScript;
  for (const PoolShape& s : {kCnnPool, kResNetPool, PoolShape{1, 2, 8, 6, 3, 2, 1}}) {
    for (bool ties : {false, true}) {
      SCOPED_TRACE(s.str() + (ties ? " with ties" : ""));
      std::vector<double> x = testing::random_doubles(s.inputs(), -1, 1, 51);
      if (ties)
        for (double& v : x) v = std::floor(v * 2);  // values in {-2, -1, 0, 1}: most windows tie
      const std::vector<double> dy = testing::random_doubles(s.outputs(), -1, 1, 52);
      write_raw(dir / "x.bin", x), write_raw(dir / "dy.bin", dy);
      std::string command = std::string(python) + " " + (dir / "oracle.py").string() + " " + dir.string();
      for (std::int64_t v : {s.n, s.c, s.h, s.w, std::int64_t(s.window), std::int64_t(s.stride), std::int64_t(s.pad)})
        command += " " + std::to_string(v);
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
      std::vector<double> y(s.outputs()), dx(s.inputs());
      std::vector<std::int32_t> argmax(s.outputs());
      kernels::reference::maxpool2d_forward(x.data(), y.data(), argmax.data(), s.n, s.c, s.h, s.w, s.window, s.stride,
                                            s.pad);
      kernels::reference::maxpool2d_backward(dy.data(), argmax.data(), dx.data(), s.n, s.c, s.h, s.w, s.window,
                                             s.stride, s.pad);
      EXPECT_EQ(y, read_raw<double>(dir / "y.bin", y.size()));
      EXPECT_EQ(argmax, read_raw<std::int32_t>(dir / "idx.bin", argmax.size()));
      const std::vector<double> torch_dx = read_raw<double>(dir / "dx.bin", dx.size());
      for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], torch_dx[i], 1e-12) << "dx " << i;
    }
  }
  std::filesystem::remove_all(dir);
}

#if ROSETTA_WITH_CUDA  // a CPU-only build has no CUDA twin to link
// Bit patterns, so NaN compares equal to the same NaN.
std::vector<std::uint32_t> bits(const std::vector<float>& v) {
  std::vector<std::uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

TEST(MaxPoolCuda, MatchesCpuBitForBit) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  // The CNN's two poolings at batch 4, ResNet-50's stem pooling at batch 2, and odd sizes for both rules.
  for (const PoolShape& s :
       {PoolShape{4, 50, 32, 32, 2, 2, 0}, PoolShape{4, 100, 16, 16, 2, 2, 0}, PoolShape{2, 64, 112, 112, 3, 2, 1},
        PoolShape{3, 5, 9, 7, 2, 2, 0}, PoolShape{3, 5, 10, 11, 3, 2, 1}}) {
    SCOPED_TRACE(s.str());
    // Quantised values make ties common (so the tie rule is exercised); a few NaNs test propagation.
    std::vector<float> x = testing::random_floats(s.inputs(), -4, 4, 61);
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = std::floor(x[i]);
      if (philox_u32(62, 0, i) % 997 == 0) x[i] = std::numeric_limits<float>::quiet_NaN();
    }
    const std::vector<float> dy = testing::random_floats(s.outputs(), -1, 1, 63);
    const CpuPool cpu = cpu_forward(s, x);
    const std::vector<float> cpu_dx = cpu_backward(s, dy, cpu.argmax);

    const std::int64_t inputs = static_cast<std::int64_t>(s.inputs()), outputs = static_cast<std::int64_t>(s.outputs());
    const Tensor xd = Tensor::from_vector({inputs}, x).to(Device::cuda);
    const Tensor dyd = Tensor::from_vector({outputs}, dy).to(Device::cuda);
    Tensor yd = Tensor::empty({outputs}, DType::f32, Device::cuda),
           dxd = Tensor::empty({inputs}, DType::f32, Device::cuda);
    Tensor argmaxd = Tensor::empty({outputs}, DType::i32, Device::cuda);
    kernels::cuda::maxpool2d_forward(gpu, xd.data<float>(), yd.data<float>(), argmaxd.data<std::int32_t>(), s.n, s.c,
                                     s.h, s.w, s.window, s.stride, s.pad);
    kernels::cuda::maxpool2d_backward(gpu, dyd.data<float>(), argmaxd.data<std::int32_t>(), dxd.data<float>(), s.n, s.c,
                                      s.h, s.w, s.window, s.stride, s.pad);
    gpu.synchronize();
    const Tensor argmax_host = argmaxd.to(Device::cpu);
    const std::int32_t* a = argmax_host.data<std::int32_t>();
    EXPECT_EQ(std::vector<std::int32_t>(a, a + outputs), cpu.argmax);
    EXPECT_EQ(bits(yd.to_vector()), bits(cpu.y));
    EXPECT_EQ(bits(dxd.to_vector()), bits(cpu_dx));
  }
}
#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
