// Plain-loop reference of the element-wise ops that have a backward, generic over the scalar type: float is
// what kernels/cpu runs, double is what the gradient checks run. This is the algorithm's definition.
#pragma once
#include <cstdint>

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

}  // namespace rosetta::kernels::reference
