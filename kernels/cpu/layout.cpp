// CPU twin of the layout transposes (kernels/layout.inc): plain loops, one copy (or conversion) per element.
#include "kernels/layout.h"

#include "kernels/reference/layout.h"
#include "runtime/error.h"

namespace rosetta::kernels::cpu {
namespace {

template <typename T>
void change(const T* x, Layout from, T* y, Layout to, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0, "change_layout of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t total = n * c * hw;
  if (from == to) {
    for (std::int64_t i = 0; i < total; ++i) y[i] = x[i];
    return;
  }
  // Offsets of element (image, ch, i) in NCHW and in NHWC.
  const auto nchw = [&](std::int64_t image, std::int64_t ch, std::int64_t i) { return (image * c + ch) * hw + i; };
  const auto nhwc = [&](std::int64_t image, std::int64_t ch, std::int64_t i) { return (image * hw + i) * c + ch; };
  const bool to_nhwc = to == Layout::nhwc;
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < hw; ++i) {
        const std::int64_t src = to_nhwc ? nchw(image, ch, i) : nhwc(image, ch, i);
        const std::int64_t dst = to_nhwc ? nhwc(image, ch, i) : nchw(image, ch, i);
        y[dst] = x[src];
      }
}

template <typename In, typename Out>
void relayout(const In* x, Layout from, std::int64_t x_channels, Out* y, Layout to, std::int64_t y_channels,
              std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0 && x_channels >= c && y_channels >= c,
                "relayout_channels of (" << n << ", " << c << ", " << hw << ") from " << x_channels << " to "
                                         << y_channels << " channels");
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t ch = 0; ch < y_channels; ++ch)
      for (std::int64_t i = 0; i < hw; ++i)
        y[element_offset(to, image, ch, 0, i, y_channels, 1, hw)] =
            ch < c ? Out(float(x[element_offset(from, image, ch, 0, i, x_channels, 1, hw)])) : Out(0.0f);
}

template <typename T>
void stage(const ParameterCopies& copies, const float* arena, T* weights, T* biases) {
  for (int j = 0; j < copies.count; ++j)
    for (std::int64_t w = 0; w < copies.copy[j].working_elements(); ++w)
      reference::stage_element(copies.copy[j], w, arena, weights, biases);
}

template <typename T>
void unstage(const ParameterCopies& copies, const T* weight_grads, const float* bias_grads, float* arena_grads) {
  for (int j = 0; j < copies.count; ++j)
    for (std::int64_t a = 0; a < copies.copy[j].arena_elements(); ++a)
      reference::unstage_element(copies.copy[j], a, weight_grads, bias_grads, arena_grads);
}

}  // namespace

void change_layout(const Context&, const float* x, Layout from, float* y, Layout to, std::int64_t n, std::int64_t c,
                   std::int64_t hw) {
  change(x, from, y, to, n, c, hw);
}

void change_layout(const Context&, const bf16* x, Layout from, bf16* y, Layout to, std::int64_t n, std::int64_t c,
                   std::int64_t hw) {
  change(x, from, y, to, n, c, hw);
}

void relayout_channels(const Context&, const float* x, Layout from, std::int64_t x_channels, float* y, Layout to,
                       std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  relayout(x, from, x_channels, y, to, y_channels, n, c, hw);
}

void relayout_channels(const Context&, const float* x, Layout from, std::int64_t x_channels, bf16* y, Layout to,
                       std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  relayout(x, from, x_channels, y, to, y_channels, n, c, hw);
}

void relayout_channels(const Context&, const bf16* x, Layout from, std::int64_t x_channels, bf16* y, Layout to,
                       std::int64_t y_channels, std::int64_t n, std::int64_t c, std::int64_t hw) {
  relayout(x, from, x_channels, y, to, y_channels, n, c, hw);
}

void stage_parameters(const Context&, const ParameterCopies& copies, const float* arena, float* weights,
                      float* biases) {
  stage(copies, arena, weights, biases);
}

void stage_parameters(const Context&, const ParameterCopies& copies, const float* arena, bf16* weights,
                      bf16* biases) {
  stage(copies, arena, weights, biases);
}

void unstage_gradients(const Context&, const ParameterCopies& copies, const float* weight_grads,
                       const float* bias_grads, float* arena_grads) {
  unstage(copies, weight_grads, bias_grads, arena_grads);
}

void unstage_gradients(const Context&, const ParameterCopies& copies, const bf16* weight_grads,
                       const float* bias_grads, float* arena_grads) {
  unstage(copies, weight_grads, bias_grads, arena_grads);
}

void swap_leading_axes(const Context&, const float* x, float* y, std::int64_t a, std::int64_t b, std::int64_t c) {
  ROSETTA_CHECK(a >= 0 && b >= 0 && c >= 0, "swap_leading_axes of (" << a << ", " << b << ", " << c << ")");
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j) {
      const float* src = x + (i * b + j) * c;
      float* dst = y + (j * a + i) * c;
      for (std::int64_t k = 0; k < c; ++k) dst[k] = src[k];
    }
}

}  // namespace rosetta::kernels::cpu
