// Plain-loop reference of the element-wise ops that have a backward, generic over the scalar type: float is
// what kernels/cpu runs, double is what the gradient checks run. This is the algorithm's definition.
#pragma once
#include <cstdint>

#include "kernels/dropout_draw.h"
#include "runtime/half.h"
#include "runtime/philox.h"

namespace rosetta::kernels::reference {

template <typename T>
void bias_add(T* y, const T* bias, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t i = 0; i < inner; ++i) y[(o * channels + c) * inner + i] += bias[c];
}

template <typename T>
void bias_backward(const T* dy, T* dbias, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                   bool accumulate) {
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0;  // double: the reference must not drift with the batch size
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) sum += dy[(o * channels + c) * inner + i];
    dbias[c] = static_cast<T>(accumulate ? dbias[c] + sum : sum);
  }
}

template <typename T>
void relu_forward(const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
void relu_backward(const T* y, const T* dy, T* dx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <typename T>
void dropout_forward(const T* x, T* y, T* mask, float p, std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                     std::int64_t n) {
  const float scale = 1.0f / (1.0f - p);  // float, as the CUDA twin and PyTorch compute it
  for (std::int64_t i = 0; i < n; ++i) {
    mask[i] = philox_uniform(seed, stream, first + static_cast<std::uint64_t>(i)) >= p ? T(scale) : T(0);
    y[i] = x[i] * mask[i];
  }
}

template <typename T>
void dropout_backward(const T* dy, const T* mask, T* dx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * mask[i];
}

// The value `sum` (a double) rounded to T, then stored as B: a gradient of T's precision kept in a float arena (T =
// bf16: the gradient of autocast's bf16 copy of a float parameter), or T itself.
template <typename T, typename B>
B rounded_through(double sum) {
  return static_cast<B>(static_cast<compute_t<T>>(T(static_cast<compute_t<T>>(sum))));
}

// sums[c] = the sum over o, i of x[o, c, i] of an (outer, channels, inner) view, in double in ascending (o, i) order
// (bias_backward's order), rounded through T: the bias gradient of the fused backward ops.
template <typename T, typename B>
void channel_sums(const T* x, B* sums, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) sum += static_cast<double>(x[(o * channels + c) * inner + i]);
    sums[c] = rounded_through<T, B>(sum);
  }
}

// One element of the linear layer's epilogue (kernels/elementwise.inc), shared by host and device: T(z + bias), the
// ReLU when `relu` (NaN becomes 0, as relu_forward), then T(that * mask), in T's compute type.
template <typename T>
ROSETTA_HD T bias_relu_dropout_element(compute_t<T> z, compute_t<T> bias, bool relu, compute_t<T> mask) {
  using Compute = compute_t<T>;
  Compute v = static_cast<Compute>(T(z + bias));
  if (relu && !(v > Compute(0))) v = Compute(0);
  return T(v * mask);
}

// One element of the fused backward ops' gradient: T(dy * scale) where the forward's output passed (y > 0 after a
// ReLU; always without one), else 0.
template <typename T>
ROSETTA_HD T relu_dropout_gradient(bool passes, compute_t<T> dy, float scale) {
  using Compute = compute_t<T>;
  return passes ? T(dy * static_cast<Compute>(scale)) : T(Compute(0));
}

// y[o, c, i] = bias_relu_dropout_element(z, bias[c], relu, mask) with mask from `d` under draw index
// (o * channels + c) * inner + i: the linear layer's epilogue.
template <typename Z, typename B, typename T>
void bias_relu_dropout_forward(const Z* z, const B* bias, T* y, bool relu, const DropoutDraw& d, std::int64_t outer,
                               std::int64_t channels, std::int64_t inner) {
  using Compute = compute_t<T>;
  const float scale = dropout_scale(d.p);
  const std::uint64_t stream = d.p > 0.0f ? philox_step_stream(d.use, *d.step) : 0;
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t e = (o * channels + c) * inner + i;
        const float mask = dropout_mask(d, scale, stream, static_cast<std::uint64_t>(e));
        y[e] = bias_relu_dropout_element<T>(static_cast<Compute>(z[e]), static_cast<Compute>(bias[c]), relu,
                                            static_cast<Compute>(mask));
      }
}

// Its gradient from its output y (null: no ReLU): dz = relu_dropout_gradient(y > 0, dy, scale) (dz may be null), and
// dbias = channel_sums of dz.
template <typename T, typename B>
void bias_relu_dropout_backward(const T* y, const T* dy, float scale, T* dz, B* dbias, std::int64_t outer,
                                std::int64_t channels, std::int64_t inner) {
  using Compute = compute_t<T>;
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t e = (o * channels + c) * inner + i;
        const bool passes = y == nullptr || static_cast<Compute>(y[e]) > Compute(0);
        const T g = relu_dropout_gradient<T>(passes, static_cast<Compute>(dy[e]), scale);
        if (dz) dz[e] = g;
        sum += static_cast<double>(static_cast<Compute>(g));
      }
    dbias[c] = rounded_through<T, B>(sum);
  }
}

}  // namespace rosetta::kernels::reference
