// Pooling (kernels/pool.h): max pooling's reference against hand-computed cases (first-max tie rule, padding never
// wins, overlapping windows, NaN), central differences in double (ties avoided) and PyTorch as an optional oracle,
// for the CNN's window 2 stride 2 and ResNet-50's window 3 stride 2 pad 1; NHWC as the transposed NCHW pooling (arg-max
// and gradient included) and bf16 as the float pooling of the rounded values, bit for bit; global average pooling by
// hand in both layouts. (The CUDA twins: the op table, tests/test_ops.cpp.)
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
#include "tests/support/relayout.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

using kernels::PoolShape;

std::size_t inputs(const PoolShape& s) { return static_cast<std::size_t>(s.n * s.c * s.h * s.w); }
std::size_t outputs(const PoolShape& s) { return static_cast<std::size_t>(s.n * s.c * s.out_h() * s.out_w()); }

constexpr PoolShape kCnnPool{2, 3, 8, 8, 2, 2, 0};     // the CIFAR CNN's pooling
constexpr PoolShape kResNetPool{2, 3, 9, 9, 3, 2, 1};  // ResNet-50's stem pooling (overlapping windows)

struct CpuPool {
  std::vector<float> y;
  std::vector<std::int32_t> argmax;
};

CpuPool cpu_forward(const PoolShape& s, const std::vector<float>& x, Layout layout = Layout::nchw) {
  CpuPool out{std::vector<float>(outputs(s)), std::vector<std::int32_t>(outputs(s))};
  kernels::maxpool2d_forward(Context::cpu(), s, layout, x.data(), out.y.data(), out.argmax.data());
  return out;
}

std::vector<float> cpu_backward(const PoolShape& s, const std::vector<float>& dy, const std::vector<std::int32_t>& argmax,
                                Layout layout = Layout::nchw) {
  std::vector<float> dx(inputs(s));
  kernels::maxpool2d_backward(Context::cpu(), s, layout, dy.data(), argmax.data(), dx.data());
  return dx;
}

// Bit patterns, so NaN compares equal to the same NaN.
std::vector<std::uint32_t> bits(const std::vector<float>& v) {
  std::vector<std::uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
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
  for (const PoolShape& bad : {PoolShape{1, 1, 4, 4, 2, 2, 2},    // pad > window / 2
                               PoolShape{1, 1, 4, 4, 2, 0, 0},    // stride 0
                               PoolShape{1, 1, 1, 1, 3, 1, 0}}) {  // window larger than the input
    EXPECT_THROW(kernels::maxpool2d_forward(Context::cpu(), bad, Layout::nchw, x.data(), y.data(), argmax.data()), Error)
        << bad.str();
  }
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
    const std::vector<double> x = distinct_values(inputs(s), 11);
    std::vector<std::int32_t> argmax(outputs(s));
    const testing::Forward forward = [&](const std::vector<double>& xv) {
      std::vector<double> y(outputs(s));
      kernels::reference::maxpool2d_forward(s, Layout::nchw, xv.data(), y.data(), argmax.data());
      return y;
    };
    const testing::Backward backward = [&](const std::vector<double>& xv, const std::vector<double>& dy) {
      forward(xv);  // the argmax at x itself
      std::vector<double> dx(inputs(s));
      kernels::reference::maxpool2d_backward(s, Layout::nchw, dy.data(), argmax.data(), dx.data());
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
      std::vector<double> x = testing::random_doubles(inputs(s), -1, 1, 51);
      if (ties)
        for (double& v : x) v = std::floor(v * 2);  // values in {-2, -1, 0, 1}: most windows tie
      const std::vector<double> dy = testing::random_doubles(outputs(s), -1, 1, 52);
      write_raw(dir / "x.bin", x), write_raw(dir / "dy.bin", dy);
      std::string command = std::string(python) + " " + (dir / "oracle.py").string() + " " + dir.string();
      for (std::int64_t v : {s.n, s.c, s.h, s.w, std::int64_t(s.window), std::int64_t(s.stride), std::int64_t(s.pad)})
        command += " " + std::to_string(v);
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
      std::vector<double> y(outputs(s)), dx(inputs(s));
      std::vector<std::int32_t> argmax(outputs(s));
      kernels::reference::maxpool2d_forward(s, Layout::nchw, x.data(), y.data(), argmax.data());
      kernels::reference::maxpool2d_backward(s, Layout::nchw, dy.data(), argmax.data(), dx.data());
      EXPECT_EQ(y, read_raw<double>(dir / "y.bin", y.size()));
      EXPECT_EQ(argmax, read_raw<std::int32_t>(dir / "idx.bin", argmax.size()));
      const std::vector<double> torch_dx = read_raw<double>(dir / "dx.bin", dx.size());
      for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], torch_dx[i], 1e-12) << "dx " << i;
    }
  }
  std::filesystem::remove_all(dir);
}

