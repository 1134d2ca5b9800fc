// CPU twin of the layout transposes (kernels/layout.inc): plain loops, one copy per element.
#include "kernels/layout.h"

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

template <typename T>
void pack(const float* x, T* y, std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t c_padded) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0 && c_padded >= c,
                "pack_channels_last of (" << n << ", " << c << ", " << hw << ") to " << c_padded << " channels");
  for (std::int64_t image = 0; image < n; ++image)
    for (std::int64_t i = 0; i < hw; ++i)
      for (std::int64_t ch = 0; ch < c_padded; ++ch)
        y[(image * hw + i) * c_padded + ch] = T(ch < c ? x[(image * c + ch) * hw + i] : 0.0f);
}

}  // namespace

void pack_channels_last(const Context&, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                        std::int64_t c_padded) {
  pack(x, y, n, c, hw, c_padded);
}

void pack_channels_last(const Context&, const float* x, bf16* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                        std::int64_t c_padded) {
  pack(x, y, n, c, hw, c_padded);
}

void change_layout(const Context&, const float* x, Layout from, float* y, Layout to, std::int64_t n, std::int64_t c,
                   std::int64_t hw) {
  change(x, from, y, to, n, c, hw);
}

void change_layout(const Context&, const bf16* x, Layout from, bf16* y, Layout to, std::int64_t n, std::int64_t c,
                   std::int64_t hw) {
  change(x, from, y, to, n, c, hw);
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
