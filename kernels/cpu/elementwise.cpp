// CPU twin of the element-wise kernels: conversions here, the ops with a backward through kernels/reference.
#include "kernels/elementwise.h"
#include "kernels/layout.h"

#include "kernels/reference/elementwise.h"

namespace rosetta::kernels::cpu {
namespace {

template <typename From, typename To>
void convert_elements(const From* x, To* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = To(float(x[i]));
}

}  // namespace

void fill(const Context&, float* y, float value, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = value;
}

void copy(const Context&, const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i];
}

void convert(const Context&, const float* x, bf16* y, std::int64_t n) { convert_elements(x, y, n); }
void convert(const Context&, const bf16* x, float* y, std::int64_t n) { convert_elements(x, y, n); }
void convert(const Context&, const float* x, f16* y, std::int64_t n) { convert_elements(x, y, n); }
void convert(const Context&, const f16* x, float* y, std::int64_t n) { convert_elements(x, y, n); }

void bias_add(const Context&, float* y, const float* bias, std::int64_t outer, std::int64_t channels,
              std::int64_t inner) {
  kernels::check_channel_view("bias_add", outer, channels, inner);
  reference::bias_add(y, bias, outer, channels, inner);
}

void bias_backward(const Context&, const float* dy, float* dbias, std::int64_t outer, std::int64_t channels,
                   std::int64_t inner, bool accumulate) {
  kernels::check_channel_view("bias_backward", outer, channels, inner);
  reference::bias_backward(dy, dbias, outer, channels, inner, accumulate);
}

void relu_forward(const Context&, const float* x, float* y, std::int64_t n) { reference::relu_forward(x, y, n); }

void relu_backward(const Context&, const float* y, const float* dy, float* dx, std::int64_t n) {
  reference::relu_backward(y, dy, dx, n);
}

void dropout_forward(const Context&, const float* x, float* y, float* mask, float p, std::uint64_t seed,
                     std::uint32_t use, const std::uint64_t* step, std::uint64_t first, std::int64_t n) {
  reference::dropout_forward(x, y, mask, p, seed, philox_step_stream(use, *step), first, n);
}

void dropout_backward(const Context&, const float* dy, const float* mask, float* dx, std::int64_t n) {
  reference::dropout_backward(dy, mask, dx, n);
}

void bias_relu_dropout_forward(const Context&, const float* z, const float* bias, float* y, bool relu,
                               const DropoutDraw& dropout, std::int64_t outer, std::int64_t channels,
                               std::int64_t inner) {
  kernels::check_channel_view("bias_relu_dropout_forward", outer, channels, inner);
  reference::bias_relu_dropout_forward(z, bias, y, relu, dropout, outer, channels, inner);
}

void bias_relu_dropout_forward(const Context&, const float* z, const bf16* bias, bf16* y, bool relu,
                               const DropoutDraw& dropout, std::int64_t outer, std::int64_t channels,
                               std::int64_t inner) {
  kernels::check_channel_view("bias_relu_dropout_forward", outer, channels, inner);
  reference::bias_relu_dropout_forward(z, bias, y, relu, dropout, outer, channels, inner);
}

void bias_relu_dropout_backward(const Context&, const float* y, const float* dy, float scale, float* dz, float* dbias,
                                std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  kernels::check_channel_view("bias_relu_dropout_backward", outer, channels, inner);
  reference::bias_relu_dropout_backward(y, dy, scale, dz, dbias, outer, channels, inner);
}

void bias_relu_dropout_backward(const Context&, const bf16* y, const bf16* dy, float scale, bf16* dz, float* dbias,
                                std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  kernels::check_channel_view("bias_relu_dropout_backward", outer, channels, inner);
  reference::bias_relu_dropout_backward(y, dy, scale, dz, dbias, outer, channels, inner);
}

void increment_counter(const Context&, std::uint64_t* counter) { ++*counter; }

}  // namespace rosetta::kernels::cpu