// The NHWC pooling is the NCHW one transposed, bit for bit: outputs (NaN included), arg-max and gradients.
TEST(MaxPool, NhwcIsTheTransposedNchwPooling) {
  for (const PoolShape& s : {kCnnPool, kResNetPool, PoolShape{2, 5, 9, 7, 3, 2, 1}}) {
    SCOPED_TRACE(s.str());
    std::vector<float> x = testing::random_floats(inputs(s), -4, 4, 71);
    for (float& v : x) v = std::floor(v);  // ties
    x[3] = std::numeric_limits<float>::quiet_NaN();
    const std::int64_t hw = s.h * s.w, ohw = s.out_h() * s.out_w();
    const CpuPool nchw = cpu_forward(s, x);
    const CpuPool nhwc = cpu_forward(s, testing::relaid(x, Layout::nchw, Layout::nhwc, s.n, s.c, hw), Layout::nhwc);
    EXPECT_EQ(bits(nhwc.y), bits(testing::relaid(nchw.y, Layout::nchw, Layout::nhwc, s.n, s.c, ohw)));
    EXPECT_EQ(nhwc.argmax, testing::relaid(nchw.argmax, Layout::nchw, Layout::nhwc, s.n, s.c, ohw));
    const std::vector<float> dy = testing::random_floats(outputs(s), -1, 1, 72);
    const std::vector<float> dx = cpu_backward(s, dy, nchw.argmax);
    const std::vector<float> dx_nhwc =
        cpu_backward(s, testing::relaid(dy, Layout::nchw, Layout::nhwc, s.n, s.c, ohw), nhwc.argmax, Layout::nhwc);
    EXPECT_EQ(dx_nhwc, testing::relaid(dx, Layout::nchw, Layout::nhwc, s.n, s.c, hw));
  }
}

// bf16 storage: the float pooling of the rounded values, the chosen value stored unchanged, the gradient rounded once;
// a null arg-max (inference) leaves the outputs the same.
TEST(MaxPool, Bf16IsTheFloatPoolingOfTheRoundedValues) {
  const PoolShape s = kResNetPool;
  const std::vector<float> x = testing::random_floats(inputs(s), -3, 3, 73), dy = testing::random_floats(outputs(s), -1, 1, 74);
  std::vector<bf16> xb(x.size()), dyb(dy.size()), yb(outputs(s)), dxb(inputs(s));
  std::vector<float> xr(x.size()), dyr(dy.size());
  for (std::size_t i = 0; i < x.size(); ++i) xb[i] = bf16(x[i]), xr[i] = float(xb[i]);
  for (std::size_t i = 0; i < dy.size(); ++i) dyb[i] = bf16(dy[i]), dyr[i] = float(dyb[i]);
  const CpuPool expected = cpu_forward(s, xr);
  std::vector<std::int32_t> argmax(outputs(s));
  kernels::maxpool2d_forward(Context::cpu(), s, Layout::nchw, xb.data(), yb.data(), argmax.data());
  EXPECT_EQ(argmax, expected.argmax);
  for (std::size_t i = 0; i < yb.size(); ++i) EXPECT_EQ(float(yb[i]), expected.y[i]) << i;
  std::vector<bf16> inference(outputs(s));
  kernels::maxpool2d_forward(Context::cpu(), s, Layout::nchw, xb.data(), inference.data(), nullptr);
  for (std::size_t i = 0; i < yb.size(); ++i) EXPECT_EQ(inference[i].bits, yb[i].bits) << i;
  const std::vector<float> dx = cpu_backward(s, dyr, argmax);
  kernels::maxpool2d_backward(Context::cpu(), s, Layout::nchw, dyb.data(), argmax.data(), dxb.data());
  for (std::size_t i = 0; i < dxb.size(); ++i) EXPECT_EQ(dxb[i].bits, bf16(dx[i]).bits) << i;
}

TEST(GlobalAvgPool, IsTheMeanInBothLayoutsAndStorages) {
  const std::int64_t n = 2, c = 3, hw = 7;
  const std::vector<float> x = testing::random_floats(n * c * hw, -1, 1, 6);  // NCHW (n, c, hw)
  const std::vector<float> x_nhwc = testing::relaid(x, Layout::nchw, Layout::nhwc, n, c, hw);
  std::vector<float> y(n * c), y_nhwc(n * c);
  kernels::global_avgpool_forward(Context::cpu(), Layout::nchw, x.data(), y.data(), n, c, hw);
  kernels::global_avgpool_forward(Context::cpu(), Layout::nhwc, x_nhwc.data(), y_nhwc.data(), n, c, hw);
  EXPECT_EQ(y, y_nhwc);  // the same float sums in the same order
  for (std::int64_t o = 0; o < n * c; ++o) {
    double sum = 0;
    for (std::int64_t p = 0; p < hw; ++p) sum += x[o * hw + p];
    EXPECT_NEAR(y[o], sum / hw, 1e-6) << o;  // 7 float additions of values in [-1, 1)
  }
  std::vector<bf16> xb(x.size());
  std::vector<float> xr(x.size()), mean(n * c), mean_bf16(n * c);
  for (std::size_t i = 0; i < x.size(); ++i) xb[i] = bf16(x[i]), xr[i] = float(xb[i]);
  kernels::global_avgpool_forward(Context::cpu(), Layout::nchw, xr.data(), mean.data(), n, c, hw);
  kernels::global_avgpool_forward(Context::cpu(), Layout::nchw, xb.data(), mean_bf16.data(), n, c, hw);
  EXPECT_EQ(mean_bf16, mean);
}


}  // namespace
}  // namespace rosetta
